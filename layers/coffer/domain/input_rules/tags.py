"""AWS Backup's tag rules (its KeyValue type), for RecoveryPointTags and BackupPlanTags.

- at most 50 tags on one resource;
- a key has 1 to 128 characters and does not start with `aws:` in any case (reserved for AWS);
- a value has at most 256 characters;
- both hold only letters, numbers and separators of any script (Unicode's L, N and Z categories) and
  `_ . : / = + - @` (AWS's pattern `^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from coffer.domain.input_rules.text import member, problem, shown

MAX_TAGS = 50
MAX_KEY_CHARACTERS = 128
MAX_VALUE_CHARACTERS = 256
RESERVED_PREFIX = "aws:"
_PUNCTUATION = frozenset("_.:/=+-@")
ALLOWED = "letters, digits, spaces and _ . : / = + - @"


def _allowed(text: str) -> bool:
    return all(c in _PUNCTUATION or unicodedata.category(c)[0] in "LNZ" for c in text)


def tag_problems(tags: Mapping[str, str] | None, path: str) -> list[str]:
    """Every tag rule `tags` breaks, each naming the tag by its path (`RecoveryPointTags.team`)."""
    if not tags:
        return []
    problems = []
    if len(tags) > MAX_TAGS:
        problems.append(f"{path}: {len(tags)} tags; at most {MAX_TAGS} (AWS's limit per resource: remove "
                        f"{len(tags) - MAX_TAGS})")
    for key, value in tags.items():
        where = member(path, key)
        if not 1 <= len(key) <= MAX_KEY_CHARACTERS:
            problems.append(problem(where, key, f"is {len(key)} characters: a tag key has 1 to 128 characters",
                                    "shorten or rename the key"))
        if key[:len(RESERVED_PREFIX)].lower() == RESERVED_PREFIX:
            problems.append(f"{where}: tag keys starting with 'aws:' are reserved for AWS (rename the key)")
        if len(value) > MAX_VALUE_CHARACTERS:
            problems.append(f"{where}: a tag value has at most 256 characters ({len(value)} given: "
                            f"{shown(value)}; shorten it)")
        if not _allowed(key) or not _allowed(value):
            bad = next(c for c in key + value if not (c in _PUNCTUATION or unicodedata.category(c)[0] in "LNZ"))
            problems.append(f"{where}: tags may hold {ALLOWED} only ({shown(bad)} is not allowed: remove it)")
    return problems
