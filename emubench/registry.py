"""Registries of datasets, models, trainers and metrics, filled by the plugin hooks.

A registry holds classes (or factories), never instances, so listing plugins builds no network
and loads no data. Each registered object needs a ``name`` attribute: lowercase words joined by hyphens.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from .contracts import missing_members
from .errors import EmubenchError
from .plugins import get_plugin_manager, load_failures, on_reset

KINDS = ("datasets", "models", "trainers", "metrics")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Entry:
    name: str
    obj: Any
    plugin: str

    @property
    def description(self) -> str:
        doc = getattr(self.obj, "description", None) or (getattr(self.obj, "__doc__", None) or "")
        return doc.strip().splitlines()[0] if doc.strip() else ""


class Registry:
    """Name -> Entry for one kind of plugin object."""

    def __init__(self, kind: str):
        self.kind = kind
        self.entries: dict[str, Entry] = {}
        self.clashes: dict[str, list[str]] = {}  # name -> every plugin that registered it (two or more)

    def add(self, obj: Any, plugin: str) -> None:
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not _NAME.match(name):
            raise EmubenchError(
                f"plugin {plugin!r} registered a {self.kind[:-1]} without a valid name "
                f"(need lowercase-with-hyphens 'name' attribute, got {name!r})"
            )
        if name in self.entries:  # a clash: listed by `emubench plugins`, refused when the name is used
            self.clashes.setdefault(name, [self.entries[name].plugin]).append(plugin)
            return
        self.entries[name] = Entry(name, obj, plugin)

    def get(self, name: str) -> Entry:
        if name in self.clashes:
            who = " and by ".join(f"plugin {p!r}" for p in self.clashes[name])
            raise EmubenchError(
                f"duplicate {self.kind[:-1]} name {name!r}: registered by {who}; uninstall or rename one"
            )
        if name in self.entries:
            return self.entries[name]
        close = difflib.get_close_matches(name, list(self.entries), n=3, cutoff=0.5)
        hint = (
            f"; did you mean {', '.join(repr(c) for c in close)}?"
            if close
            else f"; known: {', '.join(sorted(self.entries)) or 'none'}"
        )
        raise EmubenchError(f"unknown {self.kind[:-1]} {name!r}{hint}")

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def __iter__(self):
        return iter(sorted(self.entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self.entries)


_cache: dict[str, Registry] = {}


def clear_cache() -> None:
    _cache.clear()


on_reset(clear_cache)


def get_registry(kind: str) -> Registry:
    """Build (once) the registry of ``kind`` by calling every plugin's ``register_<kind>`` hook.

    A plugin whose hook raises, or registers a class that lacks a member of its contract, is recorded in
    ``plugins.load_failures`` under its name and skipped; a name registered twice is recorded in the
    registry's ``clashes`` and refused (naming both plugins) when used.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}")
    if kind in _cache:
        return _cache[kind]
    pm = get_plugin_manager()
    reg = Registry(kind)
    hook_name = f"register_{kind}"
    implementers = [impl.plugin for impl in getattr(pm.hook, hook_name).get_hookimpls()]  # built-ins first
    for plugin in implementers:
        plugin_name = pm.get_name(plugin) or repr(plugin)
        collected: list[Any] = []
        # Dispatched by pluggy (arguments by name, as the hook spec declares them), one plugin at a time, so that
        # one plugin's error is recorded against it and the others still register.
        only_this = pm.subset_hook_caller(hook_name, remove_plugins=[p for p in implementers if p is not plugin])
        try:
            only_this(register=collected.append)
        except Exception as exc:
            load_failures[plugin_name] = f"register_{kind} raised {type(exc).__name__}: {exc}"
            continue
        bad = [o for o in collected if not isinstance(getattr(o, "name", None), str)]
        if bad:
            load_failures[plugin_name] = f"register_{kind} registered {bad[0]!r}, which has no 'name'"
            continue
        for obj in collected:
            missing = missing_members(obj, kind)
            if missing:  # checked against the contract's Protocol now, not when a user first calls it
                load_failures[plugin_name] = (
                    f"register_{kind}: {kind[:-1]} {obj.name!r} lacks {', '.join(missing)} (see emubench.contracts)"
                )
                continue
            reg.add(obj, plugin_name)
    _cache[kind] = reg
    return reg


def get(kind: str, name: str) -> Any:
    """The registered class of ``kind`` called ``name``; a one-line error with suggestions if unknown."""
    return get_registry(kind).get(name).obj
