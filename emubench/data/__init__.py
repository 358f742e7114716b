"""Datasets (embedded lognormal ΛCDM maps, CosmoGAN .npy, FITS), splits, pixel transforms, augmentation."""

from .base import MapSet, split, split_indices

__all__ = ["MapSet", "split", "split_indices", "open_dataset"]


def open_dataset(name: str | None = None, data=None, side_deg: float | None = None, **options) -> MapSet:
    """Load a registered dataset by name, or files given as ``data`` (CosmoGAN .npy, or FITS by suffix).

    With neither, the embedded default ``lognormal-lcdm`` is used.
    """
    from ..registry import get

    if data is not None:
        first = str(data[0] if isinstance(data, (list, tuple)) else data).lower()
        name = name or ("fits" if first.endswith((".fits", ".fit")) else "cosmogan-npy")
        options["path"] = data
    if side_deg is not None:
        options["side_deg"] = side_deg
    cls = get("datasets", name or "lognormal-lcdm")
    try:
        dataset = cls(**options)
    except TypeError as exc:
        from ..errors import EmubenchError

        raise EmubenchError(f"dataset {cls.name!r}: bad options ({exc})") from None
    return dataset.load()
