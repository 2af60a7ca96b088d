"""The docs stay true: every config key, command and daemon is documented."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from configobj import ConfigObj

from daemons.rpc.builtin import BUILTIN_DAEMONS
from orchestrator.cli import build_parser
from orchestrator.paths import packaged
from orchestrator.tool import build_parser as tool_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def spec_keys(section: dict, path: tuple[str, ...] = ()) -> set[str]:
    keys = set()
    for key, value in section.items():
        if key == "__many__" and not isinstance(value, dict):
            continue
        if isinstance(value, dict):
            keys |= spec_keys(value, (*path, key))
            if key not in ("__many__", "amqp", "orchestrator", "ftp", "daemons", "ftp_monitor"):
                keys.add(key)
        else:
            keys.add(key)
    return keys


def test_every_config_key_is_in_the_config_reference() -> None:
    spec = ConfigObj(str(packaged("configspec.ini")), list_values=False, _inspec=True)
    text = (DOCS / "config.rst").read_text()
    missing = sorted(k for k in spec_keys(spec) if f"``{k}``" not in text and f"``[[[{k}]]]``" not in text)
    assert not missing, f"undocumented config keys: {missing}"


def test_every_command_is_in_the_command_reference() -> None:
    text = (DOCS / "cli.rst").read_text()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = [name for name in sub.choices if not re.search(rf"``{re.escape(name)}\b", text)]
    assert not missing, f"undocumented commands: {missing}"
    options = [o for a in tool_parser()._actions for o in a.option_strings if o.startswith("--")]
    assert [o for o in options if o not in text and o != "--help"] == []


def test_every_daemon_has_a_page_in_the_index() -> None:
    index = (DOCS / "index.rst").read_text()
    for name in BUILTIN_DAEMONS:
        assert (DOCS / f"{name}.rst").exists(), f"docs/{name}.rst missing"
        assert f"   {name}\n" in index


def test_every_daemon_page_names_each_module_of_its_package() -> None:
    for name, settings in BUILTIN_DAEMONS.items():
        if not settings.handler.startswith("daemons."):
            continue
        page = (DOCS / f"{name}.rst").read_text()
        assert f"``{settings.handler}``" in page, f"docs/{name}.rst does not give its handler reference"
        modules = sorted((ROOT / "daemons" / name).glob("*.py"))
        missing = [m.name for m in modules if m.name != "__init__.py" and f"``daemons/{name}/{m.name}``" not in page]
        assert not missing, f"docs/{name}.rst does not name {missing}"


def test_the_sphinx_docs_build_without_warnings(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS), str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "index.html").exists()


def test_migration_guide_maps_every_old_name() -> None:
    import edeposit.amqp
    from edeposit.amqp import settings
    from orchestrator.legacy_json import OLD_DAEMON_PREFIXES, OLD_SUFFIXES
    from orchestrator.script_names import OLD_SCRIPTS, OLD_TOOL
    from orchestrator.tool import build_old_parser

    text = (DOCS / "migration.rst").read_text()
    assert "   migration\n" in (DOCS / "index.rst").read_text()
    for name in settings.get_all_constants():
        parts = name.removeprefix("RABBITMQ_")
        spelled = re.search(rf"\b{name}\b", text) is not None
        derived = any(parts == f"{prefix}_{suffix}" and f"``{prefix}``" in text and f"``{suffix}``" in text
                      for prefix in OLD_DAEMON_PREFIXES for suffix in OLD_SUFFIXES)
        assert spelled or derived, name
    modules = {p.stem for p in Path(edeposit.amqp.__file__).parent.glob("*.py") if p.stem != "__init__"}
    for module in modules:
        assert f"edeposit.amqp.{module}" in text or f"``.{module}``" in text, module
    for script in [*OLD_SCRIPTS, OLD_TOOL]:
        assert f"``{script}" in text, script
    for option in ("-n/--filename", "-r/--harvest", "-u/--unittest", "-f/--foreground"):
        assert option in text, option
    old_options = [o for a in build_old_parser()._actions for o in a.option_strings if o not in ("-h", "--help")]
    cli = (DOCS / "cli.rst").read_text()
    assert [o for o in old_options if o not in cli] == []
