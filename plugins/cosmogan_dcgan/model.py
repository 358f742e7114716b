"""The DCGAN of CosmoGAN (Mustafa et al. 2019) as re-implemented in the thesis (Tables 3.1, 3.2, Appendix A).

Full size (npix=256, width=64, layers=4, latent=64):
    G: z(64) → linear → 512×16×16 → BN → ReLU → [5×5 stride-2 transposed conv 512→256→128→64, BN, ReLU] → 1 → tanh
    D: [5×5 stride-2 conv 1→64→128→256→512, LeakyReLU(0.2), BN after the last three] → linear → 1 logit
Map size, layer count, width and latent size are configuration, so the same code builds small CPU variants.
The generator's first BatchNorm normalises per channel after the reshape, as CosmoGAN's TensorFlow code did
(the thesis's PyTorch code used a BatchNorm1d over all 131,072 features).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from emubench.checkpoint import load_checkpoint
from emubench.data.transforms import get_transform
from emubench.errors import EmubenchError


@dataclass
class DCGANConfig:
    npix: int = 256      # map side in pixels (must be divisible by 2**layers)
    latent: int = 64     # latent size (Table 3.2, CosmoGAN; the thesis's code used 100)
    width: int = 64      # channels of D's first / G's last hidden layer; doubles per layer
    layers: int = 4      # stride-2 (transposed) convolutions
    kernel: int = 5

    def __post_init__(self):
        if self.npix % (2**self.layers) or self.npix // 2**self.layers < 1:
            raise EmubenchError(f"npix={self.npix} is not divisible by 2**layers={2**self.layers}")
        if min(self.latent, self.width, self.layers) < 1:
            raise EmubenchError(f"invalid DCGAN config {asdict(self)}")

    @property
    def base(self) -> int:
        return self.npix // 2**self.layers


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
            blocks.append(nn.ConvTranspose2d(c, out, cfg.kernel, stride=2, padding=cfg.kernel // 2, output_padding=1, bias=last))
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


class CosmoGANDCGAN:
    """CosmoGAN's DCGAN (thesis re-implementation): trained with `emubench train cosmogan-dcgan`."""

    name = "cosmogan-dcgan"
    description = "DCGAN of CosmoGAN / the thesis (5×5 stride-2 convs, tanh output in CosmoGAN's transformed units)"

    def __init__(self, generator: Generator, transform: Any, device: str = "cpu"):
        self.generator = generator.to(device).eval()
        self.transform = transform
        self.device = device

    @classmethod
    def from_run(cls, run_dir: str | Path, manifest: dict, *, checkpoint: str | None = None, device: str = "cpu"):
        """Rebuild the generator from a run folder: config from the manifest, weights from a verified checkpoint."""
        cfg = DCGANConfig(**manifest["model_config"])
        state = load_checkpoint(run_dir, manifest, checkpoint or manifest.get("best") or manifest.get("latest"))
        gen = Generator(cfg)
        try:
            gen.load_state_dict(state["generator"])
        except (RuntimeError, KeyError) as exc:
            raise EmubenchError(f"{run_dir}: checkpoint does not match the manifest's model config ({str(exc).splitlines()[0]})") from None
        t = manifest["transform"]
        return cls(gen, get_transform(t["name"], **t.get("params", {})), device)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int, device: str | None = None, batch: int = 256) -> np.ndarray:
        """n maps (n, npix, npix) float32 in κ (the transform is inverted here)."""
        device = device or self.device
        self.generator.to(device)
        gen = torch.Generator(device=device).manual_seed(seed)
        out = []
        for s in range(0, n, batch):
            z = torch.randn(min(batch, n - s), self.generator.cfg.latent, generator=gen, device=device)
            s_maps = self.generator(z)[:, 0].float().clamp(-1 + 1e-6, 1 - 1e-6)
            out.append(self.transform.inverse(s_maps).cpu().numpy())
        return np.concatenate(out).astype(np.float32)
