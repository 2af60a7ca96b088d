"""pdfgen: renders the licence contract, the review of a submitted form and any reST text as PDF.

Every document embeds the DejaVu fonts (Debian: fonts-dejavu-core) so that Czech text shows correctly.
Answers are `PDF(b64_content)`.
"""

from __future__ import annotations

import base64
from collections import namedtuple
from typing import Any, NamedTuple

from daemons.common.epublication import Author  # Author: the items of autori
from daemons.pdfgen.fonts import FontSet, FontsMissing, find_font_dir, load_fonts
from daemons.rpc.handler import HandlerContext

# The renderers (reportlab, docutils) are imported on the first request: an idle daemon stays small.

# `jednajici` (who acts for the publisher) came with an earlier upstream shape; six-field requests leave it out.
GenerateContract = namedtuple("GenerateContract", "firma pravni_forma sidlo ic dic zastoupen jednajici",
                              defaults=(None,))
RST2PDF = namedtuple("RST2PDF", "rst_content style header footer")
PDF = namedtuple("PDF", "b64_content")


class GenerateReview(NamedTuple):
    """The review form, in either of the two shapes clients send: one structure whose fields are the union.

    The first 21 fields are aleph's EPublication; the last 20 are the fields of the last upstream
    release's 27-field review form that EPublication lacks (the other seven, nazev, podnazev, cena,
    format, url, internal_url and anotace, are shared). A client sends either set; whatever it leaves out
    counts as not filled in. The review prints the upstream form when any of its own fields is present
    (daemons/pdfgen/review.py).
    """

    ISBN: Any = None
    invalid_ISBN: Any = None
    id_number: Any = None
    nazev: Any = None
    podnazev: Any = None
    vazba: Any = None
    cena: Any = None
    castDil: Any = None
    nazevCasti: Any = None
    nakladatelVydavatel: Any = None
    datumVydani: Any = None
    poradiVydani: Any = None
    zpracovatelZaznamu: Any = None
    format: Any = None
    url: Any = None
    mistoVydani: Any = None
    ISBNSouboruPublikaci: Any = None
    autori: Any = None
    originaly: Any = None
    internal_url: Any = None
    anotace: Any = None
    # the upstream review form's own fields
    cast: Any = None
    nazev_casti: Any = None
    isbn: Any = None
    isbn_souboru_publikaci: Any = None
    generated_isbn: Any = None
    author1: Any = None
    author2: Any = None
    author3: Any = None
    poradi_vydani: Any = None
    misto_vydani: Any = None
    rok_vydani: Any = None
    nakladatel_vydavatel: Any = None
    vydano_v_koedici_s: Any = None
    libraries_accessing: Any = None
    libraries_that_can_access: Any = None
    is_public: Any = None
    offer_to_riv: Any = None
    category_for_riv: Any = None
    zpracovatel_zaznamu: Any = None
    filename: Any = None


# What this daemon decodes from the wire and answers with.
STRUCTURES = (
    Author, GenerateContract, RST2PDF, PDF, GenerateReview
)

OPTIONS_SPEC = """
font_dir = string(default=None)
contract_template = string(default=None)
"""


class BackendUnavailable(RuntimeError):
    """The back end this daemon needs is not available."""


class UnsupportedRequest(TypeError):
    """The message is not one of the requests this daemon answers."""


class _Settings:
    font_dir: str | None = None
    contract: Any = None  # daemons.pdfgen.contract.ContractTemplate when the option is set


_settings = _Settings()


def configure(context: HandlerContext) -> None:
    """Read the options; a bad contract template stops the daemon at start, not at the first request."""
    _settings.font_dir = context.options.get("font_dir")
    path = context.options.get("contract_template")
    if path:
        from daemons.pdfgen.contract import ContractTemplate

        _settings.contract = ContractTemplate.from_file(path)
    else:
        _settings.contract = None
    note = health()
    if note:
        context.log.warning("pdfgen: %s", note)


def health() -> str | None:
    try:
        find_font_dir(_settings.font_dir)
    except FontsMissing as exc:
        return str(exc)
    return None


def _fonts() -> FontSet:
    try:
        return load_fonts(_settings.font_dir)
    except FontsMissing as exc:
        raise BackendUnavailable(f"cannot render PDF: {exc}") from None


def _pdf(content: bytes) -> PDF:
    return PDF(base64.b64encode(content).decode("ascii"))


def react(message: Any, send_back: Any) -> PDF:
    """Render the requested document; bad fields raise ValueError naming the field and the fix."""
    from daemons.pdfgen.contract import render_contract
    from daemons.pdfgen.page import DEFAULT_FOOTER
    from daemons.pdfgen.render import render_rst
    from daemons.pdfgen.review import render_review

    name = type(message).__name__
    if name == "GenerateContract":
        return _pdf(render_contract(message._asdict(), _fonts(), _settings.contract))
    if name == "GenerateReview":
        return _pdf(render_review(message._asdict(), _fonts()))
    if name == "RST2PDF":
        footer = DEFAULT_FOOTER if message.footer is None else message.footer
        return _pdf(render_rst(message.rst_content, _fonts(), style=message.style, header=message.header,
                               footer=footer))
    raise UnsupportedRequest(f"pdfgen cannot answer {name} ({message!r:.80}); send GenerateContract, GenerateReview "
                             f"or RST2PDF")
