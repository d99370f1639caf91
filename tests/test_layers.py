"""The package's layers, as the README's Layout lists them: every module is
listed, and no module imports, when it is loaded, a module of a later layer
(imports inside functions, made when called, may reach up: ``fit_many``
fits estimators)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "stanmix"
#: Modules the Layout need not list: the version string, ``python -m``.
UNLISTED = {"_version", "__main__"}


def _layers() -> list[list[str]]:
    """The README's Layout of ``stanmix/``: the module names of each layer,
    in order (a layer's names may continue on the next line after a
    trailing comma)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text[text.index("    stanmix/     the package") :]
    block = block[: block.index("    notebooks/")]
    layers: list[list[str]] = []
    open_ended = False
    for line in block.splitlines()[1:]:
        left = re.split(r"\s{2,}", line.strip())[0] if line[17:18].strip() else ""
        if not left:
            continue
        names = [n.strip().rstrip("/") for n in left.split(",") if n.strip()]
        if not all(re.fullmatch(r"[_a-z][_a-z0-9]*", n) for n in names):
            continue  # the block's heading, wrapped
        if open_ended:
            layers[-1].extend(names)
        else:
            layers.append(names)
        open_ended = left.endswith(",")
    return layers


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def _layer_of(module: str, layers: list[list[str]]) -> int | None:
    for i, names in enumerate(layers):
        if module.split(".")[0] in names:
            return i
    return None


def _load_time_imports(path: Path) -> set[str]:
    """The stanmix modules a module imports at its top level."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "stanmix":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("stanmix."):
                found.add(node.module.removeprefix("stanmix."))
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.removeprefix("stanmix.")
                for alias in node.names
                if alias.name.startswith("stanmix.")
            )
    return found


def test_the_readme_layout_lists_every_module():
    layers = _layers()
    listed = {name for names in layers for name in names}
    modules = {_module_name(p).split(".")[0] for p in PACKAGE.rglob("*.py")}
    missing = modules - listed - UNLISTED - {"__init__"}
    assert not missing, f"modules missing from the README's Layout: {missing}"
    assert listed <= modules, f"listed but not in stanmix/: {listed - modules}"


def test_modules_import_only_from_their_own_or_earlier_layers():
    layers = _layers()
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        mine = _layer_of(module, layers)
        if mine is None:  # the package's __init__ and the unlisted ones
            continue
        for target in _load_time_imports(path):
            theirs = _layer_of(target, layers)
            if theirs is not None and theirs > mine:
                upward.append(f"{module} imports {target}")
    assert not upward, "imports of a later layer: " + "; ".join(upward)
