"""The package's layers import one way only (docs/architecture.md, "Layout"), with no import circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hpe_ros"

# What each top-level package may import from hpe_ros (itself included).
_BASE = {"core"}
ALLOWED: dict[str, set[str]] = {
    "core": _BASE,
    "models": _BASE | {"models"},
    "datasets": _BASE | {"datasets"},
    "pipelines": _BASE | {"models", "datasets", "pipelines"},
    "simulation": _BASE | {"models", "datasets", "pipelines", "simulation"},
    "evaluation": _BASE | {"models", "datasets", "pipelines", "simulation", "evaluation"},
    "training": _BASE | {"models", "datasets", "pipelines", "simulation", "evaluation", "training"},
    "io": _BASE | {"models", "datasets", "pipelines", "io"},
    "nodes": _BASE | {"models", "datasets", "pipelines", "io", "nodes"},
}
# Inside pipelines: the stages after the networks know nothing of the paths that feed them.
PIPELINE_STAGES_FORBIDDEN = {
    "output": {"rgb", "events", "tracking"},
    "tracking": {"rgb", "events", "output"},
    "backends": {"rgb", "events", "output", "tracking"},
    "events": {"rgb", "tracking"},
    "rgb": {"events", "tracking"},
}
ROS_PREFIXES = ("rclpy", "launch", "launch_ros")  # cv_bridge is plain image conversion: io may use it


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _imports(name: str, path: Path, module_level_only: bool = False) -> set[str]:
    """Absolute names of the modules ``path`` imports (lazy imports in functions too, unless told)."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "hpe_ros" and (PACKAGE / parts[1]).is_dir() else None


MODULES = dict(_modules())


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_follow_the_layers(name: str) -> None:
    layer = _layer(name)
    imported = _imports(name, MODULES[name])
    if layer in ALLOWED:
        wrong = sorted(m for m in imported if _layer(m) not in (None, *ALLOWED[layer]))
        assert not wrong, f"{name} ({layer}) imports {wrong}"
    if layer not in ("nodes", "cli"):
        ros = sorted(m for m in imported if m.split(".")[0] in ROS_PREFIXES)
        assert not ros, f"{name} below nodes imports {ros}"
    parts = name.split(".")
    if layer == "pipelines" and len(parts) > 3 and parts[2] in PIPELINE_STAGES_FORBIDDEN:
        inside = [m.split(".") for m in imported if m.startswith("hpe_ros.pipelines.")]
        stage_of = {m[2] for m in inside if len(m) > 3}
        wrong_stages = sorted(stage_of & PIPELINE_STAGES_FORBIDDEN[parts[2]])
        assert not wrong_stages, f"{name} imports pipelines stages {wrong_stages}"


def test_no_import_circle_at_module_level() -> None:
    graph = {
        name: {m for m in _imports(name, path, module_level_only=True) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circle = trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
                pytest.fail("import circle: " + " -> ".join(circle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
