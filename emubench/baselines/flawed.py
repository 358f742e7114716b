"""Two baselines across cosmologies with known flaws, on the per-cosmology fits of ``lognormal-crops``:

- ``nearest-cosmology``: the fit of the nearest training cosmology, not interpolated (right at training
  cosmologies, wrong between them: the held-out cosmologies are where it must be caught);
- ``sigma8-biased``: the interpolated fit at σ8 2% higher than asked (its maps bias σ8 by +2% everywhere).
"""

from __future__ import annotations

from ..data import MapSet
from ..errors import EmubenchError
from .conditional import ConditionalFit
from .lognormal import LognormalCrops


class NearestCosmology(ConditionalFit):
    """The lognormal-crops fit of the nearest training cosmology (a known flaw: no interpolation)."""

    name = "nearest-cosmology"
    needs_parameters = True  # fitted only on maps at several cosmologies
    description = "lognormal-crops fit of the nearest training cosmology, not interpolated (wrong between them)"

    @classmethod
    def fit(cls, train: MapSet, *, seed: int = 0) -> NearestCosmology:
        _needs_params(cls.name, train)
        return cls(LognormalCrops, train, seed=seed, name=cls.name, mode="nearest")


class Sigma8Biased(ConditionalFit):
    """The interpolated lognormal-crops fit at σ8 2% higher than asked (a known flaw: biases σ8 by +2%)."""

    name = "sigma8-biased"
    needs_parameters = True
    description = "interpolated lognormal-crops fit at σ8 × 1.02 (biases σ8 by +2% at every cosmology)"

    @classmethod
    def fit(cls, train: MapSet, *, seed: int = 0) -> Sigma8Biased:
        _needs_params(cls.name, train)
        if "sigma8" not in train.param_names:
            raise EmubenchError(f"model {cls.name!r}: the dataset's maps have no sigma8 parameter")
        return cls(LognormalCrops, train, seed=seed, name=cls.name, shift={"sigma8": 1.02})


def _needs_params(name: str, train: MapSet) -> None:
    if train.params is None:
        raise EmubenchError(
            f"model {name!r} needs maps at several cosmologies (e.g. --dataset lognormal-cosmo-64), "
            f"but {train.name} has one"
        )
