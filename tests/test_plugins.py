"""Plugin manager and registries: built-ins, entry points, local folders, failures, allow-list, docs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emubench.errors import EmubenchError

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = Path(__file__).parent / "plugins"


def test_builtins_and_reference_plugin_registered(fresh_plugins):
    from emubench.registry import get_registry

    models = {e.name: e.plugin for e in get_registry("models")}
    assert models["grf"] == "emubench.baselines.plugin"
    assert models["cosmogan-dcgan"] == "cosmogan-dcgan"  # through the entry point, like a third party
    assert {e.name for e in get_registry("metrics")} >= {
        "pixel-ks",
        "power-spectrum",
        "minkowski",
        "peaks",
        "memorisation",
    }
    assert "lognormal-lcdm" in get_registry("datasets")
    assert "cosmogan-dcgan-trainer" in get_registry("trainers")


def test_listing_builds_nothing(fresh_plugins, monkeypatch):
    """Registries hold classes: listing must not build a network or load data."""
    import torch.nn

    calls = []
    monkeypatch.setattr(torch.nn.Module, "__init__", lambda self, *a, **k: calls.append(1))
    from emubench.registry import KINDS, get_registry

    for kind in KINDS:
        assert len(get_registry(kind)) > 0
    assert calls == []


def test_unknown_name_suggests_close_matches(fresh_plugins):
    from emubench.registry import get

    with pytest.raises(EmubenchError, match=r"unknown model 'lognormall'; did you mean 'lognormal'"):
        get("models", "lognormall")
    with pytest.raises(EmubenchError, match="unknown metric 'zzz'; known: "):
        get("metrics", "zzz")


def test_local_folder_good_broken_raising_and_wrong_type(fresh_plugins, monkeypatch):
    monkeypatch.setenv("EMUBENCH_PLUGINS_DIR", str(PLUGINS))
    from emubench.registry import get_registry

    assert "test-white-noise" in get_registry("models")
    assert "pixel-ks" in get_registry("metrics")  # the rest keep working
    assert "lognormal-lcdm" in get_registry("datasets")
    failures = fresh_plugins.load_failures
    assert "ModuleNotFoundError" in failures["broken_import_plugin"]
    assert "broken on purpose" in failures["raising_hook_plugin"]
    assert "no 'name'" in failures["wrong_type_plugin"]


def test_duplicate_name_names_both_plugins(fresh_plugins, monkeypatch):
    """A clash makes that one name unusable (an error naming both plugins), not every command."""
    monkeypatch.setenv("EMUBENCH_PLUGINS_DIR", str(Path(__file__).parent / "dup_plugins"))
    from emubench.registry import get, get_registry

    models = get_registry("models")
    assert models.clashes == {"grf": ["emubench.baselines.plugin", "duplicate_plugin"]}
    with pytest.raises(
        EmubenchError,
        match=r"duplicate model name 'grf': registered by plugin "
        r"'emubench.baselines.plugin' and by plugin 'duplicate_plugin'",
    ):
        get("models", "grf")
    assert get("models", "lognormal").name == "lognormal"  # every other name still works


def test_plugins_command_lists_everything_and_shows_the_clash(monkeypatch):
    env = {**os.environ, "EMUBENCH_PLUGINS_DIR": str(Path(__file__).parent / "dup_plugins")}
    res = subprocess.run([sys.executable, "-m", "emubench.cli", "plugins"], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "CLASH" in res.stdout and "lognormal-crops" in res.stdout and "pixel-ks" in res.stdout
    assert "clash: model 'grf' is registered by emubench.baselines.plugin and duplicate_plugin" in res.stderr


def test_a_class_missing_a_member_of_its_contract_is_reported_at_registration(fresh_plugins, tmp_path, monkeypatch):
    (tmp_path / "half_model.py").write_text(
        "from emubench import hookimpl\n\n\nclass Half:\n    name = 'half'\n\n    @classmethod\n"
        "    def fit(cls, train, *, seed=0):\n        return cls()\n\n\n@hookimpl\ndef register_models(register):\n"
        "    register(Half)\n"
    )
    monkeypatch.setenv("EMUBENCH_PLUGINS_DIR", str(tmp_path))
    from emubench.plugins import load_failures
    from emubench.registry import get_registry

    assert "half" not in get_registry("models")
    assert load_failures["half_model"] == "register_models: model 'half' lacks sample (see emubench.contracts)"


def test_allow_list_limits_installed_plugins(fresh_plugins, monkeypatch):
    monkeypatch.setenv("EMUBENCH_LOAD_PLUGINS", "")
    from emubench.registry import get_registry

    assert "cosmogan-dcgan" not in get_registry("models")
    assert "grf" in get_registry("models")  # built-ins always load
    fresh_plugins.reset()
    monkeypatch.setenv("EMUBENCH_LOAD_PLUGINS", "cosmogan-dcgan")
    assert "cosmogan-dcgan" in get_registry("models")


def test_a_misspelt_hook_and_a_wrong_argument_are_named(fresh_plugins, monkeypatch):
    """``register_model`` (for ``register_models``) is no hook: pluggy would ignore it silently; a hook
    implementation with an argument its specification lacks is refused by pluggy at registration. Both are
    reported by plugin name, with a suggestion, and everything else keeps working; ``emubench plugins`` lists
    them."""
    folder = Path(__file__).parent / "misspelt_plugins"
    monkeypatch.setenv("EMUBENCH_PLUGINS_DIR", str(folder))
    from emubench.registry import get_registry

    assert "grf" in get_registry("models") and "pixel-ks" in get_registry("metrics")
    failures = fresh_plugins.load_failures
    assert failures["misspelt_hook_plugin"] == (
        "defines hook 'register_model', which emubench does not have; did you mean 'register_models'?"
    )
    assert "register_metrics" in failures["wrong_argument_plugin"] and "add" in failures["wrong_argument_plugin"]
    env = {**os.environ, "EMUBENCH_PLUGINS_DIR": str(folder)}
    res = subprocess.run([sys.executable, "-m", "emubench.cli", "plugins"], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "misspelt_hook_plugin" in res.stdout + res.stderr and "register_model'" in res.stdout + res.stderr
