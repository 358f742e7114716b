"""The DCGAN of CosmoGAN (Mustafa et al. 2019) as re-implemented in the thesis (Tables 3.1, 3.2, Appendix A).

Full size (npix=256, width=64, layers=4, latent=64):
    G: z(64) → linear → 512×16×16 → BN → ReLU → [5×5 stride-2 transposed conv 512→256→128→64, BN, ReLU] → 1 → tanh
    D: [5×5 stride-2 conv 1→64→128→256→512, LeakyReLU(0.2), BN after the last three] → linear → 1 logit
Map size, layer count, width and latent size are configuration, so the same code builds small CPU variants.
The generator's first BatchNorm normalises per channel after the reshape, as CosmoGAN's TensorFlow code did
(the thesis's PyTorch code used a BatchNorm1d over all 131,072 features).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from .config import DCGANConfig


class Generator(nn.Module):
    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.width * 2 ** (cfg.layers - 1)
        self.fc = nn.Linear(cfg.latent, c * cfg.base**2, bias=False)
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

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, latent) → maps (B, 1, npix, npix) in [-1, 1] (transformed units)."""
        c = self.cfg.width * 2 ** (self.cfg.layers - 1)
        x = self.fc(z).view(-1, c, self.cfg.base, self.cfg.base)
        return self.net(torch.relu(self.bn0(x)))


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
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.fc = nn.Linear(c * cfg.base**2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, npix, npix) → logits (B, 1)."""
        return self.fc(self.net(x))


def init_weights(m: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) weights, BN scale N(1, 0.02)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def generate(generator: Generator, z: torch.Tensor, transform: Any) -> torch.Tensor:
    """Maps in κ (B, npix, npix) float32 from latents z (B, latent): the generator's tanh output, clamped just
    inside (-1, 1) so that the inverse transform stays finite, then mapped back to κ. The one place this is done
    (sampling, validation and the sample grids all call it)."""
    return transform.inverse(generator(z)[:, 0].float().clamp(-1 + 1e-6, 1 - 1e-6))
