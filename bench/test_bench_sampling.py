"""Sampling throughput of every registered model on CPU (once in the default suite, for real under tox -e bench)."""

import pytest

from emubench.data import open_dataset, split
from emubench.registry import get_registry

# training-free models that fit on one cosmology (those that need several, e.g. sigma8-biased, are timed by
# tests/test_cosmology.py's scores)
MODELS = [
    e.name for e in get_registry("models") if hasattr(e.obj, "fit") and not getattr(e.obj, "needs_parameters", False)
]


@pytest.fixture(scope="module")
def train():
    return split(open_dataset("lognormal-lcdm-64", n_maps=600), 0)["train"]


@pytest.mark.parametrize("name", MODELS)
def test_sampling_throughput(benchmark, train, name):
    model = get_registry("models").get(name).obj.fit(train, seed=0)
    maps = benchmark(model.sample, 64, seed=0)
    assert maps.shape == (64, 64, 64)


def test_dcgan_sampling_throughput(benchmark):
    import numpy as np

    from cosmogan_dcgan.config import DCGANConfig
    from cosmogan_dcgan.model import CosmoGANDCGAN
    from cosmogan_dcgan.networks import Generator
    from emubench.data.transforms import get_transform

    model = CosmoGANDCGAN(Generator(DCGANConfig(npix=64, width=32)), get_transform("cosmogan", a=0.03, shift=0.04))
    maps = benchmark(model.sample, 64, seed=0)
    assert maps.shape == (64, 64, 64) and np.isfinite(maps).all()
