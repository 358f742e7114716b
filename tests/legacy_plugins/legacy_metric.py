"""A metric written against the pre-1.0 contract: it returns a list of rows and appends its curves (with a
'metric' key) to ctx.curves. Plugins like it must keep working unchanged."""

import numpy as np

from emubench import hookimpl
from emubench.metrics.base import row


class LegacyMean:
    name = "legacy-mean"
    description = "mean κ difference (a pre-1.0 style metric)"

    def evaluate(self, generated, reference, heldout, ctx):
        diff = float(np.mean(generated) - np.mean(reference))
        ctx.curves.append(
            {
                "metric": self.name,
                "statistic": "mean",
                "x": 0.0,
                "set": "generated",
                "mean": float(np.mean(generated)),
                "std": float(np.std(generated)),
            }
        )
        return [row("mean-difference", np.nan, diff, 0.0, False, "default")]


class NoCurves:
    name = "no-curves"
    description = "a 1.0 metric that returns rows and no curves"
    aspects = ("default",)

    def evaluate(self, generated, reference, heldout, ctx):
        from emubench import MetricResult

        return MetricResult([row("max", np.nan, float(np.max(generated)), 0.0, False, "default")])


@hookimpl
def register_metrics(register):
    register(LegacyMean)
    register(NoCurves)
