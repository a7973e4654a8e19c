"""The import rule between the training side and the robot side (DESIGN.md, "Import rule").

``agentic_rl`` reaches ``ros_bridge`` only through export (bundles written and read back, the
shared scene types), the CLI and robustness (which runs the exported policy through the
runtime); ``ros_bridge`` never imports torch or ``agentic_rl`` (it is vendored onto robots).
Checked on the source (every import statement, including ones inside functions), so a lazy
import cannot slip past.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The parts of agentic_rl that may import ros_bridge.
DOORS = ("agentic_rl/export", "agentic_rl/cli", "agentic_rl/robustness")


def imported_roots(path: Path) -> set[str]:
    """Top-level package names a module imports (absolute imports only)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def offenders(package: str, banned: set[str], allowed: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(allowed):
            continue
        hit = imported_roots(path) & banned
        if hit:
            bad.append(f"{rel} imports {sorted(hit)}")
    return bad


def test_agentic_rl_reaches_ros_bridge_only_through_export_cli_and_robustness():
    assert offenders("agentic_rl", {"ros_bridge"}, DOORS) == []


def test_ros_bridge_never_imports_torch_or_agentic_rl():
    assert offenders("ros_bridge", {"torch", "agentic_rl"}) == []


def test_the_scan_sees_imports_inside_functions(tmp_path):
    mod = tmp_path / "m.py"
    mod.write_text("def f():\n    from ros_bridge.bundle import load_bundle\n    import torch\n")
    assert imported_roots(mod) == {"ros_bridge", "torch"}
