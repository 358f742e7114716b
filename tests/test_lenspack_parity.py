"""Parity with lenspack 1.0 (starlet transform, peaks and minima as ``find_peaks2d`` finds them, ℓ1-norm from
its coefficients), map by map. Runs under `tox -e lenspack` (lenspack 1.0 calls ``numpy.lib.pad``, which
numpy 2 removed); skipped where lenspack is not installed."""

import numpy as np
import pytest

lenspack = pytest.importorskip("lenspack", reason="lenspack 1.0 is only installed in the tox 'lenspack' environment")

from lenspack.image.transforms import starlet2d  # noqa: E402
from lenspack.peaks import find_peaks2d  # noqa: E402

from emubench.stats import starlet, starlet_statistics  # noqa: E402

EDGES = np.linspace(-4.0, 6.0, 41)


@pytest.fixture(scope="module")
def maps():
    """16 maps of the default dataset's validation split, and (for plateaus and ties) the same κ rounded."""
    from emubench.data import open_dataset, split

    val = split(open_dataset("lognormal-lcdm-64"), 0)["val"]
    m = np.asarray(val.get(slice(0, 16)), dtype=np.float64)
    return {"lognormal": m, "quantised": np.round(m / 0.004) * 0.004}


@pytest.mark.parametrize("kind", ["lognormal", "quantised"])
def test_starlet_transform_equals_lenspack(maps, kind):
    """Bit for bit (the same sums in the same order): ties between neighbouring pixels then break alike."""
    ours = starlet(maps[kind], 4)
    theirs = np.stack([starlet2d(m, 4) for m in maps[kind]])
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("kind", ["lognormal", "quantised"])
def test_peaks_minima_and_l1_norm_equal_lenspack(maps, kind):
    m = maps[kind]
    planes = np.stack([starlet2d(x, 4) for x in m])
    sigma = planes[:, :4].std(axis=(0, 2, 3))
    _, ours = starlet_statistics(m, 4, EDGES, sigma)
    for i in range(len(m)):
        for j in range(4):
            snr = planes[i, j] / sigma[j]
            peaks = np.histogram(find_peaks2d(snr)[2], EDGES)[0]
            minima = np.histogram(-find_peaks2d(-snr)[2], EDGES)[0]
            l1 = np.histogram(snr.ravel(), EDGES, weights=np.abs(snr.ravel()))[0]
            np.testing.assert_array_equal(ours["peaks"][i, j], peaks)
            np.testing.assert_array_equal(ours["minima"][i, j], minima)
            np.testing.assert_allclose(ours["l1"][i, j], l1, rtol=1e-6, atol=1e-9)
    assert ours["peaks"].sum() > 1000 and ours["minima"].sum() > 1000  # the comparison saw many of each
