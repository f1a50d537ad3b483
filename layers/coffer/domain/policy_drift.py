"""Drift of a live policy (vault key, vault bucket) from the statements the template and the vaults install.

Statements are compared by Sid after normalising what IAM treats as the same (a string or a one-item list, the
order of a list's items), so a policy re-serialised by KMS or S3 is not drift while any change of effect, principal,
action, resource or condition is. Three kinds of drift, each named with the Sid:
- a statement the template or a vault installs is missing (a guard removed);
- it is there with other content (a guard loosened: another principal exempted, an action dropped);
- a statement nobody installs is there (a grant added: an Allow for a stranger weakens the key or the bucket).
"""

from __future__ import annotations

import json
from typing import Any

#: the fields of a statement whose lists IAM reads as sets
_SET_FIELDS = ("Action", "NotAction", "Resource", "NotResource")


def normalise(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement as IAM reads it: set-like lists sorted, one-item lists as lists, principals as sets."""
    out: dict[str, Any] = {}
    for name, value in statement.items():
        if name in _SET_FIELDS:
            out[name] = _as_set(value)
        elif name in ("Principal", "NotPrincipal"):
            out[name] = value if value == "*" else {k: _as_set(v) for k, v in dict(value).items()}
        elif name == "Condition":
            out[name] = {op: {key: _as_set(v) for key, v in dict(keys).items()} for op, keys in dict(value).items()}
        else:
            out[name] = value
    return out


def _as_set(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return sorted({str(item) for item in items})


def _differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    return sorted(name for name in set(expected) | set(found) if expected.get(name) != found.get(name))


def drift(expected: list[dict[str, Any]], policy: dict[str, Any] | None) -> list[tuple[str, str, str | None]]:
    """(Sid, what differs, the statement found as JSON or None) for each drifted statement of `policy`."""
    found = [normalise(s) for s in (policy or {}).get("Statement", [])]
    if isinstance((policy or {}).get("Statement"), dict):
        found = [normalise(dict((policy or {})["Statement"]))]
    wanted = [normalise(s) for s in expected]
    found_by_sid = {str(s["Sid"]): s for s in found if s.get("Sid")}
    out: list[tuple[str, str, str | None]] = []
    for statement in wanted:
        sid = str(statement.get("Sid", ""))
        there = found_by_sid.get(sid) if sid else (statement if statement in found else None)
        if there is None:
            out.append((sid or "(no Sid)", "missing", None))
        elif there != statement:
            out.append((sid, "changed: " + ", ".join(_differences(statement, there)), json.dumps(there)))
    expected_sids = {str(s.get("Sid")) for s in wanted if s.get("Sid")}
    for statement in found:
        sid = str(statement.get("Sid", ""))
        if (sid and sid not in expected_sids) or (not sid and statement not in wanted):
            out.append((sid or "(no Sid)", "not installed by the template or a vault", json.dumps(statement)))
    return out
