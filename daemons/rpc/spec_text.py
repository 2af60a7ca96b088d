"""Configspec checks and validation failures in words an operator reads, for the INI and handler options.

A check such as ``integer(min=1, max=65535, default=None)`` becomes "a whole number from 1 to 65535";
a `validate` error becomes a short reason ("too big"). Nothing of the configspec syntax is shown.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

import validate

_CHECK = re.compile(r"^\s*(\w+)\s*(?:\((.*)\))?\s*$", re.S)
_NAMED = re.compile(r"(\w+)\s*=\s*('[^']*'|\"[^\"]*\"|[^,]+)")
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")

_LISTS = {"list", "tuple", "force_list", "string_list", "int_list", "float_list", "bool_list", "ip_addr_list",
          "mixed_list"}
_ITEMS = {"int_list": "whole numbers", "float_list": "numbers", "bool_list": "true/false values",
          "ip_addr_list": "IP addresses"}


def split_check(check: str) -> tuple[str, dict[str, str], list[str]]:
    """The check's name, its named arguments (default left out) and its quoted positional arguments."""
    match = _CHECK.match(check)
    if match is None:
        return check.strip(), {}, []
    name, args = match.group(1), match.group(2) or ""
    named = {key: value.strip().strip("'\"") for key, value in _NAMED.findall(args)}
    named.pop("default", None)
    positional_part = _NAMED.sub("", args)
    positional = [a or b for a, b in _QUOTED.findall(positional_part)]
    return name, named, positional


def is_list_check(check: str) -> bool:
    return split_check(check)[0] in _LISTS


def _range(named: dict[str, str], unit: str = "") -> str:
    low, high = named.get("min"), named.get("max")
    if low is not None and high is not None:
        return f" from {low} to {high}{unit}"
    if low is not None:
        return f" of at least {low}{unit}"
    if high is not None:
        return f" of at most {high}{unit}"
    return ""


def describe_check(check: str) -> str:
    """What a value must be, e.g. 'a whole number from 1 to 65535' or 'one of: edeposit, legacy'."""
    name, named, positional = split_check(check)
    if name == "integer":
        return "a whole number" + _range(named)
    if name == "float":
        return "a number" + _range(named)
    if name == "boolean":
        return "true or false (yes/no, on/off and 1/0 work too)"
    if name == "string":
        if named.get("min") == "1" and "max" not in named:
            return "non-empty text"
        return "text" + _range(named, " characters")
    if name == "ip_addr":
        return "an IP address"
    if name == "option":
        return "one of: " + ", ".join(positional)
    if name == "force_list":
        return "one value or several separated by commas"
    if name in _LISTS:
        items = _ITEMS.get(name, "values")
        return (f"a list of {items} separated by commas (a single value needs a trailing comma, "
                f"e.g. `x,`)")
    if name in ("pass", "mixed"):
        return "any value"
    return f"a value of type {name}"


def describe_error(error: object) -> str:
    """Why a value failed, in a few words ('too big', 'the wrong type', 'missing')."""
    if error is False:
        return "missing"
    reasons: list[tuple[type, str]] = [
        (validate.VdtValueTooBigError, "too big"),
        (validate.VdtValueTooSmallError, "too small"),
        (validate.VdtValueTooLongError, "too long"),
        (validate.VdtValueTooShortError, "too short"),
        (validate.VdtTypeError, "not valid"),
        (validate.VdtMissingValue, "missing"),
        (validate.VdtValueError, "not one of the allowed values"),
    ]
    for kind, reason in reasons:
        if isinstance(error, kind):
            return reason
    return str(error).rstrip(".")


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known name `word` is most likely a typo of, if any."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.75)
    return close[0] if close else None


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """' (did you mean calibre?)' for a near miss, else an empty string."""
    near = closest(word, known)
    return f" (did you mean {near}?)" if near else ""
