"""Two-sample Kolmogorov–Smirnov test on pixel values (not on histograms), as in the thesis and CosmoGAN."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import stats as sps

from ..stats import pdf
from ..stats._backend import to_tensor
from .base import Context, attach_floor, row

PDF_NU = np.linspace(-3.0, 8.0, 45)


class PermutationKS:
    """Exact KS statistics between two groups of a pooled set of maps, each draw in O(pixels), on any device.

    The pooled pixels are sorted once; a draw only relabels which maps belong to which group, so the two
    empirical CDFs are cumulative sums along the same sorted order. The generated-vs-reference D is one
    such draw, which is what lets the whole test run on a GPU (scipy's ``ks_2samp`` sorts on the CPU).
    """

    def __init__(self, maps: Any, device: str = "cpu"):
        t = to_tensor(maps)
        n_maps, per_map = t.shape[0], int(np.prod(t.shape[1:]))
        sorted_vals, order = torch.sort(t.to(device, torch.float32).reshape(-1), stable=True)
        self.map_of = (order // per_map).to(torch.int32)
        del order
        # Evaluate the CDFs only after the last of tied values.
        change = torch.ones_like(sorted_vals, dtype=torch.bool)
        change[:-1] = sorted_vals[1:] != sorted_vals[:-1]
        del sorted_vals
        self.last = torch.nonzero(change).squeeze(1)
        self.n_maps, self.per_map, self.device = n_maps, per_map, device
        # int32 counts while they cannot overflow: half the memory traffic of the per-draw cumulative sum
        self.count_dtype = torch.int32 if n_maps * per_map < 2**31 else torch.int64
        self._rank: tuple[int, torch.Tensor] | None = None

    def statistic(self, in_a: Any) -> float:
        """KS D between the maps with ``in_a`` (bool, (n_maps,)) True and the rest."""
        in_a = to_tensor(in_a).to(self.device, torch.bool)
        na, nb = int(in_a.sum()) * self.per_map, int((~in_a).sum()) * self.per_map
        if self._rank is None or self._rank[0] != nb:  # the same for every draw of a floor: computed once
            self._rank = (nb, (self.last + 1).to(torch.float64) / nb)
        # pixels of group a up to each evaluation point
        ca = torch.cumsum(in_a.to(self.count_dtype).index_select(0, self.map_of), 0, dtype=self.count_dtype)[self.last]
        # F_a − F_b = ca/na − (rank − ca)/nb, in float64
        lo, hi = torch.aminmax(ca.to(torch.float64).mul_(1 / na + 1 / nb).sub_(self._rank[1]))
        return max(-float(lo), float(hi))


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided asymptotic p-value of a two-sample KS statistic, as scipy's ``ks_2samp(method='asymp')``."""
    en = n1 * n2 / (n1 + n2)
    return float(np.clip(sps.kstwo.sf(d, np.round(en)), 0, 1))


class PixelKS:
    """Two-sample KS test on all pixel values, with a real-vs-real floor from exact re-splits."""

    name = "pixel-ks"
    description = "two-sample KS test on pixel values (statistic D and p-value) against the real-vs-real floor"

    def evaluate(self, generated, reference, heldout, ctx: Context) -> list[dict]:
        g = np.asarray(generated, dtype=np.float32)
        r = np.asarray(reference, dtype=np.float32)
        h = np.asarray(heldout, dtype=np.float32)
        ours = PermutationKS(np.concatenate([g, r]), ctx.device)
        d = ours.statistic(np.arange(len(g) + len(r)) < len(g))
        del ours  # the pooled sort is the largest allocation of a score: one at a time
        rows = [row("D", np.nan, d, 0.0, True, "distribution")]
        perm = PermutationKS(np.concatenate([r, h]), ctx.device)
        rng = np.random.default_rng(ctx.seed)
        draws = []
        for _ in range(ctx.floor_draws):
            in_a = np.zeros(perm.n_maps, dtype=bool)
            in_a[rng.permutation(perm.n_maps)[: len(r)]] = True
            draws.append([row("D", np.nan, perm.statistic(in_a), 0.0, True, "distribution")])
        del perm
        rows = attach_floor(rows, draws)
        # The p-value treats pixels as independent, which they are not; reported for comparison with the
        # literature (thesis, CosmoGAN), never flagged: the floor above is the honest yardstick.
        pvalue = ks_pvalue(d, g.size, r.size)
        rows.append({**row("p-value", np.nan, pvalue, 1.0, False, "distribution"), "floor": np.nan, "flagged": False})
        for label, maps in (("generated", g), ("reference", r), ("heldout", h)):
            nu, dens = pdf(torch.from_numpy(maps).to(ctx.device), PDF_NU * ctx.sigma_ref)
            dens = dens.cpu().numpy()
            for xi, m, s in zip(nu / ctx.sigma_ref, dens.mean(0), dens.std(0, ddof=1)):
                ctx.curves.append({"metric": self.name, "statistic": "pdf", "x": float(xi), "set": label,
                                   "mean": float(m), "std": float(s)})
        return rows
