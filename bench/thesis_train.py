"""A faithful port of the thesis's training loop (Appendix A, lines 139-200) around the same networks, for the
training-throughput benchmark: per step a discriminator update (fresh latent, G forward, D on real and fake,
three .item() calls) and a generator update (another fresh latent and G forward), data from CosmoDataset."""

import torch
import torch.nn as nn


def thesis_fit(generator, discriminator, loader, steps, latent_size, device="cpu", lr=2e-4):
    loss_fn = nn.BCEWithLogitsLoss()
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    batch_size = loader.batch_size

    def train_discriminator(real_images):
        opt_d.zero_grad()
        real_images = real_images.to(device)
        real_preds = discriminator(real_images)
        real_targets = torch.ones(real_images.size(0), 1, device=device)
        real_loss = loss_fn(real_preds, real_targets)
        real_score = torch.mean(torch.sigmoid(real_preds)).item()
        latent = torch.randn(batch_size, latent_size, device=device)
        fake_images = generator(latent).detach()
        fake_preds = discriminator(fake_images)
        fake_targets = torch.zeros(fake_images.size(0), 1, device=device)
        fake_loss = loss_fn(fake_preds, fake_targets)
        fake_score = torch.mean(torch.sigmoid(fake_preds)).item()
        loss = real_loss + fake_loss
        loss.backward()
        opt_d.step()
        return loss.item(), real_score, fake_score

    def train_generator():
        opt_g.zero_grad()
        latent = torch.randn(batch_size, latent_size, device=device)
        fake_images = generator(latent)
        preds = discriminator(fake_images)
        targets = torch.ones(batch_size, 1, device=device)
        loss = loss_fn(preds, targets)
        loss.backward()
        opt_g.step()
        return loss.item()

    done = 0
    while done < steps:
        for real_images in loader:
            train_discriminator(real_images)
            train_generator()
            done += 1
            if done >= steps:
                break
