"""Built-in metric plugins, registered like any third-party plugin."""

from .. import hookimpl
from .curves import (
    BettiMetric,
    BispectrumMetric,
    MinimaMetric,
    MinkowskiMetric,
    PeaksMetric,
    PowerSpectrumMetric,
    ScatteringMetric,
    StarletMetric,
)
from .joint import JointMetric
from .memorisation import Memorisation
from .parameter_bias import ParameterBias
from .pixel_ks import PixelKS


@hookimpl
def register_metrics(register):
    register(PixelKS)
    register(PowerSpectrumMetric)
    register(MinkowskiMetric)
    register(PeaksMetric)
    register(MinimaMetric)
    register(StarletMetric)
    register(BettiMetric)
    register(BispectrumMetric)
    register(ScatteringMetric)
    register(JointMetric)
    register(Memorisation)
    register(ParameterBias)
