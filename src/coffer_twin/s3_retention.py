"""PutObjectRetention on the twin, as S3 rules it.

moto 5.2 writes whatever retention it is sent: it lets a COMPLIANCE lock be shortened or turned GOVERNANCE, a
GOVERNANCE lock be shortened without the bypass header, and answers a retention on a version that does not exist
with a server error. S3 refuses each (403 AccessDenied for a lock change the object's lock forbids; 404 for a missing
key or version). Coffer extends a blob's lock on its pinned version with one call and relies on those refusals to
learn that its record of the lock is out of date (services/object_batches.py), so the twin must refuse as S3 does or
the tests would pass where AWS fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from unittest import mock

__all__ = ["retention_as_s3_rules"]


def _when(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def refusal(held_mode: str | None, held_until: Any, mode: str | None, until: Any, now: datetime,
            bypass: bool) -> str | None:
    """Why S3 refuses to set (mode, until) on a version locked (held_mode, held_until) at `now`; None: allowed.

    An active COMPLIANCE lock may only be lengthened, in COMPLIANCE; an active GOVERNANCE lock may be lengthened in
    GOVERNANCE, and shortened, removed or given another mode only with the bypass header."""
    current, wanted = _when(held_until), _when(until)
    if held_mode is None or current is None or current <= now:
        return None  # no active lock: anything goes
    shorter = wanted is None or wanted < current
    if held_mode == "COMPLIANCE":
        if mode != "COMPLIANCE" or shorter:
            return "a COMPLIANCE lock cannot be shortened, removed or given another mode"
        return None
    if (shorter or mode != held_mode) and not bypass:
        return "a GOVERNANCE lock is shortened, removed or given another mode only with the bypass header"
    return None


@contextmanager
def retention_as_s3_rules(now: Any) -> Iterator[None]:
    """Patch moto's PutObjectRetention: 404 for a missing key or version, 403 for a change the lock forbids.
    `now()` is the twin's clock (locks run out on simulated time)."""
    from moto.s3.exceptions import MissingKey, MissingVersion, S3AccessDeniedError
    from moto.s3.responses import S3Response

    original = S3Response.put_object_retention

    def put_object_retention(self: Any) -> Any:
        version_id = self._get_param("versionId")
        key_name = self.parse_key_name()
        key = self.backend.get_object(self.bucket_name, key_name, version_id=version_id)
        if key is None:
            raise MissingVersion() if version_id else MissingKey(key=key_name)
        mode, until = self._mode_until_from_body()
        bypass = (self.headers.get("x-amz-bypass-governance-retention") or "").lower() == "true"
        if refusal(getattr(key, "lock_mode", None), getattr(key, "lock_until", None), mode, until, now(), bypass):
            raise S3AccessDeniedError()
        return original(self)

    with mock.patch.object(S3Response, "put_object_retention", put_object_retention):
        yield
