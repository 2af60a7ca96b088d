"""The old `edeposit.amqp.settings`: every `RABBITMQ_*` constant, with its value from the INI.

The values come from the config the usual lookup finds (`$EDEPOSIT_AMQPD_CONFIG`, /etc/edeposit/amqpd.ini,
else the built-in defaults, which equal the old values; old JSON settings apply only without an INI, as
for every command). Warnings about the config (e.g. an old amqp.json that the INI overrides) are issued
as `LegacySettingsWarning` when this module is imported.

`substitute_globals(dict)` still changes the constants at run time, as it did; `getConParams()` and
`get_amqp_settings()` read the changed values.
"""

from __future__ import annotations

import warnings
from typing import Any

from orchestrator.config import Config, load
from orchestrator.legacy_json import OLD_DAEMON_PREFIXES, OLD_SUFFIXES


class LegacySettingsWarning(UserWarning):
    """Something about the config an old program should know (shown once per import)."""


_config: Config = load(None)
for _warning in _config.warnings:
    warnings.warn(_warning, LegacySettingsWarning, stacklevel=2)


def loaded_config() -> Config:
    """The config the constants came from (not an old name: for the other compatibility modules)."""
    return _config


def _value(prefix: str, suffix: str) -> str:
    daemon = _config.daemon(OLD_DAEMON_PREFIXES[prefix])
    return str(getattr(daemon, OLD_SUFFIXES[suffix]))


SETTINGS_PATH = "/edeposit/amqp.json"  # appended to $HOME and /etc: the old JSON settings' places

# The old API knows one broker: with a node list in [amqp] host, it gets the first node.
RABBITMQ_HOST = _config.amqp.nodes[0][0]
RABBITMQ_PORT = str(_config.amqp.nodes[0][1])  # text, as it was
RABBITMQ_USER_NAME = _config.amqp.user
RABBITMQ_USER_PASSWORD = _config.amqp.password

RABBITMQ_ALEPH_VIRTUALHOST = _value("ALEPH", "VIRTUALHOST")
RABBITMQ_ALEPH_INPUT_QUEUE = _value("ALEPH", "INPUT_QUEUE")
RABBITMQ_ALEPH_OUTPUT_QUEUE = _value("ALEPH", "OUTPUT_QUEUE")
RABBITMQ_ALEPH_EXCHANGE = _value("ALEPH", "EXCHANGE")
RABBITMQ_ALEPH_INPUT_KEY = _value("ALEPH", "INPUT_KEY")
RABBITMQ_ALEPH_OUTPUT_KEY = _value("ALEPH", "OUTPUT_KEY")
RABBITMQ_ALEPH_EXCEPTION_KEY = "exception"  # unused: errors go out on the output key

RABBITMQ_CALIBRE_VIRTUALHOST = _value("CALIBRE", "VIRTUALHOST")
RABBITMQ_CALIBRE_INPUT_QUEUE = _value("CALIBRE", "INPUT_QUEUE")
RABBITMQ_CALIBRE_OUTPUT_QUEUE = _value("CALIBRE", "OUTPUT_QUEUE")
RABBITMQ_CALIBRE_EXCHANGE = _value("CALIBRE", "EXCHANGE")
RABBITMQ_CALIBRE_INPUT_KEY = _value("CALIBRE", "INPUT_KEY")
RABBITMQ_CALIBRE_OUTPUT_KEY = _value("CALIBRE", "OUTPUT_KEY")

RABBITMQ_FTP_VIRTUALHOST = _value("FTP", "VIRTUALHOST")
RABBITMQ_FTP_INPUT_QUEUE = _value("FTP", "INPUT_QUEUE")
RABBITMQ_FTP_OUTPUT_QUEUE = _value("FTP", "OUTPUT_QUEUE")
RABBITMQ_FTP_EXCHANGE = _value("FTP", "EXCHANGE")
RABBITMQ_FTP_INPUT_KEY = _value("FTP", "INPUT_KEY")
RABBITMQ_FTP_OUTPUT_KEY = _value("FTP", "OUTPUT_KEY")

RABBITMQ_ANTIVIRUS_VIRTUALHOST = _value("ANTIVIRUS", "VIRTUALHOST")
RABBITMQ_ANTIVIRUS_INPUT_QUEUE = _value("ANTIVIRUS", "INPUT_QUEUE")
RABBITMQ_ANTIVIRUS_OUTPUT_QUEUE = _value("ANTIVIRUS", "OUTPUT_QUEUE")
RABBITMQ_ANTIVIRUS_EXCHANGE = _value("ANTIVIRUS", "EXCHANGE")
RABBITMQ_ANTIVIRUS_INPUT_KEY = _value("ANTIVIRUS", "INPUT_KEY")
RABBITMQ_ANTIVIRUS_OUTPUT_KEY = _value("ANTIVIRUS", "OUTPUT_KEY")

RABBITMQ_HARVESTER_VIRTUALHOST = _value("HARVESTER", "VIRTUALHOST")
RABBITMQ_HARVESTER_INPUT_QUEUE = _value("HARVESTER", "INPUT_QUEUE")
RABBITMQ_HARVESTER_OUTPUT_QUEUE = _value("HARVESTER", "OUTPUT_QUEUE")
RABBITMQ_HARVESTER_EXCHANGE = _value("HARVESTER", "EXCHANGE")
RABBITMQ_HARVESTER_INPUT_KEY = _value("HARVESTER", "INPUT_KEY")
RABBITMQ_HARVESTER_OUTPUT_KEY = _value("HARVESTER", "OUTPUT_KEY")

RABBITMQ_LTP_VIRTUALHOST = _value("LTP", "VIRTUALHOST")
RABBITMQ_LTP_INPUT_QUEUE = _value("LTP", "INPUT_QUEUE")
RABBITMQ_LTP_OUTPUT_QUEUE = _value("LTP", "OUTPUT_QUEUE")
RABBITMQ_LTP_EXCHANGE = _value("LTP", "EXCHANGE")
RABBITMQ_LTP_INPUT_KEY = _value("LTP", "INPUT_KEY")
RABBITMQ_LTP_OUTPUT_KEY = _value("LTP", "OUTPUT_KEY")

RABBITMQ_PDFGEN_VIRTUALHOST = _value("PDFGEN", "VIRTUALHOST")
RABBITMQ_PDFGEN_INPUT_QUEUE = _value("PDFGEN", "INPUT_QUEUE")
RABBITMQ_PDFGEN_OUTPUT_QUEUE = _value("PDFGEN", "OUTPUT_QUEUE")
RABBITMQ_PDFGEN_EXCHANGE = _value("PDFGEN", "EXCHANGE")
RABBITMQ_PDFGEN_INPUT_KEY = _value("PDFGEN", "INPUT_KEY")
RABBITMQ_PDFGEN_OUTPUT_KEY = _value("PDFGEN", "OUTPUT_KEY")

RABBITMQ_DOWNER_VIRTUALHOST = _value("DOWNER", "VIRTUALHOST")
RABBITMQ_DOWNER_INPUT_QUEUE = _value("DOWNER", "INPUT_QUEUE")
RABBITMQ_DOWNER_OUTPUT_QUEUE = _value("DOWNER", "OUTPUT_QUEUE")
RABBITMQ_DOWNER_EXCHANGE = _value("DOWNER", "EXCHANGE")
RABBITMQ_DOWNER_INPUT_KEY = _value("DOWNER", "INPUT_KEY")
RABBITMQ_DOWNER_OUTPUT_KEY = _value("DOWNER", "OUTPUT_KEY")

RABBITMQ_STORAGE_VIRTUALHOST = _value("STORAGE", "VIRTUALHOST")
RABBITMQ_STORAGE_INPUT_QUEUE = _value("STORAGE", "INPUT_QUEUE")
RABBITMQ_STORAGE_OUTPUT_QUEUE = _value("STORAGE", "OUTPUT_QUEUE")
RABBITMQ_STORAGE_EXCHANGE = _value("STORAGE", "EXCHANGE")
RABBITMQ_STORAGE_INPUT_KEY = _value("STORAGE", "INPUT_KEY")
RABBITMQ_STORAGE_OUTPUT_KEY = _value("STORAGE", "OUTPUT_KEY")

RABBITMQ_MX2MODS_VIRTUALHOST = _value("MX2MODS", "VIRTUALHOST")
RABBITMQ_MX2MODS_INPUT_QUEUE = _value("MX2MODS", "INPUT_QUEUE")
RABBITMQ_MX2MODS_OUTPUT_QUEUE = _value("MX2MODS", "OUTPUT_QUEUE")
RABBITMQ_MX2MODS_EXCHANGE = _value("MX2MODS", "EXCHANGE")
RABBITMQ_MX2MODS_INPUT_KEY = _value("MX2MODS", "INPUT_KEY")
RABBITMQ_MX2MODS_OUTPUT_KEY = _value("MX2MODS", "OUTPUT_KEY")

RABBITMQ_ALEPH_LINK_EXPORT_VIRTUALHOST = _value("ALEPH_LINK_EXPORT", "VIRTUALHOST")
RABBITMQ_ALEPH_LINK_EXPORT_INPUT_QUEUE = _value("ALEPH_LINK_EXPORT", "INPUT_QUEUE")
RABBITMQ_ALEPH_LINK_EXPORT_OUTPUT_QUEUE = _value("ALEPH_LINK_EXPORT", "OUTPUT_QUEUE")
RABBITMQ_ALEPH_LINK_EXPORT_EXCHANGE = _value("ALEPH_LINK_EXPORT", "EXCHANGE")
RABBITMQ_ALEPH_LINK_EXPORT_INPUT_KEY = _value("ALEPH_LINK_EXPORT", "INPUT_KEY")
RABBITMQ_ALEPH_LINK_EXPORT_OUTPUT_KEY = _value("ALEPH_LINK_EXPORT", "OUTPUT_KEY")

_ALLOWED = (str, int, float)


def get_all_constants() -> list[str]:
    """Names of the module's public upper-case constants of a simple type, as the old function listed them."""
    return [name for name, value in globals().items()
            if not name.startswith("_") and name.isupper() and type(value) in _ALLOWED]


def substitute_globals(config_dict: Any) -> None:
    """Set constants from `config_dict` (e.g. an old amqp.json); other keys and types are ignored, as they were."""
    if type(config_dict) is not dict:
        return
    constants = set(get_all_constants())
    for key, value in config_dict.items():
        if key in constants and type(value) in _ALLOWED:
            globals()[key] = value


def get_amqp_settings() -> dict[str, dict[str, Any]]:
    """Every daemon's names, keyed by the old host names (`aleph`, `downer`, `mx2mods`, `ftp`, ...)::

        {"aleph": {"vhost": ..., "exchange": ..., "queues": {input queue: input key, output queue: output key},
                   "in_key": ..., "out_key": ...}, ...}

    Note: `aleph_link_export` is listed too; the old function lost it to `aleph` (both start with ALEPH_).
    """
    result = {}
    for prefix in OLD_DAEMON_PREFIXES:
        value = {suffix: globals()[f"RABBITMQ_{prefix}_{suffix}"] for suffix in OLD_SUFFIXES}
        result[prefix.lower()] = {
            "vhost": value["VIRTUALHOST"],
            "exchange": value["EXCHANGE"],
            "queues": {value["INPUT_QUEUE"]: value["INPUT_KEY"], value["OUTPUT_QUEUE"]: value["OUTPUT_KEY"]},
            "in_key": value["INPUT_KEY"],
            "out_key": value["OUTPUT_KEY"],
        }
    return result
