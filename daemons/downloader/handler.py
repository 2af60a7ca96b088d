"""downloader: fetches http(s) URLs for the front end, with size, time and network-address limits.

Requests: `Download(url)` -> `DownloadedFile(url, b64_data)`; `ProgressDownload(url, steps)` -> progress
messages `Progress(url, step, downloaded, content_length)`, then `DownloadedFile`; `CheckExistence(url)`
-> `Exists(url, result, headers)`. Loopback, private and link-local addresses are refused (also after a
redirect) unless `allow_private_networks = true`.
"""

from __future__ import annotations

import base64
import ssl
from collections import namedtuple
from collections.abc import Callable
from typing import Any

from daemons.downloader.fetch import DownloadError, FetchLimits, fetch, raise_for_status, read_body
from daemons.downloader.guard import AddressPolicy, URLRefused, check_url
from daemons.downloader.progress import ProgressReporter, check_steps
from daemons.rpc.handler import HandlerContext
from daemons.rpc.loader import validate_options

Download = namedtuple("Download", "url")
DownloadedFile = namedtuple("DownloadedFile", "url b64_data")
ProgressDownload = namedtuple("ProgressDownload", "url steps")
Progress = namedtuple("Progress", "url step downloaded content_length")
CheckExistence = namedtuple("CheckExistence", "url")
Exists = namedtuple("Exists", "url result headers")

# What this daemon decodes from the wire and answers with.
STRUCTURES = (
    Download, DownloadedFile, ProgressDownload, Progress, CheckExistence, Exists
)

OPTIONS_SPEC = """
allow_private_networks = boolean(default=False)
allowed_networks = string_list(default=list())
max_bytes = integer(min=1, default=67108864)
timeout = float(min=0.01, default=30.0)
max_seconds = float(min=0.01, default=600.0)
max_redirects = integer(min=0, max=50, default=10)
ca_file = string(default=None)
progress_bytes = integer(min=1, default=1048576)
"""

# status codes after which CheckExistence asks again with GET: the server does not do HEAD
HEAD_NOT_SUPPORTED = frozenset({405, 501})


class DownloaderSettings:
    """The daemon's validated options, turned into what a fetch needs."""

    def __init__(self, options: dict[str, Any]) -> None:
        context = None
        if options.get("ca_file"):
            try:
                context = ssl.create_default_context(cafile=options["ca_file"])
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"downloader option ca_file = {options['ca_file']!r}: cannot load it ({exc}); "
                                 f"give a PEM file of trusted certificates") from None
        self.limits = FetchLimits(
            policy=AddressPolicy.from_options(options["allow_private_networks"], options["allowed_networks"]),
            max_bytes=options["max_bytes"],
            timeout=options["timeout"],
            max_seconds=options["max_seconds"],
            max_redirects=options["max_redirects"],
            ssl_context=context,
        )
        self.progress_bytes: int = options["progress_bytes"]


def validated_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Options checked against OPTIONS_SPEC with defaults filled in (also for direct calls in tests)."""
    return validate_options(name, options, OPTIONS_SPEC)


_settings = DownloaderSettings(validated_options("downloader", {}))


def configure(context: HandlerContext) -> None:
    global _settings
    _settings = DownloaderSettings(validated_options(context.name, dict(context.options)))


def download(url: str, on_progress: Callable[[int | None], ProgressReporter] | None = None) -> bytes:
    """The body of `url`; `on_progress(content_length)` makes a reporter once the length is known."""
    check_url(url)
    limits = _settings.limits
    with fetch(url, limits) as fetched:
        raise_for_status(fetched)
        reporter = on_progress(fetched.content_length) if on_progress else None
        body = read_body(fetched, limits, reporter.downloaded if reporter else None)
    if reporter is not None:
        reporter.finished(len(body))
    return body


def check_existence(url: str) -> Exists:
    """Exists(result=True) for a 2xx answer to HEAD (or GET, when HEAD is not supported).

    Like the old daemon, a server that cannot be reached gives result False; a refused URL (bad scheme,
    forbidden address) is an error instead, because the answer would say nothing about the file.
    """
    check_url(url)
    try:
        with fetch(url, _settings.limits, method="HEAD") as fetched:
            status, headers = fetched.response.status, fetched.headers()
        if status in HEAD_NOT_SUPPORTED:
            with fetch(url, _settings.limits, method="GET") as fetched:
                status, headers = fetched.response.status, fetched.headers()
    except URLRefused:
        raise
    except (DownloadError, ConnectionError):
        return Exists(url=url, result=False, headers={})
    return Exists(url=url, result=200 <= status < 300, headers=headers)


def react(message: Any, send_back: Callable[[Any], None]) -> Any:
    if isinstance(message, Download):
        return DownloadedFile(url=message.url, b64_data=_b64(download(message.url)))
    if isinstance(message, ProgressDownload):
        steps = check_steps(message.steps)

        def reporter(length: int | None) -> ProgressReporter:
            return ProgressReporter(message.url, steps, length, _settings.progress_bytes, Progress, send_back)

        return DownloadedFile(url=message.url, b64_data=_b64(download(message.url, reporter)))
    if isinstance(message, CheckExistence):
        return check_existence(message.url)
    raise TypeError(f"the downloader does not handle {type(message).__name__}; "
                    f"send Download, ProgressDownload or CheckExistence")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
