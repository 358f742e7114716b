"""Built-in training-free baseline emulators, registered like any third-party model plugin."""

from .. import hookimpl
from .flawed import NearestCosmology, Sigma8Biased
from .grf import GRF
from .lognormal import Lognormal, LognormalCrops
from .memoriser import Collapsed, Memoriser, MemoriserD4, MemoriserShifted


@hookimpl
def register_models(register):
    register(GRF)
    register(Lognormal)
    register(LognormalCrops)
    register(Memoriser)
    register(MemoriserD4)
    register(MemoriserShifted)
    register(Collapsed)
    register(NearestCosmology)
    register(Sigma8Biased)
