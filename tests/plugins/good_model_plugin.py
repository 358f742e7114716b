"""A test plugin registering a training-free model, as a third party would."""

import numpy as np

from emubench import hookimpl


class ConstantNoise:
    """White noise with the training maps' mean and σ (a deliberately poor emulator)."""

    name = "test-white-noise"

    def __init__(self, mean, sigma, npix):
        self.mean, self.sigma, self.npix = mean, sigma, npix

    @classmethod
    def fit(cls, train, *, seed=0):
        m = train.head(min(64, len(train)))
        return cls(float(m.mean()), float(m.std()), train.npix)

    def sample(self, n, *, seed, device="cpu"):
        rng = np.random.default_rng(seed)
        return (self.mean + self.sigma * rng.standard_normal((n, self.npix, self.npix))).astype(np.float32)


@hookimpl
def register_models(register):
    register(ConstantNoise)
