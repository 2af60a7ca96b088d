"""A local stand-in for Aleph's X-Services and its export form, for tests and benchmarks.

It serves OAI-MARC records the test adds, speaking the real protocol: `find` (answers set_number and
no_records, or `<error>empty set</error>`), `present` (single entries and ranges), `find_doc`, and the
export form POST (answering an `aleph-info` header, "Error ..." when told to reject). Listens on
127.0.0.1, port 0, in a thread.
"""

from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree

from daemons.isbn import normalize
from daemons.marc_record import from_oai_marc
from daemons.marc_xml import parse_xml

# X-Services search field -> (MARC tag, subfield) it indexes
INDEXES = {"sbn": [("020", "a")], "wau": [("100", "a"), ("700", "a")], "wpb": [("260", "b"), ("264", "b")],
           "wtl": [("245", "a"), ("245", "b")], "icz": [("ICZ", "a")]}


def oai_marc(fields: dict[str, list[dict[str, str]]] | None = None, fixed: dict[str, str] | None = None) -> str:
    """An OAI-MARC document: `fields` maps a tag to a list of {label: value} subfield dicts."""
    root = etree.Element("oai_marc")
    for tag, value in (fixed or {}).items():
        etree.SubElement(root, "fixfield", id=tag).text = value
    for tag, occurrences in (fields or {}).items():
        for subfields in occurrences:
            ind1, ind2 = subfields.pop("i1", " "), subfields.pop("i2", " ")
            varfield = etree.SubElement(root, "varfield", id=tag, i1=ind1, i2=ind2)
            for label, value in subfields.items():
                etree.SubElement(varfield, "subfield", label=label).text = value
    return etree.tostring(root, encoding="unicode")


@dataclass
class StandInState:
    records: dict[tuple[str, str], str] = field(default_factory=dict)  # (base, doc_number) -> OAI-MARC XML
    sets: dict[str, list[str]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    posts: list[dict[str, str]] = field(default_factory=list)
    export_info: str = "OK: record accepted"
    prologue: str = ""  # put before every X-Services answer's root element (e.g. a hostile DOCTYPE)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _matches(record_xml: str, field_code: str, phrase: str) -> bool:
    record = from_oai_marc(parse_xml(record_xml))
    wanted = normalize(phrase) if field_code == "sbn" else phrase.lower()
    for tag, code in INDEXES.get(field_code, []):
        for value in record.values(tag, code):
            if field_code == "sbn":
                if wanted in normalize(value):
                    return True
            elif wanted in value.lower():
                return True
    return False


class _Handler(BaseHTTPRequestHandler):
    state: StandInState

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, body: str, headers: dict[str, str] | None = None) -> None:
        data = ('<?xml version = "1.0" encoding = "UTF-8"?>\n' + self.state.prologue + body).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=UTF-8")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        with self.state.lock:
            self.state.requests.append(params)
        op = params.get("op")
        if url.path != "/X":
            self.send_error(404)
        elif op == "find":
            self._send(self._find(params))
        elif op == "present":
            self._send(self._present(params))
        elif op == "find_doc":
            self._send(self._find_doc(params))
        else:
            self._send(f"<{op}><error>unknown op</error></{op}>")

    def _find(self, params: dict[str, str]) -> str:
        field_code, _, phrase = params.get("request", "").partition("=")
        base = params.get("base", "")
        hits = [doc for (b, doc), xml in sorted(self.state.records.items())
                if b == base and _matches(xml, field_code, phrase)]
        if not hits:
            return "<find><error>empty set</error><session-id>S</session-id></find>"
        with self.state.lock:
            number = f"{len(self.state.sets) + 1:06d}"
            self.state.sets[number] = [f"{base}:{doc}" for doc in hits]
        return (f"<find><set_number>{number}</set_number><no_records>{len(hits):09d}</no_records>"
                f"<no_entries>{len(hits):09d}</no_entries><session-id>S</session-id></find>")

    def _present(self, params: dict[str, str]) -> str:
        entries = self.state.sets.get(params.get("set_number", ""))
        if entries is None:
            return "<present><error>Set number is not valid</error></present>"
        first, _, last = params.get("set_entry", "").partition("-")
        start, end = int(first), int(last or first)
        parts = []
        for position in range(start, min(end, len(entries)) + 1):
            base, doc = entries[position - 1].split(":")
            parts.append(f"<record><record_header><set_entry>{position:09d}</set_entry></record_header>"
                         f"<doc_number>{doc}</doc_number><metadata>{self.state.records[(base, doc)]}</metadata>"
                         f"</record>")
        return f"<present>{''.join(parts)}<session-id>S</session-id></present>"

    def _find_doc(self, params: dict[str, str]) -> str:
        key = (params.get("base", ""), params.get("doc_num", ""))
        if key not in self.state.records:
            return (f"<find-doc><error>Document: {key[1]} doesn't exist in library: {key[0]}. Make sure you "
                    f"enter a valid document number.</error></find-doc>")
        return f"<find-doc><record><metadata>{self.state.records[key]}</metadata></record></find-doc>"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8")).items()}
        with self.state.lock:
            self.state.posts.append(form)
        self._send("<html><body>export form</body></html>", {"aleph-info": self.state.export_info})


class AlephStandIn:
    """`with AlephStandIn() as aleph:` — aleph.url is the X-Services base, aleph.export_url the form."""

    def __init__(self) -> None:
        self.state = StandInState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="aleph-stand-in",
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def export_url(self) -> str:
        return f"{self.url}/export"

    def add_record(self, doc_number: str, xml: str, base: str = "nkc") -> None:
        self.state.records[(base, doc_number)] = xml

    def reject_exports(self, info: str = "Error: ISBN already registered") -> None:
        self.state.export_info = info

    def ops(self, op: str) -> list[dict[str, str]]:
        return [r for r in self.state.requests if r.get("op") == op]

    def __enter__(self) -> AlephStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
