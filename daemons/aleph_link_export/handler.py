"""aleph_link_export: tells Aleph about new links (URLs, Kramerius URL, URN:NBN) of its records.

Requests are exchanged with Aleph as files (see daemons.aleph_link_export.files); Aleph answers later, so
every `LinkUpdateRequest` and `StatusRequest` hands out all results collected since the last time:
one `LinkUpdateResponse` each, the earlier ones as progress messages, the last as the answer
(None when there is none yet).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemons.aleph_link_export.exchange import LinkExchange
from daemons.aleph_link_export.files import LinkResult
from daemons.aleph_link_export.requests import pending_from_message
from daemons.rpc.handler import HandlerContext

LinkUpdateRequest = namedtuple("LinkUpdateRequest", "uuid doc_number document_urls kramerius_url urn_nbn session_id")
LinkDescription = namedtuple("LinkDescription", "url format")
StatusRequest = namedtuple("StatusRequest", "")
LinkUpdateResponse = namedtuple("LinkUpdateResponse", "status session_id reason")

# What this daemon decodes from the wire and answers with.
STRUCTURES = (
    LinkUpdateRequest, LinkDescription, StatusRequest, LinkUpdateResponse
)

OPTIONS_SPEC = """
outgoing_dir = string(default=None)
incoming_dir = string(default=None)
"""

_exchange: LinkExchange | None = None


class NotConfiguredError(RuntimeError):
    """react() was called before configure(context)."""


class FolderConfigError(ValueError):
    """outgoing_dir and incoming_dir must be two different folders."""


def configure(context: HandlerContext) -> None:
    """Folders default to `<data_dir>/outgoing` and `<data_dir>/incoming`; state is kept in `<data_dir>`."""
    global _exchange
    outgoing = Path(context.options.get("outgoing_dir") or context.data_dir / "outgoing").expanduser()
    incoming = Path(context.options.get("incoming_dir") or context.data_dir / "incoming").expanduser()
    if outgoing.resolve() == incoming.resolve():
        raise FolderConfigError(
            f"[daemons] [[{context.name}]] [[[options]]] outgoing_dir and incoming_dir are both {outgoing}; "
            f"give Aleph's results a folder of their own"
        )
    _exchange = LinkExchange(outgoing, incoming, context.data_dir, context.log)
    _exchange.refresh()


def health() -> str | None:
    return _exchange.problems() if _exchange is not None else None


def exchange() -> LinkExchange:
    if _exchange is None:
        raise NotConfiguredError("aleph_link_export is not configured: call configure(context) first")
    return _exchange


def _answer(results: list[LinkResult], send_back: Callable[[Any], None]) -> LinkUpdateResponse | None:
    """Progress messages for all but the last result; results not sent (broker gone) go back to the store."""
    responses = [LinkUpdateResponse(r.status, r.session_id, r.reason) for r in results]
    for index, response in enumerate(responses[:-1]):
        try:
            send_back(response)
        except BaseException:
            exchange().store.restore(results[index:])
            raise
    return responses[-1] if responses else None


def react(message: Any, send_back: Callable[[Any], None]) -> Any:
    if isinstance(message, LinkUpdateRequest):
        return _answer(exchange().submit(pending_from_message(message)), send_back)
    if isinstance(message, StatusRequest):
        return _answer(exchange().status(), send_back)
    raise TypeError(f"aleph_link_export cannot handle {type(message).__name__}; send LinkUpdateRequest or "
                    f"StatusRequest")
