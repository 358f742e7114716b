"""The DCGAN of CosmoGAN (Mustafa et al. 2019) as re-implemented in the thesis (Tables 3.1, 3.2, Appendix A).

Full size (npix=256, width=64, layers=4, latent=64):
    G: z(64) → linear → 512×16×16 → BN → ReLU → [5×5 stride-2 transposed conv 512→256→128→64, BN, ReLU] → 1 → tanh
    D: [5×5 stride-2 conv 1→64→128→256→512, LeakyReLU(0.2), BN after the last three] → linear → 1 logit
Map size, layer count, width and latent size are configuration, so the same code builds small CPU variants.
The generator's first BatchNorm normalises per channel after the reshape, as CosmoGAN's TensorFlow code did
(the thesis's PyTorch code used a BatchNorm1d over all 131,072 features).

Conditioned on cosmology (``cfg.params`` non-empty, e.g. (Ωm, σ8)), in the manner of Perraudin et al. 2021
(conditional GANs for mass maps): the parameters, scaled to [-1, 1] over the training range, enter the
generator beside the latent (G's linear layer takes (latent + P)) and scale and shift every BatchNorm's output
per channel (FiLM, Perez et al. 2018: the amplitude of κ, which σ8 sets, is a scale the generator can learn
directly), and the discriminator through a projection
(Miyato & Koyama 2018): its logit gains <embed(θ), mean over pixels of the last conv features>, so D judges how
well a map's statistics match the parameters it is shown with. With no parameters both networks are exactly the
unconditional ones (same layers, same checkpoint keys).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn

from .config import DCGANConfig


class Generator(nn.Module):
    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.width * 2 ** (cfg.layers - 1)
        self.fc = nn.Linear(cfg.latent + len(cfg.params), c * cfg.base**2, bias=False)
        self.bn0 = nn.BatchNorm2d(c)
        blocks = []
        for i in range(cfg.layers):
            last = i == cfg.layers - 1
            out = 1 if last else c // 2
            blocks.append(
                nn.ConvTranspose2d(c, out, cfg.kernel, stride=2, padding=cfg.kernel // 2, output_padding=1, bias=last)
            )
            blocks += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            c = out
        self.net = nn.Sequential(*blocks)
        if cfg.params:  # one FiLM per BatchNorm: a per-channel scale and shift from the parameters
            widths = [self.bn0.num_features] + [m.num_features for m in blocks if isinstance(m, nn.BatchNorm2d)]
            self.film = nn.ModuleList(nn.Linear(len(cfg.params), 2 * w) for w in widths)

    def forward(self, z: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
        """z: (B, latent), theta: (B, P) scaled parameters (conditional models only) → maps (B, 1, npix, npix)
        in [-1, 1] (transformed units)."""
        c = self.cfg.width * 2 ** (self.cfg.layers - 1)
        if not self.cfg.params:
            return self.net(torch.relu(self.bn0(self.fc(z).view(-1, c, self.cfg.base, self.cfg.base))))
        theta = theta.to(z.dtype)
        x = self.bn0(self.fc(torch.cat([z, theta], dim=1)).view(-1, c, self.cfg.base, self.cfg.base))
        films = iter(self.film)
        x = torch.relu(_film(x, next(films)(theta)))
        for m in self.net:
            x = m(x)
            if isinstance(m, nn.BatchNorm2d):
                x = _film(x, next(films)(theta))
        return x


def _film(x: torch.Tensor, gamma_beta: torch.Tensor) -> torch.Tensor:
    """x (B, C, H, W) scaled by 1 + γ and shifted by β, per sample and channel (gamma_beta: (B, 2C))."""
    gamma, beta = gamma_beta.to(x.dtype).chunk(2, dim=1)
    return x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


class Discriminator(nn.Module):
    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        layers, c = [], 1
        for i in range(cfg.layers):
            out = cfg.width * 2**i
            layers.append(nn.Conv2d(c, out, cfg.kernel, stride=2, padding=cfg.kernel // 2, bias=False))
            if i > 0:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c = out
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(c * cfg.base**2, 1)
        self.conditional = bool(cfg.params)
        if self.conditional:
            hidden = 64
            self.embed = nn.Sequential(nn.Linear(len(cfg.params), hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, c))

    def forward(self, x: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, 1, npix, npix), theta: (B, P) scaled parameters (conditional models only) → logits (B, 1)."""
        h = self.net(x)
        logit = self.fc(h.flatten(1))
        if self.conditional:
            logit = logit + (h.mean(dim=(2, 3)) * self.embed(theta.to(h.dtype))).sum(1, keepdim=True)
        return logit


def init_weights(m: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) weights, BN scale N(1, 0.02)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def generate(generator: Generator, z: torch.Tensor, transform: Any, theta: torch.Tensor | None = None) -> torch.Tensor:
    """Maps in κ (B, npix, npix) float32 from latents z (B, latent) (and scaled parameters theta (B, P) for a
    conditional generator): the generator's tanh output, clamped just inside (-1, 1) so that the inverse transform
    stays finite, then mapped back to κ. The one place this is done (sampling, validation and the sample grids)."""
    return transform.inverse(generator(z, theta)[:, 0].float().clamp(-1 + 1e-6, 1 - 1e-6))


def generate_eval(
    generator: Generator, z: torch.Tensor, transform: Any, theta: torch.Tensor | None = None
) -> np.ndarray:
    """``generate`` in eval mode and without gradients, as numpy (B, npix, npix) κ; the generator's mode
    (training or not) is restored afterwards. For validation and the sample grid, in the middle of training."""
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        maps = generate(generator, z, transform, theta).cpu().numpy()
    generator.train(was_training)
    return maps
