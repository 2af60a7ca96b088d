"""The licence contract between the library and a publisher (GenerateContract), rendered from reST.

The text is a `string.Template` in reST with the placeholders $firma, $pravni_forma, $sidlo, $ic, $dic,
$zastoupen and $jednajici (the person acting for the publisher, sent only by some clients). A deployment
can put its own legal text in a file and name it in the `contract_template` option; the values are
escaped so that nothing a publisher types can change the document's structure.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daemons.pdfgen.fonts import FontSet
from daemons.pdfgen.render import render_rst

FIELDS = ("firma", "pravni_forma", "sidlo", "ic", "dic", "zastoupen", "jednajici")
FOOTER = "Licenční smlouva – ###Title### – strana ###Page### z ###Total###"
EMPTY = "—"

DEFAULT_TEMPLATE = """\
===================================================================
Licenční smlouva o dodávání elektronických publikací a jejich užití
===================================================================

uzavřená podle § 2358 a násl. zákona č. 89/2012 Sb., občanský zákoník, a podle zákona č. 121/2000 Sb.,
o právu autorském, ve znění pozdějších předpisů

Smluvní strany
==============

**Národní knihovna České republiky**

:Sídlo: Klementinum 190, 110 00 Praha 1
:IČ: 00023221
:Zastoupena: generálním ředitelem

(dále jen „knihovna“)

a

**$firma**

:Právní forma: $pravni_forma
:Sídlo: $sidlo
:IČ: $ic
:DIČ: $dic
:Zastoupen(a): $zastoupen
:Jednající: $jednajici

(dále jen „nakladatel“)

uzavírají tuto licenční smlouvu (dále jen „smlouva“):

I. Předmět smlouvy
==================

1. Předmětem smlouvy je dodávání elektronických publikací (dále jen „e-publikace“), které nakladatel
   vydává, do systému E-deposit knihovny a úprava práv a povinností smluvních stran při jejich užití.
2. Nakladatel dodává e-publikace ve formátu, v jakém je zpřístupňuje veřejnosti, spolu s popisnými
   údaji vyplněnými ve formuláři systému E-deposit.
3. Knihovna e-publikace zpracuje, přidělí jim identifikátory a zajistí jejich dlouhodobé uchování.

II. Licence
===========

1. Nakladatel poskytuje knihovně nevýhradní, bezúplatnou a časově neomezenou licenci k užití e-publikací
   v rozsahu nutném pro jejich zpracování, katalogizaci, ochranu a dlouhodobé uchování, včetně práva
   pořizovat rozmnoženiny a převádět e-publikace do jiných formátů.
2. Knihovna smí e-publikace zpřístupnit svým uživatelům na terminálech ve svých prostorách tak, aby
   nebylo možné pořizovat jejich rozmnoženiny, není-li s nakladatelem dohodnuto jinak.
3. Zpřístupnění e-publikace veřejnosti prostřednictvím sítě Internet je možné jen tehdy, označí-li ji
   nakladatel ve formuláři jako veřejnou.

III. Povinnosti smluvních stran
===============================

1. Nakladatel prohlašuje, že je oprávněn licenci poskytnout a že užitím e-publikací podle této smlouvy
   nebudou porušena práva třetích osob.
2. Knihovna zajistí e-publikace proti neoprávněnému přístupu a užije je jen k účelům podle této smlouvy.
3. Smluvní strany si poskytnou součinnost potřebnou k plnění smlouvy; změny kontaktních údajů si
   oznámí bez zbytečného odkladu.

IV. Závěrečná ustanovení
========================

1. Smlouva nabývá platnosti a účinnosti dnem jejího podpisu oběma smluvními stranami.
2. Smlouvu lze vypovědět písemnou výpovědí s výpovědní dobou tří měsíců, která počíná běžet prvním dnem
   měsíce následujícího po doručení výpovědi. Licence k e-publikacím dodaným před zánikem smlouvy trvá.
3. Práva a povinnosti touto smlouvou neupravené se řídí právním řádem České republiky.
4. Smlouva je vyhotovena ve dvou stejnopisech, z nichž každá smluvní strana obdrží jeden.

.. raw:: pdf

   CondPageBreak 6cm

| V Praze dne ....................
|
|
| ......................................................
| za knihovnu

| V ........................ dne ....................
|
|
| ......................................................
| za nakladatele: $firma, $zastoupen
"""


class ContractError(ValueError):
    """A contract request or a contract template cannot be used."""


class ContractTemplate:
    """A checked contract text: it may use only the GenerateContract fields as placeholders."""

    def __init__(self, text: str, source: str = "the built-in contract") -> None:
        self.template = string.Template(text)
        unknown = sorted(set(self.template.get_identifiers()) - set(FIELDS))
        if unknown or not self.template.is_valid():
            problem = f"unknown placeholder(s) ${', $'.join(unknown)}" if unknown else "a stray '$' (write $$)"
            raise ContractError(f"contract template {source}: {problem}; placeholders are ${', $'.join(FIELDS)}")
        self.source = source

    @classmethod
    def from_file(cls, path: str | Path) -> ContractTemplate:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ContractError(f"[[[options]]] contract_template = {str(path)!r} cannot be read ({exc}): point it "
                                f"to a UTF-8 reST file with the placeholders ${', $'.join(FIELDS)}") from None
        return cls(text, source=str(path))

    def fill(self, values: Mapping[str, Any]) -> str:
        return self.template.substitute({name: rst_escape(values.get(name)) for name in FIELDS})


def rst_escape(value: Any) -> str:
    """One line of reST text that shows `value` literally: every punctuation mark is backslash-escaped."""
    if value is None or not str(value).strip():
        return EMPTY
    text = " ".join(str(value).split())
    return "".join(ch if ch.isalnum() or ch == " " else "\\" + ch for ch in text)


def check_contract(values: Mapping[str, Any]) -> None:
    for name in FIELDS:
        value = values.get(name)
        if value is not None and not isinstance(value, str | int | float):
            raise ContractError(f"GenerateContract.{name} must be text, got {type(value).__name__} {value!r}")
    if not str(values.get("firma") or "").strip():
        raise ContractError("GenerateContract.firma is empty: the contract needs the publisher's name")


def render_contract(values: Mapping[str, Any], fonts: FontSet, template: ContractTemplate | None = None) -> bytes:
    check_contract(values)
    text = (template or ContractTemplate(DEFAULT_TEMPLATE)).fill(values)
    firma = " ".join(str(values["firma"]).split())
    return render_rst(text, fonts, footer=FOOTER, title=firma)
