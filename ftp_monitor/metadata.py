"""Reads a user's metadata file (JSON, CSV, XML, YAML) into an `EPublication`.

Every format holds key/value pairs. A key is matched to a field by keyword, as the old system did: the
keyword must be one of the key's words ("ISBN knihy", "Název" and "nazev" all work; accents are ignored).
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Callable
from typing import Any

import yaml

from daemons.common.isbn import is_valid_isbn
from daemons.common.safe_xml import parse_xml
from ftp_monitor.structures import EPublication

METADATA_SUFFIXES = ("json", "csv", "xml", "yaml", "yml")

# keyword -> EPublication field; the first group is required.
REQUIRED_FIELDS = {
    "isbn": "ISBN",
    "vazba": "vazba",
    "nazev": "nazev",
    "misto": "mistoVydani",
    "nakladatel": "nakladatelVydavatel",
    "datum": "datumVydani",
    "poradi": "poradiVydani",
    "zpracovatel": "zpracovatelZaznamu",
}
OPTIONAL_FIELDS = {"url": "url", "format": "format", "podnazev": "podnazev", "cena": "cena"}


class MetadataError(ValueError):
    """The metadata file cannot be used; the text says what is wrong and how to fix it."""


def is_metadata_name(filename: str) -> bool:
    return "." in filename and filename.rsplit(".", 1)[1].lower() in METADATA_SUFFIXES


def parse_metadata(filename: str, data: bytes) -> Any:
    """The `EPublication` described by a metadata file; MetadataError otherwise."""
    suffix = filename.rsplit(".", 1)[-1].lower()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    pairs = _READERS[suffix](text)
    return epublication_from_pairs(pairs)


def _read_json(text: str) -> list[tuple[Any, Any]]:
    try:
        return _pairs(json.loads(text))
    except json.JSONDecodeError as exc:
        raise MetadataError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def _read_yaml(text: str) -> list[tuple[Any, Any]]:
    try:
        return _pairs(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise MetadataError(f"invalid YAML: {exc}") from None


def _read_csv(text: str) -> list[tuple[Any, Any]]:
    try:
        dialect: Any = csv.Sniffer().sniff(text, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    pairs = []
    for number, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        cells = [cell.strip() for cell in row if cell.strip()]
        if not cells:
            continue
        if len(cells) != 2:
            raise MetadataError(f"CSV line {number} has {len(cells)} values; write 'key,value' on each line")
        pairs.append((cells[0], cells[1]))
    return pairs


def _read_xml(text: str) -> list[tuple[Any, Any]]:
    try:
        root = parse_xml(text, "the XML metadata")
    except ValueError as exc:
        raise MetadataError(str(exc)) from None
    if root.tag != "root":
        raise MetadataError(f"the XML root element is <{root.tag!s}>; write <root><item key='...'>value</item></root>")
    pairs = []
    for item in root.iter("item"):
        if "key" not in item.attrib:
            raise MetadataError(f"an <item> on line {item.sourceline} has no key attribute; add key=\"...\"")
        pairs.append((item.attrib["key"], (item.text or "").strip()))
    if not pairs:
        raise MetadataError("the XML holds no <item key=\"...\"> elements")
    return pairs


_READERS: dict[str, Callable[[str], list[tuple[Any, Any]]]] = {
    "json": _read_json, "yaml": _read_yaml, "yml": _read_yaml, "csv": _read_csv, "xml": _read_xml,
}


def _pairs(data: Any) -> list[tuple[Any, Any]]:
    """Key/value pairs of a mapping, a list of pairs or a flat [key, value, key, value] list."""
    if isinstance(data, dict):
        return list(data.items())
    if isinstance(data, list):
        if all(isinstance(item, list) and len(item) == 2 for item in data):
            return [(k, v) for k, v in data]
        if len(data) % 2 == 0:
            return list(zip(data[::2], data[1::2], strict=True))
    raise MetadataError("expected key/value pairs (an object/mapping); got " + type(data).__name__)


def _words(key: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode("ascii")
    return plain.lower().split()


def epublication_from_pairs(pairs: list[tuple[Any, Any]]) -> Any:
    values: dict[str, str] = {}
    for key, value in pairs:
        if not isinstance(key, str | int | float) or not isinstance(value, str | int | float):
            raise MetadataError(f"key {key!r}: values must be text or numbers, not nested structures")
        words = _words(str(key))
        for keyword, field_name in (*REQUIRED_FIELDS.items(), *OPTIONAL_FIELDS.items()):
            if keyword in words:
                values[field_name] = str(value)
                break
    missing = [keyword for keyword, field_name in REQUIRED_FIELDS.items() if field_name not in values]
    if missing:
        raise MetadataError(f"missing field(s): {', '.join(missing)}; add a key containing each of these words")
    if not is_valid_isbn(values["ISBN"]):
        raise MetadataError(f"ISBN {values['ISBN']!r} is not valid (checksum); correct it")
    return EPublication(**values)
