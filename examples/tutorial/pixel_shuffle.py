"""Tutorial, step 2: a training-free model (docs/tutorial.md).

Maps whose pixels are drawn independently from the training maps' pixels: the right one-point distribution
and nothing else. The tutorial's metric, which looks at pixels one at a time, cannot tell; the power
spectrum can."""

import numpy as np

from emubench import hookimpl


class PixelShuffle:
    name = "pixel-shuffle"
    description = "pixels drawn independently from the training maps' pixels (the tutorial's model)"

    def __init__(self, pixels: np.ndarray, npix: int):
        self.pixels, self.npix = pixels, npix
        self.n_parameters = len(pixels)  # optional: the model's size, shown beside its scores

    @classmethod
    def fit(cls, train, *, seed=0):
        """train: the training split (a MapSet); 256 of its maps give the pixel distribution."""
        maps = train.get(np.arange(min(256, len(train))))
        return cls(maps.ravel(), train.npix)

    def sample(self, n, *, seed, device="cpu"):
        """(n, npix, npix) float32 κ, deterministic in seed."""
        rng = np.random.default_rng([seed, 0x7368])  # a stream of its own, not the dataset's
        return rng.choice(self.pixels, (n, self.npix, self.npix)).astype(np.float32)


@hookimpl
def register_models(register):
    register(PixelShuffle)
