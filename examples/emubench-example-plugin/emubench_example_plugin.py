"""An example third-party emubench model plugin: Gaussian random fields, smoothed with a Gaussian beam.

Its flaw is deliberate and visible: the beam removes small-scale power, so the power spectrum is flagged at
high ℓ (and the Gaussianity everywhere the non-Gaussian statistics look).
"""

import numpy as np

from emubench import hookimpl


class SmoothedGRF:
    """Gaussian random fields with the training maps' power spectrum, smoothed by a 1-pixel Gaussian beam."""

    name = "smoothed-grf"
    description = "Gaussian random fields with the training spectrum, smoothed by a 1-pixel beam (an example plugin)"

    def __init__(self, amplitude: np.ndarray, mean: float):
        self.amplitude, self.mean = amplitude, mean

    @classmethod
    def fit(cls, train, *, seed: int = 0) -> "SmoothedGRF":
        """train: an emubench MapSet; ``train.head(n)`` gives (n, H, W) float32 κ maps."""
        maps = train.head(min(len(train), 512)).astype(np.float64)
        mean = float(maps.mean())
        power = (np.abs(np.fft.fft2(maps - mean)) ** 2).mean(0)
        k = np.fft.fftfreq(train.npix)
        beam = np.exp(-0.5 * (2 * np.pi) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2))  # σ = 1 pixel
        return cls(np.sqrt(power) * beam, mean)

    def sample(self, n: int, *, seed: int, device: str = "cpu") -> np.ndarray:
        """n maps (n, H, W) float32 in κ."""
        rng = np.random.default_rng(seed)
        h = self.amplitude.shape[0]
        noise = np.fft.fft2(rng.standard_normal((n, h, h)))
        return (np.fft.ifft2(noise * self.amplitude / h).real + self.mean).astype(np.float32)


@hookimpl
def register_models(register):
    register(SmoothedGRF)
