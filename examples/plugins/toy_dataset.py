"""An example dataset plugin: Gaussian random κ fields with a power-law spectrum, made on the spot."""

import numpy as np

from emubench import EmubenchError, MapSet, hookimpl


class ToyGRF:
    """Gaussian random fields with C_ℓ ∝ ℓ^slope, generated from a seed (no download, no cache)."""

    name = "toy-grf"
    description = "Gaussian random κ fields with a power-law spectrum, made on the spot (an example dataset)"

    def __init__(self, n_maps=400, npix=32, side_deg=1.0, slope=-2.0, sigma=0.02, seed=0):
        if int(n_maps) < 3 or int(npix) < 8 or float(side_deg) <= 0:
            raise EmubenchError(f"dataset toy-grf: invalid options n_maps={n_maps}, npix={npix}, side_deg={side_deg}")
        self.n_maps, self.npix, self.side_deg = int(n_maps), int(npix), float(side_deg)
        self.slope, self.sigma, self.seed = float(slope), float(sigma), int(seed)

    def generate(self, n: int, seed: int) -> np.ndarray:
        """n maps (n, npix, npix) float32 κ with standard deviation ``sigma``."""
        k = np.hypot(*np.meshgrid(np.fft.fftfreq(self.npix), np.fft.fftfreq(self.npix)))
        amplitude = np.where(k > 0, np.maximum(k, 1e-12) ** (self.slope / 2), 0.0)  # no power in the mean
        noise = np.fft.fft2(np.random.default_rng(seed).standard_normal((n, self.npix, self.npix)))
        maps = np.fft.ifft2(noise * amplitude).real
        return (self.sigma * maps / maps.std()).astype(np.float32)

    def load(self) -> MapSet:
        # fresh: new maps of the same distribution in no split, so scores use a fresh null (seeds >= 2**32)
        return MapSet(
            self.generate(self.n_maps, self.seed),
            self.side_deg,
            self.name,
            meta={"dataset": self.name, "options": {"n_maps": self.n_maps, "npix": self.npix, "seed": self.seed}},
            fresh=lambda n, seed: self.generate(n, 2**32 + seed),
        )


@hookimpl
def register_datasets(register):
    register(ToyGRF)
