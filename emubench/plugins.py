"""The plugin manager: built-ins, installed entry points and a local plugin folder, all through one path.

Built-in datasets, metrics and baselines are plain plugin modules listed in DEFAULT_PLUGINS and registered
with the same ``pm.register`` as third-party code. Installed plugins come from the entry-point group
``emubench``. Two environment variables steer loading:

- ``EMUBENCH_LOAD_PLUGINS``: comma-separated allow-list of entry-point names; when set (even empty),
  only those installed plugins load. Built-ins always load.
- ``EMUBENCH_PLUGINS_DIR``: a folder (or several, separated by os.pathsep) whose ``*.py`` modules are
  registered as plugins, for trying a plugin without packaging it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "emubench"

DEFAULT_PLUGINS = (
    "emubench.data.plugin",
    "emubench.metrics.plugin",
    "emubench.baselines.plugin",
)

pm = pluggy.PluginManager("emubench")
pm.add_hookspecs(hookspecs)

# Plugins that could not be imported: name -> one-line error. Shown by `emubench plugins`.
load_failures: dict[str, str] = {}

_loaded = False
_extra_dirs: list[Path] = []
# Called by ``reset`` (the registries forget what they built); registered by the modules that cache, so that
# this module imports none of them.
_on_reset: list[Callable[[], None]] = []


def on_reset(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the plugins are reset."""
    _on_reset.append(callback)


def add_plugin_dir(path: str | os.PathLike) -> None:
    """Register every ``*.py`` module in ``path`` as a plugin (the CLI's ``--plugins-dir``)."""
    _extra_dirs.append(Path(path))
    if _loaded:
        _load_dir(Path(path))
        _check_pending()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _register_module(module, name: str) -> None:
    """Register ``module`` as plugin ``name``; a hook implementation whose arguments its hook does not have is
    refused by pluggy, and recorded in ``load_failures`` instead of taking the harness down."""
    if pm.is_registered(module) or pm.get_plugin(name) is not None:
        return
    try:
        pm.register(module, name=name)
    except pluggy.PluginValidationError as exc:  # its message spans lines: which hook, the definition, the args
        load_failures[name] = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _check_pending() -> None:
    """Report, under the plugin's name, every ``@hookimpl`` with no hook of that name (a misspelt hook would
    otherwise be silently ignored): pluggy's ``check_pending``, one line per plugin with a suggestion."""
    import difflib

    known = [n for n in dir(hookspecs) if n.startswith("register_")]
    for hook_name in dir(pm.hook):
        caller = getattr(pm.hook, hook_name)
        if hook_name.startswith("_") or not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        close = difflib.get_close_matches(hook_name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; emubench's hooks: {', '.join(known)}"
        for impl in caller.get_hookimpls():
            name = pm.get_name(impl.plugin) or repr(impl.plugin)
            load_failures[name] = f"defines hook {hook_name!r}, which emubench does not have{hint}"


def _load_entry_points() -> None:
    allow = os.environ.get("EMUBENCH_LOAD_PLUGINS")
    allowed = None if allow is None else {n.strip() for n in allow.split(",") if n.strip()}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must not take the harness down
            load_failures[ep.name] = _one_line(exc)
            continue
        _register_module(module, ep.name)


def _load_dir(folder: Path) -> None:
    if not folder.is_dir():
        load_failures[str(folder)] = "plugin folder does not exist"
        return
    for path in sorted(folder.glob("*.py")):
        name = path.stem
        try:
            spec = importlib.util.spec_from_file_location(f"emubench_local_plugins.{name}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        except Exception as exc:
            load_failures[name] = _one_line(exc)
            continue
        _register_module(module, name)


def get_plugin_manager() -> pluggy.PluginManager:
    """The plugin manager with built-ins, entry points and local folders loaded (once)."""
    global _loaded
    if not _loaded:
        _loaded = True
        for modname in DEFAULT_PLUGINS:
            _register_module(importlib.import_module(modname), modname)
        _load_entry_points()
        dirs = [Path(p) for p in os.environ.get("EMUBENCH_PLUGINS_DIR", "").split(os.pathsep) if p]
        for folder in dirs + _extra_dirs:
            _load_dir(folder)
        _check_pending()
    return pm


def reset() -> None:
    """Forget every plugin and registry (tests use this to load a clean set)."""
    global _loaded
    for name, plugin in list(pm.list_name_plugin()):
        pm.unregister(plugin, name=name)
    load_failures.clear()
    _extra_dirs.clear()
    _loaded = False
    for callback in _on_reset:
        callback()
