"""Reads an ONIX for Books 3.0 message (reference or short tags, any namespace) into harvested titles.

Codes used (ONIX code lists): ProductIDType 02/15 ISBN, 03 GTIN-13 (EAN); TitleType 01; ContributorRole any;
PublishingDateRole 01 (publication date); TextType 03/02 (description / short description); ExtentUnit 03
(pages); LanguageRole 01; NotificationType 05 (delete: skipped).
"""

from __future__ import annotations

from lxml import etree

from daemons.common.safe_xml import text_of
from daemons.harvester.structures import Author, Optionals, Publication, empty_optionals
from daemons.harvester.titles import FeedPage, HarvestedTitle, title_key

EBOOK_FORMATS = {"E101": "epub", "E107": "pdf", "E116": "mobi", "E105": "html", "E127": "azw"}
BINDINGS = {"BB": "hardback", "BC": "paperback", "BE": "spiral bound", "BF": "pamphlet", "BH": "board book"}
DELETE = "05"
# The short tags of every element this reader looks at (ONIX 3.0 short-tag names -> reference names).
SHORT_TAGS = {
    "product": "Product", "a001": "RecordReference", "a002": "NotificationType",
    "productidentifier": "ProductIdentifier", "b221": "ProductIDType", "b244": "IDValue",
    "descriptivedetail": "DescriptiveDetail", "b012": "ProductForm", "b333": "ProductFormDetail",
    "titledetail": "TitleDetail", "b202": "TitleType", "titleelement": "TitleElement",
    "x409": "TitleElementLevel", "b203": "TitleText", "b029": "Subtitle", "b030": "TitlePrefix",
    "b031": "TitleWithoutPrefix", "contributor": "Contributor", "b036": "PersonName", "b037": "PersonNameInverted",
    "b039": "NamesBeforeKey", "b040": "KeyNames", "b047": "CorporateName", "website": "Website",
    "b367": "WebsiteRole", "b295": "WebsiteLink", "b057": "EditionNumber", "b058": "EditionStatement",
    "language": "Language", "b253": "LanguageRole", "b252": "LanguageCode", "extent": "Extent",
    "b218": "ExtentType", "b219": "ExtentValue", "b220": "ExtentUnit", "collateraldetail": "CollateralDetail",
    "textcontent": "TextContent", "x426": "TextType", "d104": "Text", "publishingdetail": "PublishingDetail",
    "publisher": "Publisher", "b291": "PublishingRole", "b081": "PublisherName", "b209": "CityOfPublication",
    "publishingdate": "PublishingDate", "x448": "PublishingDateRole", "b306": "Date",
    "productsupply": "ProductSupply", "supplydetail": "SupplyDetail", "price": "Price", "j151": "PriceAmount",
    "j152": "CurrencyCode",
}


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def is_onix(root: etree._Element) -> bool:
    return _local(root.tag) in ("ONIXMessage", "ONIXmessage")


def expand_short_tags(root: etree._Element) -> None:
    """Rename short-tag elements (`<ONIXmessage>`, `<b203>`) in place to their reference names."""
    for element in root.iter(tag=etree.Element):
        reference = SHORT_TAGS.get(_local(element.tag))
        if reference is not None:
            element.tag = etree.QName(etree.QName(element).namespace, reference).text


def _text(element: etree._Element | None, path: str) -> str | None:
    return None if element is None else text_of(element.find(path))


def _where(element: etree._Element | None, path: str, code_path: str, *codes: str) -> etree._Element | None:
    """The first `path` child whose `code_path` text is one of `codes` (in the order of `codes`)."""
    if element is None:
        return None
    candidates = element.findall(path)
    for code in codes:
        for candidate in candidates:
            if _text(candidate, code_path) == code:
                return candidate
    return None


def _identifier(product: etree._Element, *types: str) -> str | None:
    return _text(_where(product, "{*}ProductIdentifier", "{*}ProductIDType", *types), "{*}IDValue")


def _title(detail: etree._Element | None) -> tuple[str | None, str | None]:
    title_detail = _where(detail, "{*}TitleDetail", "{*}TitleType", "01")
    element = _where(title_detail, "{*}TitleElement", "{*}TitleElementLevel", "01")
    if element is None:
        return None, None
    title = _text(element, "{*}TitleText")
    if title is None:
        prefix, rest = _text(element, "{*}TitlePrefix"), _text(element, "{*}TitleWithoutPrefix")
        title = " ".join(part for part in (prefix, rest) if part) or None
    return title, _text(element, "{*}Subtitle")


def _contributor_name(contributor: etree._Element) -> str | None:
    name = _text(contributor, "{*}PersonName") or _text(contributor, "{*}CorporateName")
    if name:
        return name
    parts = (_text(contributor, "{*}NamesBeforeKey"), _text(contributor, "{*}KeyNames"))
    return " ".join(part for part in parts if part) or _text(contributor, "{*}PersonNameInverted")


def _authors(detail: etree._Element | None) -> list[Author]:
    if detail is None:
        return []
    authors = []
    for contributor in detail.findall("{*}Contributor"):
        name = _contributor_name(contributor)
        if name:
            authors.append(Author(name=name, URL=_text(contributor, "{*}Website/{*}WebsiteLink")))
    return authors


def _price(product: etree._Element) -> str | None:
    price = product.find("{*}ProductSupply/{*}SupplyDetail/{*}Price")
    amount = _text(price, "{*}PriceAmount")
    if amount is None:
        return None
    currency = _text(price, "{*}CurrencyCode")
    return f"{amount} {currency}" if currency else amount


def _pages(detail: etree._Element | None) -> int | None:
    extent = _where(detail, "{*}Extent", "{*}ExtentUnit", "03")
    value = _text(extent, "{*}ExtentValue")
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


def _optionals(product: etree._Element, detail: etree._Element | None, sub_title: str | None) -> Optionals:
    form = _text(detail, "{*}ProductForm") or ""
    form_detail = _text(detail, "{*}ProductFormDetail")
    is_ebook = form.startswith("E") or form == "DG"
    publishing = product.find("{*}PublishingDetail")
    collateral = product.find("{*}CollateralDetail")
    description = _where(collateral, "{*}TextContent", "{*}TextType", "03", "02")
    website = _where(product, ".//{*}Website", "{*}WebsiteRole", "02", "36", "17")
    return empty_optionals()._replace(
        sub_title=sub_title,
        format=EBOOK_FORMATS.get(form_detail or "", form_detail) if is_ebook else None,
        pub_date=_text(_where(publishing, "{*}PublishingDate", "{*}PublishingDateRole", "01"), "{*}Date"),
        pub_place=_text(publishing, "{*}CityOfPublication"),
        ISBN=_identifier(product, "15", "02"),
        description=_text(description, "{*}Text"),
        pages=_pages(detail),
        EAN=_identifier(product, "03"),
        language=_text(_where(detail, "{*}Language", "{*}LanguageRole", "01"), "{*}LanguageCode"),
        edition=_text(detail, "{*}EditionNumber") or _text(detail, "{*}EditionStatement"),
        URL=_text(website, "{*}WebsiteLink"),
        binding=BINDINGS.get(form),
        is_ebook=is_ebook,
    )


def read_product(product: etree._Element) -> HarvestedTitle | None:
    """One `<Product>` as a title; None for deletions and products without a title."""
    if _text(product, "{*}NotificationType") == DELETE:
        return None
    detail = product.find("{*}DescriptiveDetail")
    title, sub_title = _title(detail)
    if title is None:
        return None
    publication = Publication(
        title=title,
        authors=_authors(detail),
        price=_price(product),
        publisher=_text(product, "{*}PublishingDetail/{*}Publisher/{*}PublisherName"),
        optionals=_optionals(product, detail, sub_title),
    )
    return HarvestedTitle(title_key(publication, _text(product, "{*}RecordReference")), publication)


def read_message(root: etree._Element) -> FeedPage:
    """Every product of an ONIX message; ONIX has no pages, so `next_href` is always None."""
    if _local(root.tag) == "ONIXmessage":
        expand_short_tags(root)
    titles, skipped = [], 0
    for product in root.iterfind("{*}Product"):
        harvested = read_product(product)
        if harvested is None:
            skipped += 1
        else:
            titles.append(harvested)
    return FeedPage(titles, None, skipped)
