"""Strict numbers and booleans: what AWS's APIs take as a number or a boolean is refused in any other form.

pydantic's default (lax) mode reads `true` as 1 and `"35"` as 35, so `DeleteAfterDays: true` became a one-day
retention. The annotated types here refuse both; the request models use them for every number and boolean.
Restore metadata is a map of strings in AWS Backup's API, so its booleans and numbers are strings with rules of
their own (`flag_string_problem`, `number_string_problem`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BeforeValidator

from coffer.domain.input_rules.text import member, problem, shown

#: AWS Backup keeps a recovery point at most 100 years (a vault lock's MaxRetentionDays is at most 36,500)
MAX_DAYS = 36_500


def _whole_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{shown(value)} is not a whole number (give a JSON number such as 35: not true or false, "
                         "not a string, not a fraction)")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{shown(value)} is not a boolean (give JSON's true or false: not a string, not a number)")
    return value


#: an integer field: a JSON number without a fraction, never a boolean or a string
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
#: a boolean field: JSON's true or false only
Flag = Annotated[bool, BeforeValidator(_flag)]

FLAG_STRINGS = ("true", "false")


def flag_string_problem(path: str, value: str) -> str | None:
    """A boolean given as a restore metadata string (AWS Backup: "true" or "false")."""
    if value in FLAG_STRINGS:
        return None
    return problem(path, value, "is not \"true\" or \"false\"", 'give "true" or "false", in lower case')


def number_string_problem(path: str, value: str, low: int, high: int, unit: str) -> str | None:
    """A whole number given as a restore metadata string, within AWS's limits."""
    if not (value.isascii() and value.isdigit()) or (len(value) > 1 and value.startswith("0")):
        return problem(path, value, f"is not a whole number of {unit}", f"give digits only, e.g. \"{low}\"")
    if not low <= int(value) <= high:
        return problem(path, value, f"is outside {low}-{high} {unit}", f"give a number from {low} to {high}")
    return None


def unicode_problems(value: Any, path: str = "") -> Iterator[str]:
    """Strings that are not valid Unicode (a lone surrogate, which JSON's \\ud800 escape can carry): no AWS API
    and no hash takes them, so they are refused by path before anything encodes them."""
    if isinstance(value, str):
        if any(unicodedata.category(c) == "Cs" for c in value):
            yield problem(path or "(input)", value, "is not valid Unicode (it holds a lone surrogate)",
                          "send the text as UTF-8")
    elif isinstance(value, dict):
        for name, item in value.items():
            if isinstance(name, str) and any(unicodedata.category(c) == "Cs" for c in name):
                yield problem(path or "(input)", name, "is a key that is not valid Unicode", "send the text as UTF-8")
            yield from unicode_problems(item, member(path, str(name)) if path else str(name))
    elif isinstance(value, list | tuple):
        for n, item in enumerate(value):
            yield from unicode_problems(item, f"{path}[{n}]")
