"""Nearest reference map by its best-matching square region: copies of any (n/2)² part of a map, anywhere in it,
shifted, rotated or flipped.

A whole-map distance cannot see a map stitched from four quadrants of four training maps, or a fresh map with a
training crop pasted into it: three quarters of the pixels are unrelated to any one source. The distance here is
the RMS difference over the best-matching region of (n/2)² pixels instead, so such maps sit at ~0 from each of
their sources (plus any added noise), and whole copies still do.

Search, coarse to fine:

1. Candidates. (a) Whole maps: a fingerprint of each map that no cyclic shift, rotation or flip changes
   (``square_fingerprint``: |FFT| averaged over each orbit of wavevectors under the symmetries of the square);
   the references nearest in it (finds whole copies and large crops). (b) Regions: 9 windows of (n/2)² per map
   at stride n/4, with the same fingerprint of the tapered window; each query window's nearest reference maps
   (by their best window). A window rarely sits exactly on a copied region; the taper lets one that covers
   most of it still find the source. The symmetry is the one under which the plain |FFT| of the two agree best,
   or that one turned by 180° (which |FFT| cannot tell apart), whichever aligns better.
2. Alignment. Each candidate's cyclic shift is the one minimising the squared difference between the query
   (whole, or the matched window only) and the shifted reference: one FFT cross-correlation.
3. Distance. At that shift, the RMS difference over every (n/2)² square inside the query (an integral image),
   the smallest. Exact for the alignment found, so never nearer than the truth; the search can miss a source
   (measured at 64², n = 1,229 against 11,868 references: whole shifted copies with 0.5 σ_κ of noise all found,
   quadrant patchworks 100%, patchworks of shifted and turned quadrants 80%, a 32² crop pasted at a random
   place under a random symmetry 86%).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import torch

from ._backend import to_tensor
from .symmetries import symmetry

KMAX = 16  # fingerprints: wavevectors 0 < |k| ≤ 16 cycles per map or window (at most Nyquist)


def window_grid(n: int) -> list[tuple[int, int]]:
    """Top-left corners of the 9 windows of (n/2)² at stride n/4 that a map is described by."""
    w = n // 2
    steps = range(0, n - w + 1, w // 2)
    return [(a, b) for a in steps for b in steps]


@lru_cache(maxsize=8)
def _layout(w: int, kmax: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(taper (w, w), orbit members (O, 4) and plain wavevectors (F,), flat indices into a w×w rfft2).

    An orbit is the set {(±a, ±b), (±b, ±a)} of one 0 ≤ a ≤ b; |F| is even (real maps), so 4 members carry it:
    (a, b), (−a, b), (b, a), (−b, a) (repeated for a = 0 or a = b). Every symmetry of the square permutes each
    orbit, so the orbit's mean |F| is unchanged by it."""
    x = torch.arange(w, dtype=torch.float32) - (w - 1) / 2
    # Gaussian taper of σ = w/3: the centre, which a window shifted off a copied region still shares, weighs most
    # (σ = w/4 found 18% of pasted crops, w/3 52%, w/2 40%, at kmax 16; kmax 8: 18%)
    t = torch.exp(-0.5 * (x / (w / 3)) ** 2)
    half = w // 2 + 1
    members = [
        [(ky % w) * half + kx for ky, kx in ((a, b), (-a, b), (b, a), (-b, a))]
        for a in range(kmax + 1)
        for b in range(a, kmax + 1)
        if 0 < a * a + b * b <= kmax * kmax
    ]
    ky = torch.fft.fftfreq(w) * w
    k2 = ky[:, None] ** 2 + torch.arange(half, dtype=torch.float32)[None, :] ** 2
    plain = ((k2 > 0) & (k2 <= kmax * kmax)).flatten().nonzero()[:, 0]
    return t[:, None] * t[None, :], torch.tensor(members), plain


def square_fingerprint(x: torch.Tensor, tapered: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(D4-invariant fingerprint (..., O), plain |F| (..., F)) of square maps or windows (..., w, w).

    Both are |rfft2| of the mean-subtracted square (tapered for windows; not for whole maps, whose |F| is then
    unchanged by cyclic shifts) at 0 < |k| ≤ ``KMAX``. The first averages each orbit of wavevectors under the
    symmetries of the square (``_layout``), so a square and any rotation or flip of it share it; the second
    does not, and tells which symmetry relates two squares the first matched."""
    w = x.shape[-1]
    taper, members, plain = _layout(w, min(KMAX, w // 2))  # no wavevector past Nyquist
    x = x.float() - x.float().mean((-2, -1), keepdim=True)
    f = torch.fft.rfft2(x * taper.to(x.device) if tapered else x).abs().flatten(-2)
    return f[..., members.to(f.device)].mean(-1), f[..., plain.to(f.device)]


def _windows(maps: torch.Tensor) -> torch.Tensor:
    """The ``window_grid`` windows of maps (N, n, n): (N, 9, n/2, n/2)."""
    w = maps.shape[-1] // 2
    return torch.stack([maps[:, a : a + w, b : b + w] for a, b in window_grid(maps.shape[-1])], 1)


def _best_symmetry(theirs: torch.Tensor, squares: torch.Tensor, tapered: bool) -> torch.Tensor:
    """For squares (..., w, w) and the plain |F| of their C candidates (..., C, F): the symmetry (..., C) under
    which each square's plain |F| is nearest its candidate's."""
    ours = torch.stack([square_fingerprint(symmetry(squares, k), tapered)[1] for k in range(8)], -2)  # (..., 8, F)
    return torch.cdist(theirs, ours).argmin(-1)


class PatchNeighbourIndex:
    """Nearest reference map by the best-matching (n/2)² square, up to cyclic shifts and the 8 symmetries.

    Distance between a query q and a reference r at symmetry σ and cyclic shift s: the smallest, over the
    (n/2 + 1)² squares W of (n/2)² pixels inside σq, of sqrt(mean over W of (σq(y) − r(y + s mod n))²), in κ;
    (σ, s) are those of the best candidate (module docstring). A copy of any region of a reference of at least
    that size (a quadrant, a crop pasted anywhere, a whole map), shifted, rotated or flipped, is at ~0 when the
    search finds its source.

    refs: (R, n, n), n divisible by 4. ``map_candidates`` whole maps and ``window_candidates`` maps per query
    window (9 windows) are measured per query.
    """

    def __init__(
        self,
        refs: Any,
        *,
        map_candidates: int = 4,
        window_candidates: int = 2,
        device: str | torch.device | None = None,
    ):
        self.device = torch.device(device or "cpu")
        self.refs = to_tensor(refs).to(self.device, torch.float32)
        self.n = self.refs.shape[-1]
        if self.n % 4:
            raise ValueError(f"maps are {self.n}², but the region search needs a side divisible by 4")
        self.w = self.n // 2
        self.map_candidates = min(map_candidates, len(self.refs))
        self.window_candidates = min(window_candidates, len(self.refs))
        parts = [self.refs[s : s + 512] for s in range(0, len(self.refs), 512)]
        inv, self.map_plain = (torch.cat(f) for f in zip(*(square_fingerprint(p, tapered=False) for p in parts)))
        # unweighted: large scales dominate, which noise added to a copy leaves intact (weighting each orbit
        # alike, as for windows, ranked the source of a whole copy with 0.5 σ_κ of noise in the top 6 for 95.5%
        # of copies instead of 100%)
        self.map_fp = inv
        self.map_norm = (self.map_fp**2).sum(1)
        inv, plain = (torch.cat(f) for f in zip(*(square_fingerprint(_windows(p), tapered=True) for p in parts)))
        # windows: each orbit weighs alike (a pasted crop found 52% of the time, unweighted 27%)
        self.window_scale = inv.mean((0, 1)).clamp(min=1e-30)
        self.window_fp = (inv / self.window_scale).transpose(0, 1).contiguous()  # (9, R, O): one matrix per slot
        self.window_plain = plain.flatten(0, 1)  # (R·9, F): window j is slot j % 9 of map j // 9
        self.window_norm = (self.window_fp**2).sum(2)  # (9, R)
        # the window masks (and the whole map, mask 9) under each symmetry, and their transforms
        masks = torch.zeros(10, self.n, self.n, device=self.device)
        for i, (a, b) in enumerate(window_grid(self.n)):
            masks[i, a : a + self.w, b : b + self.w] = 1.0
        masks[9] = 1.0
        self.masks = torch.stack([symmetry(masks, k) for k in range(8)], 1)  # (10, 8, n, n)
        self.masks_ft = torch.fft.rfft2(self.masks).conj()

    def _candidates(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reference index, symmetry, mask) of each candidate of the queries q (B, n, n), each (B, C); mask 9 is
        the whole map, 0-8 the ``window_grid`` window the candidate was found by."""
        b = len(q)
        # whole maps: squared fingerprint distance less the query's own norm (the same for every reference)
        f = square_fingerprint(q, tapered=False)[0]
        ref_m = torch.addmm(self.map_norm, f, self.map_fp.T, alpha=-2).topk(self.map_candidates, largest=False)[1]
        sym_m = _best_symmetry(self.map_plain[ref_m], q, tapered=False)
        # windows: each reference map's best window for each query window, one slot at a time (no (B·9, R·9)
        # matrix), then each query window's best maps
        qw = _windows(q)  # (B, 9, w, w)
        f = (square_fingerprint(qw, tapered=True)[0] / self.window_scale).reshape(b * 9, -1)
        d = torch.addmm(self.window_norm[0], f, self.window_fp[0].T, alpha=-2)
        for slot in range(1, 9):
            torch.minimum(d, torch.addmm(self.window_norm[slot], f, self.window_fp[slot].T, alpha=-2), out=d)
        ref_w = d.topk(self.window_candidates, largest=False).indices  # (B·9, Cw)
        per_slot = self.window_norm[:, ref_w] - 2 * torch.einsum("qo,sqco->sqc", f, self.window_fp[:, ref_w])
        j = (ref_w * 9 + per_slot.argmin(0)).reshape(b, 9, -1)  # the reference windows matched: map · 9 + slot
        sym_w = _best_symmetry(self.window_plain[j], qw, tapered=True)  # (B, 9, Cw)
        mask_w = torch.arange(9, device=q.device)[None, :, None].expand_as(j)
        ref = torch.cat([ref_m, (j // 9).reshape(b, -1)], 1)
        sym = torch.cat([sym_m, sym_w.reshape(b, -1)], 1)
        mask = torch.cat([torch.full_like(ref_m, 9), mask_w.reshape(b, -1)], 1)
        return ref, sym, mask

    def _measure(
        self, sq: torch.Tensor, rows: torch.Tensor, ref: torch.Tensor, sym: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Of P pairs (query ``rows`` of sq (B, 8, n, n), the queries under each symmetry; reference ``ref``,
        symmetry ``sym``, ``mask``, each (P,)): the squared difference at the pair's shift summed over every
        (n/2)² square of σq, (P, (n/2+1)²) (row-major over the square's top-left pixel), the shift (P, 2) and
        the symmetry (P,): ``sym`` or ``sym`` turned by 180°, which |F| cannot tell apart (|F(k)| = |F(−k)|),
        whichever aligns better."""
        n, w = self.n, self.w
        r = self.refs[ref]
        fr, fr2 = torch.fft.rfft2(r), torch.fft.rfft2(r * r)

        def lowest(k: torch.Tensor):  # the smallest masked squared difference over shifts, and where, at symmetry k
            x = sq[rows, k] * self.masks[mask, k]  # the window (or whole map) in σq's frame, zero elsewhere
            # Σ_y m(y) (σq(y) − r(y + s))² = Σ x² − 2 (x ⋆ r)(s) + (m ⋆ r²)(s), (f ⋆ g)(s) = Σ_y f(y) g(y + s);
            # Σ x² is left out: the same for every shift, and under both symmetries
            corr = torch.fft.irfft2(self.masks_ft[mask, k] * fr2 - 2 * torch.fft.rfft2(x).conj() * fr, s=(n, n))
            return corr.reshape(len(r), -1).min(1)

        turned = (sym + 2) % 4 + 4 * (sym >= 4)  # rot180 commutes with every symmetry: σ then a half turn
        (v0, s0), (v1, s1) = lowest(sym), lowest(turned)
        chosen, s = torch.where(v1 < v0, turned, sym), torch.where(v1 < v0, s1, s0)
        q = sq[rows, chosen]
        sy, sx = s // n, s % n
        # the reference shifted by s under the whole query (two gathers along expanded, unmaterialised indices)
        ar = torch.arange(n, device=q.device)
        iy, ix = (ar[None, :] + sy[:, None]) % n, (ar[None, :] + sx[:, None]) % n
        shifted = r.gather(1, iy[:, :, None].expand(-1, -1, n)).gather(2, ix[:, None, :].expand(-1, n, -1))
        # the squared difference summed over every square, one axis at a time (sums of ≤ n terms: float32 is
        # exact to ~1e-5 of the sum)
        c = torch.nn.functional.pad((q - shifted) ** 2, (0, 0, 1, 0)).cumsum(1)
        c = torch.nn.functional.pad(c[:, w:] - c[:, :-w], (1, 0)).cumsum(2)
        box = c[:, :, w:] - c[:, :, :-w]  # (P, n/2+1, n/2+1)
        return box.reshape(len(r), -1), torch.stack([sy, sx], 1), chosen

    def query_candidates(self, queries: Any, chunk: int = 64) -> dict[str, np.ndarray]:
        """Every candidate of each query map (Q, n, n), measured: ``distance`` (Q, C) RMS κ over the best square,
        ``index`` (Q, C), ``symmetry`` (Q, C) applied to the query, ``offset`` (Q, C, 2): the reference pixel
        r[y, x] faces σq[y + dy, x + dx] (cyclically), ``corner`` (Q, C, 2): the square's top-left pixel in σq,
        and ``on_nearest_square`` (Q, C): the RMS difference over the square of the query's nearest candidate
        instead (equal to ``distance`` for that candidate), so that a second source of *another* region (a
        patchwork) need not count as a rival of the first."""
        qa = to_tensor(queries)
        if qa.shape[-1] != self.n:
            raise ValueError(f"query maps are {qa.shape[-1]}² but reference maps {self.n}²")
        c = self.map_candidates + 9 * self.window_candidates
        out = {
            "distance": np.empty((len(qa), c)),
            "index": np.empty((len(qa), c), np.int64),
            "symmetry": np.empty((len(qa), c), np.int64),
            "offset": np.empty((len(qa), c, 2), np.int64),
            "corner": np.empty((len(qa), c, 2), np.int64),
            "on_nearest_square": np.empty((len(qa), c)),
        }
        for start in range(0, len(qa), chunk):
            q = qa[start : start + chunk].to(self.device, torch.float32)
            ref, sym, mask = self._candidates(q)
            sq = torch.stack([symmetry(q, k) for k in range(8)], 1)  # (B, 8, n, n)
            rows = torch.arange(len(q), device=q.device)[:, None].expand_as(ref)
            box, shift, sym = self._measure(sq, rows.flatten(), ref.flatten(), sym.flatten(), mask.flatten())
            sym = sym.reshape(ref.shape)
            box = box.reshape(len(q), c, -1).clamp(min=0) / (self.w * self.w)
            d, where = box.min(2)
            # every candidate over the square of the query's nearest one: which reference explains *that* region
            nearest = where.gather(1, d.argmin(1, keepdim=True))  # (B, 1)
            there = box.gather(2, nearest[:, :, None].expand(-1, c, 1))[:, :, 0]
            sl = slice(start, start + len(q))
            out["distance"][sl] = d.sqrt().cpu().numpy()
            out["on_nearest_square"][sl] = there.sqrt().cpu().numpy()
            side = self.n - self.w + 1
            corner = torch.stack([where // side, where % side], -1)
            out["index"][sl] = ref.cpu().numpy()
            out["symmetry"][sl] = sym.cpu().numpy()
            back = (-shift.cpu().numpy() + self.n // 2) % self.n - self.n // 2  # r(y + s) faces σq(y): offset −s
            out["offset"][sl] = back.reshape(len(q), c, 2)
            out["corner"][sl] = corner.cpu().numpy()
        return out

    def query(self, queries: Any, chunk: int = 64) -> dict[str, np.ndarray]:
        """The nearest candidate of each query map: the fields of ``query_candidates``, one per query."""
        out = self.query_candidates(queries, chunk)
        j = out["distance"].argmin(1)
        rows = np.arange(len(j))
        return {k: v[rows, j] for k, v in out.items()}
