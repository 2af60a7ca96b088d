"""ISBN-10 and ISBN-13 checksum validation (hyphens and spaces are ignored)."""

from __future__ import annotations

import re

_ISBN_TOKEN = re.compile(r"[0-9][0-9\- ]{8,16}[0-9Xx]")


def normalize(isbn: str) -> str:
    return "".join(ch for ch in str(isbn) if ch not in "- ").upper()


def is_valid_isbn10(isbn: str) -> bool:
    digits = normalize(isbn)
    if len(digits) != 10 or not digits[:9].isdigit() or not (digits[9].isdigit() or digits[9] == "X"):
        return False
    values = [int(d) for d in digits[:9]] + [10 if digits[9] == "X" else int(digits[9])]
    return sum((10 - i) * v for i, v in enumerate(values)) % 11 == 0


def is_valid_isbn13(isbn: str) -> bool:
    digits = normalize(isbn)
    if len(digits) != 13 or not digits.isdigit():
        return False
    return sum((3 if i % 2 else 1) * int(d) for i, d in enumerate(digits)) % 10 == 0


def is_valid_isbn(isbn: str) -> bool:
    return is_valid_isbn10(isbn) or is_valid_isbn13(isbn)


def extract_isbn(text: str) -> str:
    """The ISBN out of a catalogue subfield such as "80-7174-091-8 (sv. 1 : váz.) :" (hyphens kept)."""
    match = _ISBN_TOKEN.search(text or "")
    return match.group(0).replace(" ", "").upper() if match else (text or "").strip(" :;,/")
