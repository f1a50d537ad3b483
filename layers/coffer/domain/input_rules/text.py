"""How a refused value is shown in a message: on one line, shortened, never more than a user can read."""

from __future__ import annotations

import json
from typing import Any

#: characters of a value shown in a message; the rest is summarised by its length
SHOWN_CHARACTERS = 80
#: the longest cause a refusal carries (Step Functions allows 32,768 characters; nobody reads more than this)
MAX_CAUSE_CHARACTERS = 8000


def shown(value: Any) -> str:
    """A value as a message quotes it: JSON's spelling for true/false/null and numbers, strings quoted with
    control characters escaped (a value can never break a message onto a second line), long ones cut."""
    if isinstance(value, str):
        text = _escaped(value[:SHOWN_CHARACTERS])
        if len(value) > SHOWN_CHARACTERS:
            return f"'{text}...' ({len(value)} characters)"
        return f"'{text}'"
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    try:
        text = json.dumps(value, default=str, ensure_ascii=True)
    except ValueError:  # a structure that refers to itself
        text = type(value).__name__
    return text if len(text) <= SHOWN_CHARACTERS else f"{text[:SHOWN_CHARACTERS]}... ({len(text)} characters)"


def _escaped(text: str) -> str:
    out = []
    for char in text:
        if char == "'":
            out.append("\\'")
        elif char == "\\":
            out.append("\\\\")
        elif char.isprintable() or char == " ":
            out.append(char)
        else:  # control, line or paragraph separators, lone surrogates, unassigned: never printed raw
            out.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(out)


def member(path: str, name: str) -> str:
    """The path of a map's key: `RecoveryPointTags.team`, or `RecoveryPointTags['a b']` when the key has spaces,
    quotes, brackets or unprintable characters, or is long (shown shortened)."""
    if name and len(name) <= SHOWN_CHARACTERS and all(c.isprintable() and c not in " '[]" for c in name):
        return f"{path}.{name}"
    return f"{path}[{shown(name)}]"


def problem(path: str, value: Any, rule: str, todo: str) -> str:
    """`<path>: <value> <rule> (<what to do>)`: the shape of every message these rules write."""
    return f"{path}: {shown(value)} {rule} ({todo})"


def one_line(text: str) -> str:
    """A cause for a single line of a workflow's error output: no line breaks, at most MAX_CAUSE_CHARACTERS."""
    flat = "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for c in text)
    if len(flat) <= MAX_CAUSE_CHARACTERS:
        return flat
    return f"{flat[:MAX_CAUSE_CHARACTERS]}... (cut: {len(flat)} characters in all)"
