"""Metric plugins: each compares generated with real maps and reports its real-vs-real noise floor."""

from .base import Context, FeatureMetric, compare_curves

__all__ = ["Context", "FeatureMetric", "compare_curves"]
