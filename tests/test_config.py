"""The INI config: lookup order, validation messages, password files and the old JSON settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.config import BUILTIN, ConfigError, load
from orchestrator.paths import SYSTEM_CONFIG


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def check_config(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "EDEPOSIT_AMQPD_CONFIG"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "orchestrator", *args, "check-config"],
                          capture_output=True, text=True, env=full_env, timeout=60)


@pytest.fixture(autouse=True)
def no_outside_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EDEPOSIT_AMQPD_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert not SYSTEM_CONFIG.exists(), "these tests assume no system-wide config on the test machine"


def test_builtin_defaults_define_the_twelve_daemons_with_old_names() -> None:
    config = load(None)
    assert config.source == BUILTIN
    assert len(config.daemons) == 12
    aleph = config.daemon("aleph")
    assert (aleph.vhost, aleph.exchange) == ("aleph", "search")
    assert (aleph.input_queue, aleph.output_queue) == ("daemon", "plone")
    assert aleph.extra_exchanges == ("count", "validate", "export")
    link = config.daemon("aleph_link_export")
    assert (link.vhost, link.exchange, link.input_queue) == ("aleph", "update-links", "updater")
    assert config.daemon("storage").exchange == "export"
    assert config.daemon("ftp_monitor").input_queue is None


def test_partial_file_keeps_every_builtin_daemon(tmp_path: Path) -> None:
    config = load(write(tmp_path / "a.ini", "[amqp]\nhost = localhost\n"))
    assert config.amqp.host == "localhost"
    assert set(config.daemons) >= {"aleph", "calibre", "ftp_monitor", "marcxml2mods"}


def test_env_variable_is_used_when_no_path_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "env.ini", "[amqp]\nport = 5673\n")
    monkeypatch.setenv("EDEPOSIT_AMQPD_CONFIG", str(path))
    config = load(None)
    assert config.source == str(path)
    assert config.amqp.port == 5673


def test_bad_value_names_file_section_key_value_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.ini", "[daemons]\n  [[aleph]]\n  prefetch = lots\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert str(path) in message
    assert "[daemons] [[aleph]] prefetch = 'lots'" in message
    assert "expected integer(min=1, max=1000)" in message


def test_unknown_key_is_an_error_that_lists_the_known_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.ini", "[amqp]\nhots = x\n")
    with pytest.raises(ConfigError, match=r"\[amqp\]: unknown key 'hots'; expected one of: .*host"):
        load(path)


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown section 'amqpp'"):
        load(write(tmp_path / "bad.ini", "[amqpp]\nhost = x\n"))


def test_own_daemon_needs_a_handler(tmp_path: Path) -> None:
    path = write(tmp_path / "own.ini", "[daemons]\n  [[mine]]\n  vhost = v\n  exchange = e\n")
    with pytest.raises(ConfigError, match=r"\[\[mine\]\] handler: missing"):
        load(path)


def test_own_daemon_gets_default_routing(tmp_path: Path) -> None:
    path = write(tmp_path / "own.ini", "[daemons]\n  [[mine]]\n  handler = m:react\n  vhost = v\n  exchange = e\n")
    mine = load(path).daemon("mine")
    assert (mine.input_queue, mine.output_queue, mine.input_key, mine.output_key) == (
        "daemon", "plone", "request", "result")


def test_password_file_is_read(tmp_path: Path) -> None:
    secret = write(tmp_path / "pw", "s3cret\n")
    secret.chmod(0o600)
    config = load(write(tmp_path / "a.ini", f"[amqp]\npassword_file = {secret}\n"))
    assert config.amqp.password == "s3cret"


def test_password_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    secret = write(tmp_path / "pw", "s3cret\n")
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match=r"password_file = .*readable by others \(mode 0644\).*chmod 600"):
        load(write(tmp_path / "a.ini", f"[amqp]\npassword_file = {secret}\n"))


def test_state_dir_defaults_follow_the_user(tmp_path: Path) -> None:
    config = load(write(tmp_path / "a.ini", f"[orchestrator]\nstate_dir = {tmp_path}/st\n"))
    assert config.orchestrator.log_dir == tmp_path / "st" / "log"
    assert config.daemon("storage").data_dir == tmp_path / "st" / "storage"


def test_old_json_settings_apply_with_a_warning_showing_the_ini(tmp_path: Path) -> None:
    legacy = tmp_path / "home" / "edeposit" / "amqp.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({
        "RABBITMQ_HOST": "localhost", "RABBITMQ_PORT": "5673",
        "RABBITMQ_ALEPH_VIRTUALHOST": "aleph-old", "RABBITMQ_FTP_EXCHANGE": "ftp-old",
        "RABBITMQ_DOWNER_INPUT_QUEUE": "dl-in", "SOMETHING_ELSE": 1,
    }))
    config = load(None)
    assert config.amqp.port == 5673 and config.amqp.host == "localhost"
    assert config.daemon("aleph").vhost == "aleph-old"
    assert config.daemon("ftp_manager").exchange == config.daemon("ftp_monitor").exchange == "ftp-old"
    assert config.daemon("downloader").input_queue == "dl-in"
    [warning] = config.warnings
    assert str(legacy) in warning
    assert "[[aleph]]\n  vhost = aleph-old" in warning
    assert "SOMETHING_ELSE" in warning


def test_an_ini_file_wins_over_old_json_settings_and_the_warning_names_the_ignored_keys(tmp_path: Path) -> None:
    legacy = tmp_path / "home" / "edeposit" / "amqp.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({"RABBITMQ_PORT": "5673", "RABBITMQ_HOST": "127.0.0.1",
                                  "RABBITMQ_USER_PASSWORD": "old-secret", "RABBITMQ_MX2MODS_EXCHANGE": "mods"}))
    ini = write(tmp_path / "a.ini", "[amqp]\n")
    config = load(ini)
    assert config.amqp.port == 5672 and config.daemon("marcxml2mods").exchange == "export"
    [warning] = config.warnings
    assert warning.startswith(f"old JSON settings {legacy} are ignored: {ini} is used instead")
    assert "ignored keys: RABBITMQ_HOST, RABBITMQ_MX2MODS_EXCHANGE, RABBITMQ_PORT, RABBITMQ_USER_PASSWORD" in warning
    assert f"{ini} has other values for RABBITMQ_MX2MODS_EXCHANGE, RABBITMQ_PORT, RABBITMQ_USER_PASSWORD" in warning
    assert "old-secret" not in warning


def test_check_config_and_start_all_say_that_the_ini_wins_over_old_json_settings(tmp_path: Path) -> None:
    legacy = tmp_path / "home" / "edeposit" / "amqp.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({"RABBITMQ_PORT": "5673"}))
    ini = write(tmp_path / "a.ini", f"[amqp]\nport = 1\n[orchestrator]\nstate_dir = {tmp_path / 'state'}\nuser =\n")
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    for command in ("check-config", "start-all"):
        done = subprocess.run([sys.executable, "-m", "orchestrator", "-c", str(ini), command],
                              capture_output=True, text=True, env=env, timeout=60)
        assert f"warning: old JSON settings {legacy} are ignored: {ini} is used instead" in done.stderr, command
        assert "ignored keys: RABBITMQ_PORT" in done.stderr
    assert done.returncode == 1 and "no broker answers at 127.0.0.1:1" in done.stderr


def test_old_mx2mods_keys_set_the_marcxml2mods_daemon(tmp_path: Path) -> None:
    legacy = tmp_path / "home" / "edeposit" / "amqp.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({"RABBITMQ_MX2MODS_VIRTUALHOST": "mods-old", "RABBITMQ_MX2MODS_INPUT_QUEUE": "q",
                                  "RABBITMQ_MX2MODS_OUTPUT_KEY": "done"}))
    config = load(None)
    mods = config.daemon("marcxml2mods")
    assert (mods.vhost, mods.input_queue, mods.output_key) == ("mods-old", "q", "done")
    assert "ignored keys" not in config.warnings[0]


def test_check_config_exits_0_for_the_packaged_defaults(tmp_path: Path) -> None:
    from tests.fixtures.accounts import daemon_user_of_setup

    with daemon_user_of_setup():  # as root, the daemons run as the user setup makes
        done = check_config(env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "OK (12 enabled daemons" in done.stdout


def test_check_config_exits_2_and_names_the_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.ini", "[amqp]\nport = 70000\n")
    done = check_config("-c", str(path))
    assert done.returncode == 2
    assert f"{path}: [amqp] port = '70000'" in done.stderr


def test_check_config_reports_a_handler_that_cannot_be_imported(tmp_path: Path) -> None:
    path = write(tmp_path / "own.ini",
                 "[daemons]\n  [[mine]]\n  handler = no_such_module:react\n  vhost = v\n  exchange = e\n")
    done = check_config("-c", str(path))
    assert done.returncode == 2
    assert "[[mine]] handler = 'no_such_module:react': cannot import: ModuleNotFoundError" in done.stderr


def test_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    done = check_config("-c", str(tmp_path / "nope.ini"))
    assert done.returncode == 2
    assert "config file not found" in done.stderr
