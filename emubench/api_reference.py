"""The API reference in docs/api.md, generated from the public names' signatures and docstrings.

``python -m emubench.api_reference > docs/api.md`` rewrites it; ``tests/test_docs.py`` fails when the file and
the code disagree, so the reference cannot drift. The public API is ``emubench.__all__`` and
``emubench.stats.__all__``; everything else is internal.
"""

from __future__ import annotations

import inspect
from typing import Any

HEADER = """# API reference

Generated from the docstrings by `python -m emubench.api_reference > docs/api.md`; the test suite fails when
this file and the code disagree. The public API is what `emubench` exports and `emubench.stats`; everything
else is internal and may change. How the pieces fit together: [plugins.md](plugins.md); units: maps are κ,
float32, `(n, H, W)`; `side_deg` is the map side in degrees; ℓ is the multipole.
"""


def _doc(obj: Any) -> str:
    doc = inspect.getdoc(obj) or "(no docstring)"
    return "\n".join(line.rstrip() for line in doc.splitlines())


class _Raw(str):
    """An annotation written as a string (``from __future__ import annotations``), shown as written, unquoted."""

    def __repr__(self) -> str:
        return str(self)


def _signature(obj: Any) -> str:
    """The signature as code: annotations unquoted, default values as Python writes them ("cpu", not cpu)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # some builtins and C types have none
        return "(...)"
    raw = lambda a: _Raw(a) if isinstance(a, str) else a  # noqa: E731
    params = [p.replace(annotation=raw(p.annotation)) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=raw(sig.return_annotation)))


def _members(cls: type) -> list[tuple[str, Any]]:
    """The public methods and properties a class defines itself (not inherited from object or Protocol)."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_") and not (name == "__init__" and getattr(value, "__doc__", None)):
            continue  # private; an __init__ without a docstring of its own says nothing the class does not
        if isinstance(value, (classmethod, staticmethod)):
            out.append((name, value.__func__))
        elif isinstance(value, property) or inspect.isfunction(value):
            out.append((name, value))
    return out


def _entry(qualname: str, obj: Any) -> str:
    if inspect.isclass(obj):
        text = f"### `{qualname}`\n\n```python\nclass {obj.__name__}{_signature(obj)}\n```\n\n{_doc(obj)}\n"
        for name, member in _members(obj):
            if isinstance(member, property):
                text += f"\n- `{name}` (property): {_doc(member).splitlines()[0]}\n"
            else:
                first = _doc(member).split("\n\n")[0].replace("\n", " ")
                text += f"\n- `{name}{_signature(member)}`: {first}\n"
        return text
    if inspect.isfunction(obj):
        return f"### `{qualname}`\n\n```python\n{obj.__name__}{_signature(obj)}\n```\n\n{_doc(obj)}\n"
    if qualname == "emubench.hookimpl":
        return (
            f'### `{qualname}`\n\nThe pluggy marker of hook implementations (`pluggy.HookimplMarker("emubench")`):'
            " decorate a plugin module's `register_*` functions with `@hookimpl`.\n"
        )
    return f"### `{qualname}`\n\n`{type(obj).__name__}`: `{obj!r}`\n"


def markdown() -> str:
    """docs/api.md as it should read: ``emubench``'s names, then ``emubench.stats``', each in ``__all__`` order."""
    import emubench
    import emubench.stats

    parts = [HEADER, "## `emubench`\n"]
    for name in emubench.__all__:
        if name in ("__version__",):
            continue
        parts.append(_entry(f"emubench.{name}", getattr(emubench, name)))
    parts.append("## `emubench.stats`\n")
    for name in emubench.stats.__all__:
        parts.append(_entry(f"emubench.stats.{name}", getattr(emubench.stats, name)))
    return "\n".join(parts)


if __name__ == "__main__":
    print(markdown(), end="")
