"""Exact Euclidean nearest neighbours between stacks of maps, fast.

Coarse to fine, and still exact:

1. Screen: all distances in the matrix-product form |q − r|² = |q|² + |r|² − 2 q·r, with q·r computed by one
   low-precision matrix product per chunk of queries (bfloat16 where the hardware multiplies it fast: any CUDA
   GPU, or a CPU with AMX tiles; float32 elsewhere). The norms are float64.
2. Bound: the product's error is bounded a priori (below), so every reference whose distance *could* be the
   smallest is kept as a candidate; on lognormal 256² maps that is ~10 of 10,240 references per query.
3. Resolve: the candidates are re-measured in float64 from the maps themselves, so the answer equals a float64
   brute force, ties included (the lower index wins).

Why no spatial pruning: a lower bound from k×k block means (k·|pool(q) − pool(r)| ≤ |q − r|) is exact, but for
κ maps most variance sits at small scales, so it prunes almost nothing: on 64² lognormal maps it was 300×
slower than the float32 pass (measured when this module was written).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._backend import fast_bf16, to_tensor
from .symmetries import symmetry

# Unit roundoff of each screening dtype (half the spacing of numbers near 1).
_UNIT = {torch.bfloat16: 2.0**-8, torch.float32: 2.0**-24, torch.float64: 2.0**-53}
BLOCK = 16384  # pixels per partial product: bounds the float32 accumulation error (and costs ~5% speed)


def screen_dtype(device: str | torch.device) -> torch.dtype:
    """bfloat16 where matrix products in it are fast (CUDA, or AMX on the CPU), float32 elsewhere."""
    return torch.bfloat16 if fast_bf16(device) else torch.float32


def _flat(x: Any, device) -> torch.Tensor:
    """(N, H, W) numpy or torch → (N, H·W) tensor on ``device``, float32 unless given float64 (kept exact)."""
    t = to_tensor(x)
    dtype = torch.float64 if t.dtype == torch.float64 else torch.float32
    return t.to(device=device, dtype=dtype).reshape(t.shape[0], -1)


def _norms(x: torch.Tensor, max_elems: int = 1 << 18) -> torch.Tensor:
    """float64 Euclidean norm of each row, a few rows at a time: 2 MB float64 temporaries (at 32 rows of 256²
    they were 16 MB, fresh memory maps whose page faults made a first NeighbourIndex 5-7 s instead of 0.8 s)."""
    step = max(1, max_elems // max(1, x.shape[1]))
    return torch.cat([x[s : s + step].double().norm(dim=1) for s in range(0, len(x), step)])


def brute_force(queries: Any, refs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Plain numpy float64 reference: (distance (Q,), index (Q,)) of each query's nearest reference."""
    q = np.asarray(queries, dtype=np.float64).reshape(len(queries), -1)
    r = np.asarray(refs, dtype=np.float64).reshape(len(refs), -1)
    d2 = (q**2).sum(1)[:, None] + (r**2).sum(1)[None, :] - 2 * q @ r.T
    idx = d2.argmin(1)
    return np.sqrt(((q - r[idx]) ** 2).sum(1)), idx


def _resolve(
    q: torch.Tensor, r: torch.Tensor, mask: torch.Tensor, max_elems: int = 1 << 20
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact float64 nearest among the (query, reference) pairs in ``mask``; ties go to the lower index.

    Small blocks on purpose (8 MB of float64 temporaries): large temporaries are fresh memory maps on every call,
    and their page faults cost more than the arithmetic (5× here)."""
    qi, ri = mask.nonzero(as_tuple=True)
    d = torch.empty(len(qi), dtype=torch.float64, device=q.device)
    step = max(1, max_elems // q.shape[1])
    for s in range(0, len(qi), step):
        a, b = qi[s : s + step], ri[s : s + step]
        d[s : s + step] = ((q[a].double() - r[b].double()) ** 2).sum(1)
    best = torch.full((len(q),), float("inf"), dtype=torch.float64, device=q.device).scatter_reduce(0, qi, d, "amin")
    hit = d == best[qi]
    idx = torch.full((len(q),), r.shape[0], dtype=torch.long, device=q.device)
    idx = idx.scatter_reduce(0, qi[hit], ri[hit], "amin")
    return best.sqrt(), idx


class NeighbourIndex:
    """Reference maps prepared once (screening copy, float64 norms) for any number of exact queries.

    refs: (R, H, W), numpy or torch, float32 or float64 (float64 stays float64 in the exact pass).
    """

    def __init__(self, refs: Any, *, device: str | torch.device | None = None, dtype: torch.dtype | None = None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.refs = _flat(refs, self.device)
        self.dtype = dtype or screen_dtype(self.device)
        self.screen = self.refs.to(self.dtype)
        self.norm = _norms(self.refs)
        # Error bound on the screened q·r. A priori, relative to |q||r| (Cauchy–Schwarz bounds Σ|q_i r_i| by
        # |q||r|): rounding both inputs to the screening dtype (2u + u², zero when the maps already are in it)
        # and summing BLOCK products in float32 (worst case BLOCK·u32; blocks are then summed in float64).
        # A posteriori, per block: the product is rounded back to the screening dtype, off by ≤ u/(1−u)·|result|.
        u = _UNIT[self.dtype] if self.dtype != self.refs.dtype else 0.0
        acc = _UNIT[torch.float64 if self.dtype == torch.float64 else torch.float32]
        self.block = min(BLOCK, self.refs.shape[1])
        self.rel_in = 1.01 * (
            (2 * u + u * u) + self.block * acc * (1 + u) ** 2 + self.refs.shape[1] * _UNIT[torch.float64]
        )
        self.rel_out = 1.01 * _UNIT[self.dtype] / (1 - _UNIT[self.dtype])

    def _screen(self, q: torch.Tensor, qn: torch.Tensor) -> torch.Tensor:
        """Candidate mask (Q, R): every reference that may be the nearest, given the error bounds."""
        qs = q.to(self.dtype)
        dot = torch.zeros(len(q), len(self.refs), dtype=torch.float64, device=q.device)
        out_err = torch.zeros_like(dot)
        for k in range(0, q.shape[1], self.block):
            part = (qs[:, k : k + self.block] @ self.screen[:, k : k + self.block].T).double()
            dot += part
            out_err += part.abs()
        d2 = qn[:, None] ** 2 + self.norm[None, :] ** 2 - 2.0 * dot
        tol = 2.0 * (self.rel_in * qn[:, None] * self.norm[None, :] + self.rel_out * out_err)
        tol += (
            4 * _UNIT[torch.float64] * (qn[:, None] ** 2 + self.norm[None, :] ** 2 + 2 * dot.abs())
        )  # d2's own rounding
        # keep every reference whose lowest possible distance is below the best one's highest possible
        return d2 - tol <= (d2 + tol).min(1, keepdim=True).values

    def query(self, queries: Any, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(distance (Q,) in κ units, index (Q,)) of each query map's nearest reference; queries (Q, H, W)."""
        best_d = np.empty(len(queries))
        best_i = np.empty(len(queries), dtype=np.int64)
        for start in range(0, len(queries), chunk):
            q = _flat(queries[start : start + chunk], self.device)
            if q.shape[1] != self.refs.shape[1]:
                raise ValueError(f"query maps have {q.shape[1]} pixels, reference maps {self.refs.shape[1]}")
            d, idx = _resolve(q, self.refs, self._screen(q, _norms(q)))
            best_d[start : start + len(q)] = d.cpu().numpy()
            best_i[start : start + len(q)] = idx.cpu().numpy()
        return best_d, best_i


def nearest_neighbours(
    queries: Any,
    refs: Any,
    *,
    device: str | torch.device | None = None,
    chunk: int = 256,
    dtype: torch.dtype | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest reference of every query map.

    queries: (Q, H, W); refs: (R, H, W), numpy or torch. Returns (distance (Q,) in κ units, index (Q,));
    ties go to the lower reference index. ``dtype`` forces the screening dtype (default: ``screen_dtype``).
    """
    return NeighbourIndex(refs, device=device, dtype=dtype).query(queries, chunk=chunk)


# -- nearest neighbours up to translations and the symmetries of the square ---------------------------------


def fingerprint(maps: torch.Tensor, kmax: int) -> torch.Tensor:
    """|rfft2| of each mean-subtracted map at 0 < |k| ≤ kmax (in grid units), (N, F) float32.

    Unchanged by any cyclic shift of a map, and nearly so for a crop at an offset that shares most pixels;
    a rotation or flip permutes it. So it finds the source of a translated copy among thousands of maps."""
    n = maps.shape[-1]
    f = torch.fft.rfft2(maps.float() - maps.float().mean((-2, -1), keepdim=True)).abs()
    ky = torch.fft.fftfreq(n, device=maps.device) * n
    kx = torch.arange(n // 2 + 1, device=maps.device, dtype=ky.dtype)
    k2 = ky[:, None] ** 2 + kx[None, :] ** 2
    return f[:, (k2 > 0) & (k2 <= kmax**2)]


class ShiftNeighbourIndex:
    """Nearest reference map up to translations (every cyclic shift, and every offset keeping ``min_overlap`` of
    the pixels in common) and the 8 symmetries of the square.

    Distance between a query q and a reference r: the smallest RMS difference over the pixels they share, in κ,
    min over symmetries σ of the query and over (a) cyclic shifts s, sqrt(mean over all pixels of
    (σq(x) − r(x − s mod n))²), and (b) offsets s of the unwrapped maps, sqrt(mean over the overlap of
    (σq(x) − r(x − s))²). Offset 0 and symmetry 0 give the plain Euclidean distance / n. A training map shifted
    cyclically, cut at an offset, rotated or flipped is at distance ~0 (plus any added noise).

    Search: a fingerprint that ignores translations (``fingerprint``) ranks all (reference, symmetry) pairs;
    the ``candidates`` best pairs per query are then measured exactly over every offset at once by FFT
    cross-correlation of the zero-padded maps (three correlations folded into one inverse transform). The
    distance is exact for those candidates, so it is an upper bound of the distance to the nearest of all
    references, equal to it whenever the fingerprint ranks the nearest reference among the candidates (for
    translated copies, with or without noise, it ranked the source first in every test).
    """

    def __init__(
        self,
        refs: Any,
        *,
        candidates: int = 4,
        min_overlap: float = 0.5,
        kmax: int = 16,
        device: str | torch.device | None = None,
    ):
        self.device = torch.device(device or "cpu")
        self.refs = to_tensor(refs).to(self.device, torch.float32)
        self.n = self.refs.shape[-1]
        self.candidates, self.kmax = min(candidates, 8 * len(self.refs)), kmax
        self.fp = torch.cat([fingerprint(self.refs[s : s + 1024], kmax) for s in range(0, len(self.refs), 1024)])
        p = 2 * self.n  # zero padding: offsets up to ±(n − 1) without wrap-around
        self.pad = p
        ones = torch.ones(1, self.n, self.n, device=self.device)
        self.mask_ft = torch.fft.rfft2(ones, s=(p, p))[0]
        count = torch.fft.irfft2(self.mask_ft * self.mask_ft.conj(), s=(p, p))
        self.count = count.clamp(min=1.0)
        self.valid = count >= min_overlap * self.n**2 - 0.5

    def _candidates(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(reference index, symmetry) of the ``candidates`` best fingerprint matches, each (Q, K)."""
        d = torch.stack([torch.cdist(fingerprint(symmetry(q, k), self.kmax), self.fp) for k in range(8)], 1)
        best = d.reshape(len(q), -1).topk(self.candidates, largest=False).indices  # over (symmetry, reference)
        return best % len(self.refs), best // len(self.refs)

    def _query_transforms(self, qs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """What ``_exact`` needs of query maps qs (Q, n, n): Σq², the n×n transform, and the (2n)² transforms of q
        and q² (computed once per (query, symmetry), however many candidates share it)."""
        p = self.pad
        return (
            (qs * qs).sum((-2, -1)),
            torch.fft.rfft2(qs),
            torch.fft.rfft2(qs, s=(p, p)),
            torch.fft.rfft2(qs * qs, s=(p, p)),
        )

    def _exact(self, qt: tuple[torch.Tensor, ...], r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Smallest RMS difference of pairs (query i, r[i]) (the query given by its ``_query_transforms`` qt) over
        every cyclic shift and every offset of the zero-padded maps that keeps ``min_overlap`` of the pixels, and
        where it is: a flat index into the padded (2n)² grid of offsets for the latter, minus 1 − (flat cyclic
        index) for the former (so −1 … −n² are cyclic shifts)."""
        p, n = self.pad, self.n
        qq, fq_cyc, fq, fq2 = qt
        rr = (r * r).sum((-2, -1))
        # cyclic: |q − roll(r, s)|² = Σq² + Σr² − 2 (q ⋆ r)(s) over all n² pixels
        cyc = torch.fft.irfft2(fq_cyc * torch.fft.rfft2(r).conj(), s=(n, n))
        cyc = (qq[:, None, None] + rr[:, None, None] - 2 * cyc).clamp(min=0) / (n * n)
        fr, fr2 = torch.fft.rfft2(r, s=(p, p)), torch.fft.rfft2(r * r, s=(p, p))
        m = self.mask_ft
        # Σ over the overlap of (q − r_s)² = Σ q²·1_r + Σ 1_q·r² − 2 Σ q·r, each a cross-correlation
        s = torch.fft.irfft2(fq2 * m.conj() + m * fr2.conj() - 2 * fq * fr.conj(), s=(p, p))
        msd = torch.where(self.valid, s.clamp(min=0) / self.count, torch.full_like(s, float("inf")))
        best_pad, best_cyc = msd.reshape(len(r), -1).min(1), cyc.reshape(len(r), -1).min(1)
        use_cyc = best_cyc.values < best_pad.values
        where = torch.where(use_cyc, -1 - best_cyc.indices, best_pad.indices)
        return torch.minimum(best_cyc.values, best_pad.values).sqrt(), where

    def query(self, queries: Any, chunk: int = 128) -> dict[str, np.ndarray]:
        """Nearest reference of each query map (Q, H, W): ``distance`` (Q,) RMS κ over the overlap, ``index``
        (Q,), ``symmetry`` (Q,) applied to the query, ``offset`` (Q, 2): the reference pixel r[y, x] faces
        σq[y + dy, x + dx]."""
        out = self.query_candidates(queries, chunk)
        j = out["distance"].argmin(1)
        rows = np.arange(len(j))
        return {k: v[rows, j] for k, v in out.items()}

    def query_candidates(self, queries: Any, chunk: int = 128) -> dict[str, np.ndarray]:
        """Every candidate of each query map (Q, H, W), measured exactly: ``distance`` (Q, C), ``index`` (Q, C),
        ``symmetry`` (Q, C), ``offset`` (Q, C, 2), as in ``query``, for the C = ``candidates`` best fingerprint
        matches (a reference may appear under several symmetries)."""
        qa = to_tensor(queries)
        if qa.shape[-1] != self.n:
            raise ValueError(f"query maps are {qa.shape[-1]}² but reference maps {self.n}²")
        c = self.candidates
        out = {
            "distance": np.empty((len(qa), c)),
            "index": np.empty((len(qa), c), np.int64),
            "symmetry": np.empty((len(qa), c), np.int64),
            "offset": np.empty((len(qa), c, 2), np.int64),
        }
        for start in range(0, len(qa), chunk):
            q = qa[start : start + chunk].to(self.device, torch.float32)
            ref, sym = self._candidates(q)
            # each (query, symmetry) transformed once, then gathered for every candidate that shares it
            key = (torch.arange(len(q), device=q.device)[:, None] * 8 + sym).reshape(-1)
            unique, pick = torch.unique(key, return_inverse=True)
            qs = torch.stack([symmetry(q[int(k) // 8], int(k) % 8) for k in unique])
            qt = tuple(t[pick] for t in self._query_transforms(qs))
            d, off = self._exact(qt, self.refs[ref.reshape(-1)])
            sl = slice(start, start + len(q))
            out["distance"][sl] = d.reshape(len(q), c).cpu().numpy()
            out["index"][sl] = ref.cpu().numpy()
            out["symmetry"][sl] = sym.cpu().numpy()
            flat = off.cpu().numpy()
            cyclic = flat < 0
            size = np.where(cyclic, self.n, self.pad)
            flat = np.where(cyclic, -1 - flat, flat)
            dy, dx = flat // size, flat % size
            out["offset"][sl] = np.stack(
                [np.where(dy >= self.n, dy - size, dy), np.where(dx >= self.n, dx - size, dx)], 1
            ).reshape(len(q), c, 2)
        return out
