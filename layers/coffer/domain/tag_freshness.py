"""When an S3 backup reads an unchanged object's tags again (GetObjectTagging), and when it may carry them forward.

Tags change without a new version (PutObjectTagging keeps the ETag), so a listing cannot tell that they did. S3
says so on EventBridge ("Object Tags Added" / "Object Tags Deleted"): RecordObjectChange notes the key (a *tag
mark*, with the time Coffer noted it), and a backup reads the tags of an unchanged object only when

- the bucket has no EventBridge notifications (nothing would say a tag changed: read every time - the job
  says so in a warning, never silently stale);
- its index record has no tags read by this rule yet (indexed before it);
- a mark was noted at or after the record's `tags_read_at` (the moment the batch that last read them began
  looking for marks: a mark noted while that batch ran is seen by the next backup);
- it is the key's refresh day and they were not read yet that day: each key has a day in every `refresh_days` (a
  hash of the key), so a lost event is caught within `refresh_days` and each day refreshes about 1/`refresh_days`
  of the keys (no monthly spike), once however many backups run that day;
- or its tags were last read `refresh_days` or more ago (backups less often than daily).

The bound this gives, with every tag event lost: a backup at time t records tags read after t - refresh_days.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Any

#: the record fields this module reads and writes in the object index
TAGS_READ_AT = "tags_read_at"
_EPOCH = date(1970, 1, 1)


def refresh_slot(key: str, refresh_days: int) -> int:
    """The key's day in every `refresh_days` (stable across processes: not Python's salted hash)."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % refresh_days


def is_refresh_day(key: str, day: date, refresh_days: int) -> bool:
    return (day - _EPOCH).days % refresh_days == refresh_slot(key, refresh_days)


def tags_due(key: str, known: dict[str, Any], mark: datetime | None, now: datetime, refresh_days: int,
             events_on: bool) -> bool:
    """Whether an unchanged object's tags must be read now (the module docstring gives the rules and why)."""
    read_at = known.get(TAGS_READ_AT)
    if not events_on or read_at is None or "tags" not in known:
        return True
    last = datetime.fromisoformat(read_at)
    if mark is not None and mark >= last:
        return True
    # on its refresh day once: an hourly plan's later backups that day find them read already
    refresh_today = is_refresh_day(key, now.date(), refresh_days) and last.date() < now.date()
    return refresh_today or now - last >= timedelta(days=refresh_days)
