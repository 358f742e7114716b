"""Built-in training-free baseline emulators, registered like any third-party model plugin."""

from .. import hookimpl
from .grf import GRF
from .lognormal import Lognormal
from .memoriser import Collapsed, Memoriser, MemoriserD4


@hookimpl
def register_models(register):
    register(GRF)
    register(Lognormal)
    register(Memoriser)
    register(MemoriserD4)
    register(Collapsed)
