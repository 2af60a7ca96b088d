"""The edeposit.amqp compatibility package: old names, values from the INI, delegation to the new code."""

from __future__ import annotations

import importlib
import json
import warnings
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from daemons.rpc.builtin import BUILTIN_DAEMONS
from daemons.rpc.wire import UnknownStructureError
from edeposit.amqp import serializers
from tests.fixtures.wire_files import WIRE

OLD_PREFIXES = ["ALEPH", "ALEPH_LINK_EXPORT", "ANTIVIRUS", "CALIBRE", "DOWNER", "FTP", "HARVESTER", "LTP", "MX2MODS",
                "PDFGEN", "STORAGE"]
OLD_SUFFIXES = ["VIRTUALHOST", "INPUT_QUEUE", "OUTPUT_QUEUE", "INPUT_KEY", "OUTPUT_KEY", "EXCHANGE"]
OLD_MODULES = {
    "aleph": ["aleph"], "aleph_link_export": ["aleph_link_export"], "antivirus": ["antivirus"],
    "calibre": ["calibre"], "downloader": ["downloader"], "ftp": ["ftp_manager"], "harvester": ["harvester"],
    "ltp": ["ltp"], "marcxml2mods": ["marcxml2mods"], "pdfgen": ["pdfgen"], "storage": ["storage"],
}


@pytest.fixture
def settings_from(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[object]:
    """`edeposit.amqp.settings` re-read from an INI the test writes (returned as a loader function)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    import edeposit.amqp.settings as settings

    def load(ini: str | None) -> ModuleType:
        if ini is None:
            monkeypatch.delenv("EDEPOSIT_AMQPD_CONFIG", raising=False)
        else:
            path = tmp_path / "amqpd.ini"
            path.write_text(ini)
            monkeypatch.setenv("EDEPOSIT_AMQPD_CONFIG", str(path))
        return importlib.reload(settings)

    yield load
    monkeypatch.undo()  # the environment of the other tests, then the module as they see it
    importlib.reload(settings)


def test_settings_has_every_old_constant_with_the_old_default_values(settings_from) -> None:
    settings = settings_from(None)
    names = {f"RABBITMQ_{prefix}_{suffix}" for prefix in OLD_PREFIXES for suffix in OLD_SUFFIXES}
    names |= {"RABBITMQ_HOST", "RABBITMQ_PORT", "RABBITMQ_USER_NAME", "RABBITMQ_USER_PASSWORD",
              "RABBITMQ_ALEPH_EXCEPTION_KEY", "SETTINGS_PATH"}
    assert set(settings.get_all_constants()) == names
    assert (settings.RABBITMQ_HOST, settings.RABBITMQ_PORT) == ("127.0.0.1", "5672")
    assert (settings.RABBITMQ_ALEPH_EXCHANGE, settings.RABBITMQ_ALEPH_LINK_EXPORT_INPUT_QUEUE) == ("search", "updater")
    assert (settings.RABBITMQ_MX2MODS_VIRTUALHOST, settings.RABBITMQ_MX2MODS_EXCHANGE) == ("marcxml2mods", "export")
    assert (settings.RABBITMQ_DOWNER_VIRTUALHOST, settings.RABBITMQ_FTP_EXCHANGE) == ("downloader", "ftp")
    assert settings.RABBITMQ_STORAGE_OUTPUT_QUEUE == "plone" and settings.RABBITMQ_CALIBRE_INPUT_KEY == "request"


def test_settings_take_their_values_from_the_ini(settings_from) -> None:
    settings = settings_from("[amqp]\nhost = localhost\nport = 5673\nuser = edeposit\n"
                             "[daemons]\n  [[marcxml2mods]]\n  vhost = mods\n  exchange = mods-x\n"
                             "  [[downloader]]\n  output_key = done\n")
    assert (settings.RABBITMQ_HOST, settings.RABBITMQ_PORT, settings.RABBITMQ_USER_NAME) == ("localhost", "5673",
                                                                                             "edeposit")
    assert (settings.RABBITMQ_MX2MODS_VIRTUALHOST, settings.RABBITMQ_MX2MODS_EXCHANGE) == ("mods", "mods-x")
    assert settings.RABBITMQ_DOWNER_OUTPUT_KEY == "done"
    hosts = settings.get_amqp_settings()
    assert set(hosts) == {prefix.lower() for prefix in OLD_PREFIXES}
    assert hosts["mx2mods"] == {"vhost": "mods", "exchange": "mods-x", "in_key": "request", "out_key": "result",
                                "queues": {"daemon": "request", "plone": "result"}}
    assert hosts["aleph_link_export"]["queues"] == {"updater": "request", "plone": "result"}


def test_substitute_globals_changes_the_constants_and_the_connection_parameters(settings_from) -> None:
    settings = settings_from(None)
    from edeposit.amqp import amqpdaemon

    settings.substitute_globals({"RABBITMQ_HOST": "localhost", "RABBITMQ_PORT": "5679", "RABBITMQ_NEW": "x",
                                 "RABBITMQ_ALEPH_EXCHANGE": ["not", "a", "simple", "type"]})
    assert not hasattr(settings, "RABBITMQ_NEW") and settings.RABBITMQ_ALEPH_EXCHANGE == "search"
    params = amqpdaemon.getConParams("aleph")
    assert (params.host, params.port, params.virtual_host) == ("localhost", 5679, "aleph")
    assert (params.credentials.username, params.credentials.password) == ("guest", "guest")
    settings.substitute_globals("not a dict")
    assert settings.RABBITMQ_HOST == "localhost"


def test_a_node_list_gives_the_old_api_its_first_node(settings_from) -> None:
    settings = settings_from("[amqp]\nhost = rabbit1:5673, rabbit2\n")
    from edeposit.amqp import amqpdaemon

    assert (settings.RABBITMQ_HOST, settings.RABBITMQ_PORT) == ("rabbit1", "5673")
    params = amqpdaemon.getConParams("aleph")
    assert (params.host, params.port) == ("rabbit1", 5673)


def test_settings_warn_when_old_json_settings_are_shadowed_by_the_ini(settings_from, tmp_path: Path) -> None:
    legacy = tmp_path / "home" / "edeposit" / "amqp.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({"RABBITMQ_HOST": "old.example"}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = settings_from("[amqp]\n")
    [warning] = [w for w in caught if w.category is settings.LegacySettingsWarning]
    assert f"old JSON settings {legacy} are ignored" in str(warning.message) and "RABBITMQ_HOST" in str(warning.message)
    assert settings.RABBITMQ_HOST == "127.0.0.1"


def test_serializers_speak_the_old_wire_format() -> None:
    from edeposit.amqp.aleph import ISBNQuery, SearchRequest

    body = (WIRE / "aleph-search-request.json").read_text()
    message = serializers.deserialize(body, {"SearchRequest": SearchRequest, "ISBNQuery": ISBNQuery, "x": 1})
    assert message == SearchRequest(ISBNQuery("80-251-0225-4", "nkc"))
    assert json.loads(serializers.serialize(message)) == json.loads(body)
    assert isinstance(serializers.serialize([message, {"n": (1, 2)}]), str)


def test_deserialize_builds_only_what_glob_holds() -> None:
    from edeposit.amqp.aleph import SearchRequest

    with pytest.raises(UnknownStructureError, match="unknown structure 'ISBNQuery'"):
        serializers.deserialize((WIRE / "aleph-search-request.json").read_text(), {"SearchRequest": SearchRequest})


def test_iiofany_compares_class_names_as_it_always_did() -> None:
    from edeposit.amqp.aleph import CountRequest, ISBNQuery

    Elsewhere = namedtuple("ISBNQuery", "ISBN base")  # a class of the same name defined elsewhere
    assert serializers.iiOfAny(Elsewhere("1", "nkc"), ISBNQuery)
    assert serializers.iiOfAny(ISBNQuery("1"), [CountRequest, ISBNQuery])
    assert not serializers.iiOfAny(ISBNQuery("1"), (CountRequest,))


@pytest.mark.parametrize("old", sorted(OLD_MODULES))
def test_each_old_daemon_module_exports_that_daemons_structures(old: str) -> None:
    module = importlib.import_module(f"edeposit.amqp.{old}")
    for daemon in OLD_MODULES[old]:
        handler = importlib.import_module(BUILTIN_DAEMONS[daemon].handler.partition(":")[0])
        for structure in handler.STRUCTURES:
            assert getattr(module, structure.__name__) is structure, f"{old}.{structure.__name__}"
    assert sorted(module.__all__) == sorted(name for name in vars(module) if not name.startswith("_")
                                            and name != "annotations")


def test_the_ftp_module_also_has_what_the_monitor_publishes() -> None:
    from edeposit.amqp.ftp import AddUser, DataPair, EbookFile, ImportRequest, MetadataFile  # noqa: F401


def test_react_fns_second_argument_is_the_uuid_and_sends_progress() -> None:
    from edeposit.amqp.amqpdaemon import UUIDSendBack

    sent: list[object] = []
    send_back = UUIDSendBack('{"session": 7}', sent.append)
    send_back("50 %")
    assert sent == ["50 %"] and send_back == '{"session": 7}' and "id " + send_back == 'id {"session": 7}'
    assert UUIDSendBack(42, sent.append) == "42"
