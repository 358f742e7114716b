"""The smallest σ8 bias the parameter-bias verdict flags, with and without the starlet ℓ1-norm in its likelihood.

A perfect conditional emulator (the dataset's own generator, seeds of its own) asked for (Ωm, σ8) returns maps
at σ8·(1 + ε). For each ε and basis (emulator seed) it is scored with parameter-bias alone at the rate one
verdict of a default score across cosmologies gets (α = 0.05 over its 14 verdicts):

- at one cosmology: the training cosmology nearest the centre of the design, n = its validation maps;
- across the 25 training cosmologies: Fisher's combination of their p-values (``across_cosmologies``).

"Smallest flagged" is the smallest ε flagged on every basis. Usage (about 15 minutes on 2 CPU cores):

    python scripts/sigma8_bias_limit.py [--bases 3] [--likelihoods before after] [--levels 0.005 0.01 ...]
        [--out reports/calibration/sigma8_bias_limit.csv]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from emubench.calibration import PerfectConditional
from emubench.data import open_dataset, split
from emubench.metrics.parameter_bias import Likelihood
from emubench.scoring import across_cosmologies, cosmology_verdicts, score_cosmologies

DATASET = "lognormal-cosmo-64"
LEVELS = [0.005, 0.01, 0.02, 0.04, 0.08]
LIKELIHOODS = {"before": ("C_ℓ + peaks", ("power-spectrum", "peaks")), "after": ("C_ℓ + peaks + starlet ℓ1", None)}
ALPHA = 0.05 / 14  # one verdict of a default score across cosmologies (14 verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bases", type=int, default=3)
    parser.add_argument("--out", default=None)
    parser.add_argument("--likelihoods", nargs="+", choices=list(LIKELIHOODS), default=list(LIKELIHOODS))
    parser.add_argument("--levels", nargs="+", type=float, default=LEVELS)
    args = parser.parse_args()
    mapset = open_dataset(DATASET)
    splits = split(mapset, 0)
    train_thetas = np.array([t for t in splits["val"].cosmologies() if not splits["val"].is_heldout(t)])
    scaled = (train_thetas - train_thetas.mean(0)) / train_thetas.std(0)
    centre = train_thetas[np.argmin(np.linalg.norm(scaled, axis=1))]
    s8 = list(mapset.param_names).index("sigma8")
    rows = []
    for label, statistics in (LIKELIHOODS[k] for k in args.likelihoods):
        kw = {} if statistics is None else {"statistics": statistics}
        shared = {"parameter-bias": Likelihood(splits["train"], mapset.side_deg, **kw)}
        for level in args.levels:
            for basis in range(args.bases):
                emulator = PerfectConditional(DATASET, {}, seed=3000 + basis)

                def biased(k, seed, theta, level=level, emulator=emulator):
                    theta = np.array(theta, dtype=np.float64)
                    theta[s8] *= 1 + level
                    return emulator.sample(k, seed=seed, params=theta)

                for where, thetas in (("one cosmology", centre[None]), ("25 training cosmologies", train_thetas)):
                    scores, _, _ = score_cosmologies(
                        biased, splits, metrics=["parameter-bias"], alpha=ALPHA, bootstrap_draws=0, seed=basis,
                        cosmologies=thetas, shared=shared,
                    )  # fmt: skip
                    per = cosmology_verdicts(scores, list(mapset.param_names))
                    summary = across_cosmologies(per, list(mapset.param_names), alpha=ALPHA)
                    rows.append(
                        {"likelihood": label, "where": where, "level": level, "basis": basis,
                         "flagged": bool((summary.verdict == "flag").any()), "p_value": float(summary.p_value.min())}
                    )  # fmt: skip
                    print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
    every = table.groupby(["likelihood", "where", "level"])["flagged"].all().reset_index()
    smallest = every[every["flagged"]].groupby(["likelihood", "where"])["level"].min().unstack()
    print(smallest.to_string())


if __name__ == "__main__":
    main()
