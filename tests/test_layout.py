"""The layout shows the architecture, and imports follow it (DESIGN §1)."""

from __future__ import annotations

import ast
from pathlib import Path

from daemons.rpc.builtin import BUILTIN_DAEMONS

ROOT = Path(__file__).resolve().parent.parent
DAEMONS = ROOT / "daemons"
RPC_DAEMONS = sorted(name for name, settings in BUILTIN_DAEMONS.items() if settings.handler.startswith("daemons."))


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_daemons_holds_one_package_per_daemon_and_the_runtime_only() -> None:
    entries = {p.name for p in DAEMONS.iterdir() if p.name != "__pycache__"}
    assert entries == {"__init__.py", "rpc", "common", "testing", *RPC_DAEMONS}


def test_every_built_in_daemon_package_has_its_handler_module() -> None:
    for name in RPC_DAEMONS:
        assert BUILTIN_DAEMONS[name].handler == f"daemons.{name}.handler:react"
        assert (DAEMONS / name / "handler.py").is_file()


def test_runtime_and_common_formats_never_import_a_daemon_package() -> None:
    daemon_packages = tuple(f"daemons.{name}" for name in RPC_DAEMONS)
    wrong = []
    for part in ("rpc", "common"):
        for path in sorted((DAEMONS / part).rglob("*.py")):
            for module in imported_modules(path):
                if module.startswith(daemon_packages) or module.startswith(("orchestrator", "ftp_monitor")):
                    wrong.append(f"{path.relative_to(ROOT)} imports {module}")
                if part == "common" and module.startswith("daemons.rpc"):
                    wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


def test_the_daemons_package_imports_neither_the_master_nor_ftp_monitor() -> None:
    wrong = [f"{path.relative_to(ROOT)} imports {module}"
             for path in sorted(DAEMONS.rglob("*.py")) for module in imported_modules(path)
             if module.startswith(("orchestrator", "ftp_monitor", "tests"))]
    assert wrong == []


def test_a_daemon_package_imports_no_other_daemon_package() -> None:
    wrong = []
    for name in RPC_DAEMONS:
        others = tuple(f"daemons.{other}." for other in RPC_DAEMONS if other != name)
        for path in sorted((DAEMONS / name).rglob("*.py")):
            wrong += [f"{path.relative_to(ROOT)} imports {m}" for m in imported_modules(path) if m.startswith(others)]
    assert wrong == []


def test_nothing_imports_the_compatibility_package() -> None:
    """edeposit/ only delegates to the other packages; none of them may depend on it."""
    wrong = [f"{path.relative_to(ROOT)} imports {module}"
             for package in ("daemons", "orchestrator", "ftp_monitor")
             for path in sorted((ROOT / package).rglob("*.py")) for module in imported_modules(path)
             if module == "edeposit" or module.startswith("edeposit.")]
    assert wrong == []
