import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))


def pytest_collection_modifyitems(items):
    """Benchmarks belong to the slow tier: the full suite runs each once for correctness, ``-m "not slow"`` none."""
    for item in items:
        if "/bench/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("EMUBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "bench-cache"))
