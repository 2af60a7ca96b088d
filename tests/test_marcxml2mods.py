"""marcxml2mods: the built-in MARC -> MODS mapping, OAI-MARC input, the xslt option, hostile XML."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from lxml import etree

from daemons.common.marc import MARC_NS, DataField, MarcRecord, from_oai_marc, to_marcxml
from daemons.common.safe_xml import UnsafeXMLError, parse_xml
from daemons.marcxml2mods import handler as marcxml2mods
from daemons.rpc.handler import HandlerContext
from tests.fixtures.aleph_stand_in import oai_marc

NS = {"m": "http://www.loc.gov/mods/v3"}
RECORD = MarcRecord(
    leader="-----nam-a22------a-4500",
    control={"001": "cnb002345678", "005": "20150312101010.0", "008": "150312s2015    xr a          000 0 cze  "},
    fields=[
        DataField("015", subfields=[("a", "cnb002345678")]),
        DataField("020", subfields=[("a", "978-80-7174-091-9 (online)")]),
        DataField("020", subfields=[("z", "80-251-0225-5")]),
        DataField("024", "7", " ", [("a", "urn:nbn:cz:nk-123abc"), ("2", "urn")]),
        DataField("040", subfields=[("a", "ABA001"), ("b", "cze")]),
        DataField("041", "1", " ", [("a", "cze"), ("h", "ger")]),
        DataField("100", "1", " ", [("a", "May, Karl,"), ("d", "1842-1912"), ("4", "aut")]),
        DataField("245", "1", "4", [("a", "The Ardistan /"), ("b", "a Džinistan."), ("n", "Díl 1")]),
        DataField("250", subfields=[("a", "1. vyd.")]),
        DataField("264", " ", "1", [("a", "Brno :"), ("b", "Návrat,"), ("c", "2015.")]),
        DataField("300", subfields=[("a", "1 online zdroj (286 s.) :"), ("b", "il.")]),
        DataField("520", subfields=[("a", "Dobrodružný román.")]),
        DataField("700", "1", " ", [("a", "Šunda, Vladimír"), ("4", "trl")]),
        DataField("856", "4", "0", [("u", "http://publisher.example/book"), ("q", "application/pdf")]),
    ],
)


def collection(*records: MarcRecord) -> str:
    """A MARC21 slim <collection> document, as a catalogue exports it."""
    root = etree.Element(f"{{{MARC_NS}}}collection", nsmap={None: MARC_NS})
    root.extend(to_marcxml(record) for record in records)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="unicode")


MARC = collection(RECORD)
UUID = "3b5f1c0e-9a8d-4f6b-8e2a-7c1d0f9e8b7a"
URL = "http://edeposit.example/book/1"


@pytest.fixture(autouse=True)
def built_in_mapping(tmp_path: Path) -> None:
    marcxml2mods.configure(HandlerContext("marcxml2mods", {"xslt": None}, tmp_path, tmp_path))


def convert(marc_xml: str, uuid: str | None = UUID, url: str | None = URL) -> list[etree._Element]:
    response = marcxml2mods.react(marcxml2mods.ConversionRequest(marc_xml, uuid, url), [].append)
    assert isinstance(response, marcxml2mods.ConversionResponse)
    return [parse_xml(text) for text in response.mods_files]


def texts(mods: etree._Element, path: str) -> list[str]:
    return [e.text for e in mods.xpath(path, namespaces=NS)]


def test_marc21_record_maps_to_mods_with_every_section() -> None:
    [mods] = convert(MARC)

    assert mods.tag == "{http://www.loc.gov/mods/v3}mods" and mods.get("version") == "3.6"
    assert texts(mods, "m:titleInfo/m:nonSort") == ["The"]
    assert texts(mods, "m:titleInfo/m:title") == ["Ardistan"]
    assert texts(mods, "m:titleInfo/m:subTitle") == ["a Džinistan"]
    assert texts(mods, "m:titleInfo/m:partNumber") == ["Díl 1"]
    assert texts(mods, "m:name[@usage='primary']/m:namePart[not(@type)]") == ["May, Karl"]
    assert texts(mods, "m:name/m:namePart[@type='date']") == ["1842-1912"]
    assert texts(mods, "m:name/m:role/m:roleTerm[@authority='marcrelator']") == ["aut", "trl"]
    assert texts(mods, "m:typeOfResource") == ["text"]
    assert texts(mods, "m:originInfo/m:place/m:placeTerm") == ["Brno"]
    assert texts(mods, "m:originInfo/m:publisher") == ["Návrat"]
    assert texts(mods, "m:originInfo/m:dateIssued") == ["2015", "2015"]
    assert texts(mods, "m:originInfo/m:edition") == ["1. vyd."]
    assert texts(mods, "m:originInfo/m:issuance") == ["monographic"]
    assert texts(mods, "m:language/m:languageTerm") == ["cze"]
    assert texts(mods, "m:physicalDescription/m:extent") == ["1 online zdroj (286 s.) : il."]
    assert texts(mods, "m:physicalDescription/m:internetMediaType") == ["application/pdf"]
    assert texts(mods, "m:abstract") == ["Dobrodružný román."]
    assert texts(mods, "m:identifier[@type='isbn'][not(@invalid)]") == ["978-80-7174-091-9"]
    assert texts(mods, "m:identifier[@type='isbn'][@invalid='yes']") == ["80-251-0225-5"]
    assert texts(mods, "m:identifier[@type='ccnb']") == ["cnb002345678"]
    assert texts(mods, "m:identifier[@type='urn']") == ["urn:nbn:cz:nk-123abc"]
    assert texts(mods, "m:identifier[@type='uuid']") == [UUID]
    assert texts(mods, "m:location/m:url[@usage='primary display']") == [URL]
    assert texts(mods, "m:location/m:url[not(@usage)]") == ["http://publisher.example/book"]
    assert texts(mods, "m:recordInfo/m:recordContentSource") == ["ABA001"]
    assert texts(mods, "m:recordInfo/m:recordIdentifier") == ["cnb002345678"]
    assert texts(mods, "m:recordInfo/m:recordCreationDate") == ["150312"]


def test_oai_marc_from_aleph_gives_the_same_mods_as_marc21() -> None:
    aleph_xml = oai_marc({
        "020": [{"a": "80-7174-091-8 (váz.) :", "c": "Kč 182,00"}],
        "100": [{"i1": "1", "a": "May, Karl,", "4": "aut"}],
        "245": [{"i1": "1", "i2": "0", "a": "Ardistan a Džinistan /", "c": "Karel May"}],
        "260": [{"a": "Brno :", "b": "Návrat,", "c": "1998-1999"}],
    }, fixed={"LDR": "-----nam-a22------a-4500", "001": "cnb000652691"})
    marc21_xml = etree.tostring(to_marcxml(from_oai_marc(parse_xml(aleph_xml))), encoding="unicode")

    from_aleph, from_marc21 = convert(aleph_xml), convert(marc21_xml)

    assert [etree.tostring(m) for m in from_aleph] == [etree.tostring(m) for m in from_marc21]
    assert texts(from_aleph[0], "m:titleInfo/m:title") == ["Ardistan a Džinistan"]
    assert texts(from_aleph[0], "m:originInfo/m:dateIssued") == ["1998-1999"]


def test_collection_gives_one_mods_per_record() -> None:
    other = MarcRecord(fields=[DataField("245", subfields=[("a", "Druhá kniha")])])
    first, second = convert(collection(RECORD, other))
    assert texts(first, "m:titleInfo/m:title") == ["Ardistan"]
    assert texts(second, "m:titleInfo/m:title") == ["Druhá kniha"]


def test_without_uuid_and_url_there_is_no_uuid_identifier_nor_primary_location() -> None:
    [mods] = convert(MARC, uuid=None, url=None)
    assert texts(mods, "m:identifier[@type='uuid']") == []
    assert texts(mods, "m:location/m:url[@usage]") == []


def test_external_entity_payload_is_refused_and_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret in a local file")
    payload = MARC.replace('<?xml version="1.0" encoding="UTF-8"?>', f'<!DOCTYPE collection [<!ENTITY xxe SYSTEM '
                           f'"file://{secret}">]>').replace("Dobrodružný román.", "&xxe;")

    with pytest.raises(UnsafeXMLError, match="DOCTYPE") as error:
        convert(payload)
    assert "the secret" not in str(error.value)


def test_entity_expansion_bomb_is_refused() -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><record xmlns="http://www.loc.gov/MARC21/slim">'
            '<datafield tag="245"><subfield code="a">&c;</subfield></datafield></record>')
    with pytest.raises(UnsafeXMLError):
        convert(bomb)


@pytest.mark.parametrize(("marc_xml", "message"), [
    ("<record><unclosed></record>", "marc_xml is not well-formed XML"),
    ("<html><body/></html>", "holds no MARC record.*got <html>"),
    ("", "marc_xml is empty"),
])
def test_bad_input_gets_an_error_naming_the_problem(marc_xml: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        convert(marc_xml)


XSLT = """<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:marc="http://www.loc.gov/MARC21/slim" xmlns:mods="http://www.loc.gov/mods/v3">
  <xsl:param name="uuid"/>
  <xsl:template match="/">
    <mods:modsCollection>
      <xsl:for-each select="//marc:record">
        <mods:mods><mods:titleInfo><mods:title>SITE <xsl:value-of
          select="marc:datafield[@tag='245']/marc:subfield[@code='a']"/></mods:title></mods:titleInfo>
          <mods:identifier type="uuid"><xsl:value-of select="$uuid"/></mods:identifier></mods:mods>
      </xsl:for-each>
    </mods:modsCollection>
  </xsl:template>
</xsl:stylesheet>"""


def test_xslt_option_uses_the_sites_stylesheet(tmp_path: Path) -> None:
    stylesheet = tmp_path / "site.xsl"
    stylesheet.write_text(XSLT)
    marcxml2mods.configure(HandlerContext("marcxml2mods", {"xslt": str(stylesheet)}, tmp_path, tmp_path))

    [mods] = convert(MARC)

    assert marcxml2mods.health() is None
    assert texts(mods, "m:titleInfo/m:title") == ["SITE The Ardistan /"]
    assert texts(mods, "m:identifier[@type='uuid']") == [UUID]


def test_missing_xslt_is_reported_by_health_and_by_requests(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.xsl"
    marcxml2mods.configure(HandlerContext("marcxml2mods", {"xslt": str(missing)}, tmp_path, tmp_path))

    assert f"xslt = '{missing}' cannot be read" in marcxml2mods.health()
    with pytest.raises(ValueError, match="remove the option to use the built-in mapping"):
        convert(MARC)


def test_site_stylesheet_cannot_read_from_the_network(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        stylesheet = tmp_path / "fetching.xsl"
        stylesheet.write_text(XSLT.replace('<xsl:param name="uuid"/>', '<xsl:param name="uuid"/><xsl:variable '
                                           f'name="remote" select="document(\'http://127.0.0.1:{port}/x.xml\')"/>')
                              .replace("SITE ", "<xsl:value-of select='$remote'/>"))
        marcxml2mods.configure(HandlerContext("marcxml2mods", {"xslt": str(stylesheet)}, tmp_path, tmp_path))
        listener.settimeout(0.2)

        with pytest.raises(ValueError, match="failed on the record: .*read rights for http.* denied"):
            convert(MARC)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_records_wrapped_in_other_xml_are_found() -> None:
    wrapped = (f'<OAI-PMH><GetRecord><record><metadata>{etree.tostring(to_marcxml(RECORD), encoding="unicode")}'
               f'</metadata></record></GetRecord></OAI-PMH>')
    [mods] = convert(wrapped)
    assert texts(mods, "m:titleInfo/m:title") == ["Ardistan"]
