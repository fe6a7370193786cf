"""training/ is one importable package, lowres_fer_training, whose module imports form a
graph without cycles, under thin command-line scripts (training/*.py) that only call
into it. The graph is read from the sources (every `import` and `from ... import`,
also those inside functions), so a cycle is caught even where Python would tolerate it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRAINING = ROOT / "training"
PACKAGE = "lowres_fer_training"


def modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    out = {}
    for path in sorted((TRAINING / PACKAGE).rglob("*.py")):
        parts = path.relative_to(TRAINING).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that module `name` imports (a name imported from a package
    counts as its submodule when there is one, else as the package itself)."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else [])) if node.level else node.module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_the_package_imports_form_no_cycle():
    edges = graph()
    assert len(edges) > 20 and f"{PACKAGE}.train" in edges
    order, state = [], {}

    def visit(node, stack):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", "import cycle: " + " -> ".join([*stack, node])
        state[node] = "open"
        for dep in sorted(edges[node]):
            visit(dep, [*stack, node])
        state[node] = "done"
        order.append(node)

    for node in sorted(edges):
        visit(node, [])
    assert len(order) == len(edges)


def test_defaults_depend_on_nothing_and_packages_import_nothing():
    edges = graph()
    assert edges[f"{PACKAGE}.defaults"] == set()
    for name, path in modules().items():
        if path.name == "__init__.py":
            assert edges[name] == set(), name  # importing a package runs no other module


def test_scripts_are_thin_entry_points_into_the_package():
    scripts = sorted(TRAINING.glob("*.py"))
    assert {p.name for p in scripts} >= {"train.py", "export.py", "calibrate.py", "quantize.py", "precision_check.py"}
    for path in scripts:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module.startswith(f"{PACKAGE}."), (path.name, node.module)
            elif isinstance(node, ast.Import):
                assert all(a.name == "sys" for a in node.names), (path.name, [a.name for a in node.names])
        defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert not defs, f"{path.name} defines {[d.name for d in defs]}: the code belongs in the package"


def test_precision_evaluate_needs_only_numpy_and_onnxruntime():
    """scripts/cpu_kinds_check.sh runs `precision_check.py evaluate` under qemu with numpy
    and ONNX Runtime alone: the script's imports must not reach torch or Pillow."""
    code = (
        "import sys; sys.argv = ['precision_check.py', '--help']\n"
        "import runpy\n"
        "try:\n    runpy.run_path('precision_check.py', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'PIL', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=TRAINING, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
