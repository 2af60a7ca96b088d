"""The monitor's options: defaults, and errors that name the option, the value and the fix."""

from __future__ import annotations

import pytest

from daemons.rpc.loader import HandlerError
from ftp_monitor.options import load_options
from tests.fixtures.ftp_log import monitor_settings


def settings(tmp_path, **options):
    return monitor_settings("v", tmp_path, tmp_path / "extended.log", tmp_path / "homes", tmp_path / "passwd",
                            **options)


def test_defaults_keep_events_off_and_start_at_the_end(tmp_path):
    options = load_options(settings(tmp_path))
    assert options.events is False and options.start_at_end is True
    assert options.rules.import_key == "result" and options.event_bindings == []
    assert options.rules.defaults.rules.isbn_pairing is True


def test_event_key_equal_to_the_output_key_is_refused_with_the_reason(tmp_path):
    with pytest.raises(HandlerError, match=r"event_key = 'result'.*old consumers"):
        load_options(settings(tmp_path, event_key="result"))


def test_bad_value_names_the_option_and_the_value(tmp_path):
    with pytest.raises(HandlerError, match=r"max_file_bytes = 'lots'"):
        load_options(settings(tmp_path, max_file_bytes="lots"))


def test_event_queue_is_bound_to_every_event_key(tmp_path):
    options = load_options(settings(tmp_path, event_queue="uploads", event_key="ftp-event"))
    assert options.event_bindings == [("uploads", "ftp-event.#")]


def test_global_switch_off_stays_off_whatever_the_user_has(tmp_path):
    from ftp_monitor.events import RecordHandler

    options = load_options(settings(tmp_path, isbn_pairing="false"))
    user_settings = RecordHandler(options.rules).settings_for("alice")  # alice has no flags: all on
    assert user_settings.rules.isbn_pairing is False and user_settings.rules.same_dir_pairing is True
