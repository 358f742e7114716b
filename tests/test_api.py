"""The public API and the direction of imports: what plugins may import, what imports what.

- The reference plugins (everything under plugins/) import only the public API: ``emubench`` and
  ``emubench.stats`` (an AST walk; it would fail on ``from emubench.checkpoint import ...``).
- ``emubench.stats`` is the bottom layer: it imports nothing from the rest of emubench.
- No module imports another package's private ``_module``.
- Module-level imports inside emubench form no cycle.
- Every name the public API exports resolves, and every registered plugin method accepts what its contract
  passes.
"""

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = {"emubench", "emubench.stats"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "plugins":
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_module(name: str) -> bool:
    """True if ``name`` is a module or package of this repository (emubench.x.y or cosmogan_dcgan.x)."""
    parts = name.split(".")
    for base in (ROOT, ROOT / "plugins"):
        p = base.joinpath(*parts)
        if p.with_suffix(".py").exists() or (p / "__init__.py").exists():
            return True
    return False


def imports(path: Path, top_level_only: bool = False, module: str | None = None) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in ``path`` that can run (not under ``if TYPE_CHECKING:``);
    ``top_level_only``: only those that run when the module is imported (not inside functions). ``module``: the
    file's dotted name, for relative imports (default: from its place in the repository)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    me = module or module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    typing_only = {
        id(n)
        for top in ast.walk(tree)
        if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test)
        for n in ast.walk(top)
    }
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((mod, node.lineno))
            # `from . import stats` imports the submodule emubench.stats
            found += [(f"{mod}.{a.name}", node.lineno) for a in node.names if is_module(f"{mod}.{a.name}")]
    return found


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_the_reference_plugin_imports_only_the_public_api():
    bad = [
        f"{p.relative_to(ROOT)}:{line} imports {mod}"
        for p in sources("plugins")
        for mod, line in imports(p)
        if mod.startswith("emubench") and mod not in PUBLIC
    ]
    assert not bad, "\n".join(bad)


def test_the_ast_check_would_catch_a_private_import(tmp_path):
    """The check above is not vacuous: a plugin file importing an internal module is found. The probe is written
    to a temporary folder, never into the source tree (where ruff, run by another test worker, would see it)."""
    plugin = tmp_path / "_probe_private_import.py"
    plugin.write_text("from emubench.checkpoint import load_checkpoint\nimport emubench.io\nfrom . import train\n")
    found = imports(plugin, module="cosmogan_dcgan._probe_private_import")
    assert [mod for mod, _ in found if mod.startswith("emubench") and mod not in PUBLIC] == [
        "emubench.checkpoint",
        "emubench.io",
    ]
    assert ("cosmogan_dcgan.train", 3) in found  # relative imports resolve against the module's package


def test_stats_imports_nothing_from_the_rest_of_emubench():
    bad = [
        f"{p.relative_to(ROOT)}:{line} imports {mod}"
        for p in sources("emubench/stats")
        for mod, line in imports(p)
        if mod.startswith("emubench") and not mod.startswith("emubench.stats")
    ]
    assert not bad, "\n".join(bad)


def test_no_module_imports_another_packages_private_module():
    bad = []
    for p in sources("emubench") + sources("plugins"):
        me = module_name(p)
        for mod, line in imports(p):
            parts = mod.split(".")
            for i, part in enumerate(parts):
                if part.startswith("_") and not part.startswith("__"):
                    owner = ".".join(parts[:i])
                    if not (me == owner or me.startswith(owner + ".")):
                        bad.append(f"{p.relative_to(ROOT)}:{line} imports {mod}")
    assert not bad, "\n".join(bad)


def test_imports_form_no_cycle():
    """No cycle among emubench's modules, counting the imports inside functions too (a lazy import is still a
    dependency): the layers point one way (stats ← data ← metrics ← scoring ← pipeline ← cli)."""
    graph = {}
    for p in sources("emubench"):
        graph[module_name(p)] = {m for m, _ in imports(p) if m.startswith("emubench")}
    # importing a.b imports the package a first: an edge to a package is an edge to its __init__
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if n == m or n not in graph:
                continue
            if state.get(n) == 1:
                cycle = path[path.index(n) :] + [n]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_public_api_names_resolve():
    import emubench

    for name in emubench.__all__:
        assert getattr(emubench, name) is not None, name
    import emubench.stats

    for name in emubench.stats.__all__:
        assert callable(getattr(emubench.stats, name)), name


def test_import_emubench_loads_no_heavy_package():
    code = (
        "import sys, emubench, emubench.cli; "
        "print(sorted(m for m in ('torch', 'scipy', 'pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


OPTIONAL = {"params"}  # passed only to a model conditioned on cosmology (the contract says so)


def _binds(obj, protocol, member: str) -> str | None:
    """Why ``obj.member`` cannot be called as the harness calls the protocol's ``member`` (each of its
    parameters but ``OPTIONAL``, by keyword or position as declared), or None when it can."""
    static = inspect.getattr_static(protocol, member)
    is_classmethod = isinstance(static, classmethod)
    declared = list(inspect.signature(static.__func__ if is_classmethod else static).parameters.values())[1:]
    args = [None for p in declared if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    kwargs = {p.name: None for p in declared if p.kind is p.KEYWORD_ONLY and p.name not in OPTIONAL}
    target = getattr(obj, member)  # a class's classmethod is bound; its method still needs self
    try:
        inspect.signature(target).bind(*([] if is_classmethod else [None]), *args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


def _methods(protocol) -> list[str]:
    from emubench.contracts import protocol_members

    return [
        m
        for m in protocol_members(protocol)
        if isinstance(inspect.getattr_static(protocol, m, None), (classmethod, type(lambda: 0)))
    ]


@pytest.mark.parametrize("kind", ["datasets", "models", "trainers", "metrics"])
def test_every_registered_method_takes_the_arguments_its_contract_passes(kind):
    """Registration checks that the members exist; this checks that each method accepts what the harness passes
    (a ``sample(n, seed)`` where the contract passes ``device=`` too would fail only when a user calls it)."""
    from emubench.contracts import KIND_PROTOCOLS
    from emubench.registry import get_registry

    wrong = []
    for entry in get_registry(kind):
        for protocol in KIND_PROTOCOLS[kind]:
            if not all(hasattr(entry.obj, m) for m in _methods(protocol)):
                continue  # a model satisfies one of its two protocols
            wrong += [f"{entry.name}.{m}: {why}" for m in _methods(protocol) if (why := _binds(entry.obj, protocol, m))]
    assert not wrong, wrong


def test_the_built_in_generated_datasets_are_generator_datasets():
    """The null's fresh maps and perfect emulators need the two members of ``GeneratorDataset``; the embedded
    datasets have them with the signatures it declares (a conditional one takes ``params`` besides)."""
    from emubench.contracts import GeneratorDataset
    from emubench.registry import get_registry

    generated = [e for e in get_registry("datasets") if e.name.startswith("lognormal")]
    assert len(generated) == 4
    for entry in generated:
        assert isinstance(entry.obj(), GeneratorDataset), entry.name
        assert [m for m in _methods(GeneratorDataset) if _binds(entry.obj, GeneratorDataset, m)] == [], entry.name


def test_the_signature_check_would_catch_a_missing_keyword():
    from emubench.contracts import Model

    class Bad:
        def sample(self, n, *, seed):  # no device
            return None

    class Good:
        @classmethod
        def fit(cls, train, *, seed=0):
            return cls()

        def sample(self, n, *, seed, device="cpu"):  # unconditional: no params, as the contract allows
            return None

    assert _binds(Bad, Model, "sample") is not None
    assert _binds(Good, Model, "sample") is None and _binds(Good, Model, "fit") is None
    assert _methods(Model) == ["fit", "sample"]


def test_the_report_names_no_metric():
    """Reports show every metric through what it declares (``headline``, ``plots``, ``explain``, ``disqualifies``,
    ``reach``) and the conventions of its rows, so a plugin's metric is shown exactly like a built-in one: no
    string in emubench/report/ is a metric's name (or "name/aspect")."""
    from emubench.registry import get_registry

    names = {e.name for e in get_registry("metrics")}
    found = []
    for path in sources("emubench/report"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value in names or node.value.split("/")[0] in names:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not found, found
