"""Built-in dataset plugins, registered like any third-party plugin."""

from .. import hookimpl
from .cosmology import LognormalCosmoDataset, LognormalCosmoDataset64
from .files import FitsDataset, NpyDataset
from .lognormal import LognormalDataset, LognormalDataset64


@hookimpl
def register_datasets(register):
    register(LognormalDataset)
    register(LognormalDataset64)
    register(NpyDataset)
    register(FitsDataset)
    register(LognormalCosmoDataset)
    register(LognormalCosmoDataset64)
