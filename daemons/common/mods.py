"""Our own MARC 21 -> MODS 3.6 mapping (after the Library of Congress's MARC-to-MODS crosswalk, reduced to
what the e-deposit workflow uses): title, names, origin info, language, physical description, subjects,
series, identifiers (ISBN, ČNB, URN:NBN, the e-deposit uuid), location and record info.
"""

from __future__ import annotations

import re

from lxml import etree

from daemons.common.isbn import extract_isbn, is_valid_isbn
from daemons.common.marc import DataField, MarcRecord, clean, clean_end

MODS_NS = "http://www.loc.gov/mods/v3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MODS_VERSION = "3.6"
SCHEMA_LOCATION = f"{MODS_NS} http://www.loc.gov/standards/mods/v3/mods-3-6.xsd"
RECORD_ORIGIN = "Converted from MARC 21 to MODS 3.6 by edeposit-amqpd marcxml2mods"

# leader/06 (type of record) -> MODS typeOfResource
RESOURCE_TYPES = {
    "a": "text", "t": "text", "c": "notated music", "d": "notated music", "e": "cartographic",
    "f": "cartographic", "g": "moving image", "i": "sound recording-nonmusical", "j": "sound recording-musical",
    "k": "still image", "m": "software, multimedia", "o": "mixed material", "p": "mixed material",
    "r": "three dimensional object",
}
# leader/07 (bibliographic level) -> MODS issuance
ISSUANCE = {"m": "monographic", "s": "continuing", "i": "integrating resource", "a": "single unit",
            "b": "serial", "c": "multipart monograph", "d": "multipart monograph"}
NAME_TYPES = {"100": "personal", "700": "personal", "110": "corporate", "710": "corporate",
              "111": "conference", "711": "conference"}
_YEAR = re.compile(r"\d{4}")


def _el(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{MODS_NS}}}{name}", {k: v for k, v in attributes.items() if v})
    if text is not None:
        element.text = text
    return element


def _title(parent: etree._Element, field: DataField, kind: str = "") -> None:
    info = _el(parent, "titleInfo", type=kind)
    title = clean(field.first("a"))
    skip = int(field.ind2) if kind == "" and field.ind2.isdigit() else 0
    if 0 < skip < len(title):
        _el(info, "nonSort", title[:skip].rstrip())
        title = title[skip:]
    _el(info, "title", title)
    for code, name in (("b", "subTitle"), ("n", "partNumber"), ("p", "partName")):
        for value in field.values(code):
            _el(info, name, clean_end(value) if name == "subTitle" else clean(value))


def add_titles(mods: etree._Element, record: MarcRecord) -> None:
    for field in record.datafields("245"):
        _title(mods, field)
    for field in record.datafields("240"):
        _title(mods, field, "uniform")
    for field in record.datafields("246"):
        _title(mods, field, "alternative")


def add_names(mods: etree._Element, record: MarcRecord) -> None:
    for field in record.datafields(*NAME_TYPES):
        if not field.first("a"):
            continue
        name = _el(mods, "name", type=NAME_TYPES[field.tag], usage="primary" if field.tag.startswith("1") else "")
        _el(name, "namePart", clean(field.first("a")))
        for value in field.values("d"):
            _el(name, "namePart", clean(value), type="date")
        for value in field.values("c"):
            _el(name, "namePart", clean(value), type="termsOfAddress")
        for code in field.values("4"):
            role = _el(name, "role")
            _el(role, "roleTerm", clean(code), type="code", authority="marcrelator")
        for text in field.values("e"):
            role = _el(name, "role")
            _el(role, "roleTerm", clean(text), type="text")
        for authority_id in field.values("7"):
            _el(name, "nameIdentifier", authority_id, type="nkc")


def add_origin(mods: etree._Element, record: MarcRecord) -> None:
    origin = _el(mods, "originInfo")
    publication = list(record.datafields("260")) + [f for f in record.datafields("264") if f.ind2 == "1"]
    for field in publication:
        for value in field.values("a"):
            place = _el(origin, "place")
            _el(place, "placeTerm", clean(value), type="text")
        for value in field.values("b"):
            _el(origin, "publisher", clean(value))
        for value in field.values("c"):
            _el(origin, "dateIssued", clean_end(value))
    fixed = record.control.get("008", "")
    if len(fixed) >= 11 and fixed[7:11].isdigit():
        _el(origin, "dateIssued", fixed[7:11], encoding="marc")
    for value in record.values("250", "a"):
        _el(origin, "edition", clean(value))
    if len(record.leader) > 7 and record.leader[7] in ISSUANCE:
        _el(origin, "issuance", ISSUANCE[record.leader[7]])
    if len(origin) == 0:
        mods.remove(origin)


def add_language(mods: etree._Element, record: MarcRecord) -> None:
    codes = [clean(v) for v in record.values("041", "a")]
    fixed = record.control.get("008", "")
    if len(fixed) >= 38 and fixed[35:38].strip(" |"):
        codes.insert(0, fixed[35:38])
    for code in dict.fromkeys(c for c in codes if c):
        language = _el(mods, "language")
        _el(language, "languageTerm", code, type="code", authority="iso639-2b")


def add_physical_description(mods: etree._Element, record: MarcRecord) -> None:
    extents = [clean(" ".join(v.strip() for c, v in f.subfields if c in "abc")) for f in record.datafields("300")]
    forms = [clean(v) for v in record.values("856", "q")]
    if not extents and not forms:
        return
    description = _el(mods, "physicalDescription")
    for value in forms:
        _el(description, "internetMediaType", value)
    for value in extents:
        _el(description, "extent", value)


def add_contents(mods: etree._Element, record: MarcRecord) -> None:
    for value in record.values("520", "a"):
        _el(mods, "abstract", value.strip())
    for value in record.values("505", "a"):
        _el(mods, "tableOfContents", value.strip())
    for value in record.values("500", "a"):
        _el(mods, "note", value.strip())
    for value in record.values("655", "a"):
        _el(mods, "genre", clean(value))
    for tag, kind in (("650", "topic"), ("651", "geographic"), ("600", "name")):
        for field in record.datafields(tag):
            subject = _el(mods, "subject", authority=clean(field.first("2")))
            _el(subject, kind, clean_end(field.first("a")))
    for field in record.datafields("080"):
        _el(mods, "classification", clean(field.first("a")), authority="udc")
    for field in record.datafields("072"):
        _el(mods, "classification", clean(field.first("a")), authority="Konspekt")
    for field in record.datafields("490", "830"):
        series = _el(mods, "relatedItem", type="series")
        info = _el(series, "titleInfo")
        _el(info, "title", clean(field.first("a")))
        for value in field.values("v"):
            _el(info, "partNumber", clean(value))


def add_identifiers(mods: etree._Element, record: MarcRecord, uuid: str | None, urn_nbn: str | None) -> None:
    for field in record.datafields("020"):
        for raw in field.values("a"):
            isbn = extract_isbn(raw)
            _el(mods, "identifier", isbn, type="isbn", invalid="" if is_valid_isbn(isbn) else "yes")
        for raw in field.values("z"):
            _el(mods, "identifier", extract_isbn(raw), type="isbn", invalid="yes")
    for value in record.values("015", "a"):
        _el(mods, "identifier", clean(value), type="ccnb")
    urns = [urn_nbn] if urn_nbn else []
    urns += [a for f in record.datafields("024") if clean(f.first("2")).lower() == "urn" and (a := f.first("a"))]
    urns += [u for u in record.values("856", "u") if u.lower().startswith("urn:nbn:")]
    for urn in dict.fromkeys(u.strip() for u in urns):
        _el(mods, "identifier", urn, type="urn")
    if uuid:
        _el(mods, "identifier", uuid, type="uuid")


def add_location(mods: etree._Element, record: MarcRecord, url: str | None) -> None:
    links = [u.strip() for u in record.values("856", "u") if not u.lower().startswith("urn:nbn:")]
    if not url and not links:
        return
    location = _el(mods, "location")
    if url:
        _el(location, "url", url, usage="primary display")
    for link in dict.fromkeys(links):
        if link != url:
            _el(location, "url", link)


def add_record_info(mods: etree._Element, record: MarcRecord) -> None:
    info = _el(mods, "recordInfo")
    for value in record.values("040", "a"):
        _el(info, "recordContentSource", clean(value), authority="marcorg")
    fixed = record.control.get("008", "")
    if len(fixed) >= 6 and fixed[:6].isdigit():
        _el(info, "recordCreationDate", fixed[:6], encoding="marc")
    if record.control.get("005"):
        _el(info, "recordChangeDate", record.control["005"], encoding="iso8601")
    if record.control.get("001"):
        _el(info, "recordIdentifier", record.control["001"])
    _el(info, "recordOrigin", RECORD_ORIGIN)
    for value in record.values("040", "b"):
        language = _el(info, "languageOfCataloging")
        _el(language, "languageTerm", clean(value), type="code", authority="iso639-2b")


def marc_to_mods(record: MarcRecord, uuid: str | None = None, url: str | None = None,
                 urn_nbn: str | None = None) -> etree._Element:
    """One `<mods>` element for one MARC record; `uuid`, `url` and `urn_nbn` come from the e-deposit side."""
    mods = etree.Element(f"{{{MODS_NS}}}mods", nsmap={"mods": MODS_NS, "xsi": XSI_NS}, version=MODS_VERSION)
    mods.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    add_titles(mods, record)
    add_names(mods, record)
    if len(record.leader) > 6 and record.leader[6] in RESOURCE_TYPES:
        _el(mods, "typeOfResource", RESOURCE_TYPES[record.leader[6]])
    add_origin(mods, record)
    add_language(mods, record)
    add_physical_description(mods, record)
    add_contents(mods, record)
    add_identifiers(mods, record, uuid, urn_nbn)
    add_location(mods, record, url)
    add_record_info(mods, record)
    return mods
