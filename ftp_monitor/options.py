"""The daemon's settings: `log_file`, `log_format` and the knobs under `[[ftp_monitor]] [[[options]]]`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from daemons.rpc.loader import HandlerError, validate_options
from daemons.rpc.settings import DaemonSettings
from ftp_monitor.events import MonitorRules
from ftp_monitor.importer import ImportSettings
from ftp_monitor.pairing import PairingRules

OPTIONS_SPEC = """\
log_file = string(default='/var/log/proftpd/extended.log')
log_format = option('edeposit', 'legacy', default='edeposit')
data_dir = string(default=None)
events = boolean(default=False)
event_key = string(min=1, default='event')
event_queue = string(default=None)
start_at = option('beginning', 'end', default='end')
rotated_quiet_seconds = float(min=0, max=86400, default=60)
poll_seconds = float(min=0.05, max=60, default=1.0)
batch_records = integer(min=1, max=100000, default=5000)
max_record_bytes = integer(min=4096, default=1048576)
max_message_bytes = integer(min=4096, default=134217728)
max_file_bytes = integer(min=1, default=67108864)
max_import_bytes = integer(min=1, default=104857600)
same_name_dir_pairing = boolean(default=True)
same_dir_pairing = boolean(default=True)
isbn_pairing = boolean(default=True)
create_import_log = boolean(default=True)
leave_bad_files = boolean(default=True)
"""


@dataclass(frozen=True)
class MonitorOptions:
    log_file: Path
    log_format: str
    events: bool
    event_key: str
    event_queue: str | None
    start_at_end: bool
    rotated_quiet_seconds: float
    poll_seconds: float
    batch_records: int
    max_record_bytes: int
    max_message_bytes: int
    rules: MonitorRules

    @property
    def event_bindings(self) -> list[tuple[str, str]]:
        """(queue, routing key) for the opt-in event queue, when one is configured."""
        return [(self.event_queue, f"{self.event_key}.#")] if self.event_queue else []


def load_options(settings: DaemonSettings) -> MonitorOptions:
    """Validated options; HandlerError naming the option, its value and what is expected."""
    values = validate_options(settings.name, settings.options, OPTIONS_SPEC)
    ftp = settings.shared.get("ftp", {})
    missing = [key for key in ("home_root", "passwd_file", "lock_filename") if not ftp.get(key)]
    if missing:
        raise HandlerError(f"[ftp] {', '.join(missing)}: missing; ftp_monitor needs the [ftp] section's paths")
    if values["event_key"] == settings.output_key or values["event_key"].startswith(settings.output_key + "."):
        raise HandlerError(
            f"[daemons] [[{settings.name}]] [[[options]]] event_key = {values['event_key']!r}: must differ from "
            f"output_key {settings.output_key!r}, or old consumers would receive the events; e.g. 'event'"
        )
    defaults = ImportSettings(
        rules=PairingRules(values["same_name_dir_pairing"], values["same_dir_pairing"], values["isbn_pairing"]),
        create_import_log=values["create_import_log"],
        leave_bad_files=values["leave_bad_files"],
        max_file_bytes=values["max_file_bytes"],
        max_import_bytes=values["max_import_bytes"],
        lock_filename=ftp["lock_filename"],
    )
    return MonitorOptions(
        log_file=Path(values["log_file"]),
        log_format=values["log_format"],
        events=values["events"],
        event_key=values["event_key"],
        event_queue=values["event_queue"] or None,
        start_at_end=values["start_at"] == "end",
        rotated_quiet_seconds=values["rotated_quiet_seconds"],
        poll_seconds=values["poll_seconds"],
        batch_records=values["batch_records"],
        max_record_bytes=values["max_record_bytes"],
        max_message_bytes=values["max_message_bytes"],
        rules=MonitorRules(
            home_root=Path(ftp["home_root"]),
            passwd_file=Path(ftp["passwd_file"]),
            lock_filename=ftp["lock_filename"],
            import_key=settings.output_key,
            events=values["events"],
            event_key=values["event_key"],
            defaults=defaults,
        ),
    )
