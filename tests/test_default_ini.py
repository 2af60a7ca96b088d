"""The packaged INI shows the code's defaults: each default is defined once, in code, and the INI says it."""

from __future__ import annotations

from pathlib import Path

from orchestrator.config import load
from orchestrator.paths import packaged
from tests.default_values import default_of, same, shown_values

# Their default depends on who runs the master (root or not); the INI says so in words.
USER_DEPENDENT = {"state_dir", "log_dir"}


def test_every_value_the_default_ini_shows_is_the_code_default(tmp_path: Path) -> None:
    empty = tmp_path / "empty.ini"
    empty.write_text("")
    config = load(empty)
    shown = shown_values(packaged("edeposit-amqpd.ini"))
    assert len(shown) > 150, "the packaged INI should show every key"
    wrong = []
    for number, path, key, value, example in shown:
        default = default_of(config, path, key) if key != "password_file" else None
        if example and same(default, value) and key not in USER_DEPENDENT:
            wrong.append(f"line {number}: {key} = {value} is the default, but marked as an example")
        if not example and not same(default, value):
            wrong.append(f"line {number}: {key} = {value} is shown as the default; the code's is {default!r}")
    assert wrong == []


def test_the_packaged_ini_sets_nothing_so_the_defaults_stay_in_code() -> None:
    text = packaged("edeposit-amqpd.ini").read_text()
    values = [line for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#")]
    assert values == []


def test_a_key_the_packaged_ini_leaves_out_keeps_the_dataclass_default(tmp_path: Path) -> None:
    ini = tmp_path / "one.ini"
    ini.write_text("[daemons]\n  [[calibre]]\n  prefetch = 4\n")
    config = load(ini)
    assert config.daemon("calibre").prefetch == 4
    assert config.daemon("calibre").max_message_bytes == 64 * 1024 * 1024
    assert config.daemon("aleph").prefetch == 1
