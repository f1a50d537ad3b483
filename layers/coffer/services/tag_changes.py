"""S3's tag events (RecordObjectChange): the key's tags are marked changed, so that the next S3 backup of its bucket
reads them (domain/tag_freshness.py); nothing else reads them."""

from __future__ import annotations

from pydantic import BaseModel

from coffer.domain.clock import Clock
from coffer.domain.continuous import S3TagEvent
from coffer.ports.tag_marks import TagMarks


class TagChangeResult(BaseModel):
    noted: bool
    bucket: str
    key: str


class TagChanges:
    def __init__(self, marks: TagMarks, clock: Clock) -> None:
        self._marks = marks
        self._clock = clock

    def note(self, event: S3TagEvent) -> TagChangeResult:
        """Mark the key, at Coffer's clock when the event arrived (not the event's time: an event delivered late,
        after a backup began, must still be newer than what that backup read). One PutItem; a repeated event
        writes the same mark again."""
        bucket, key = event.detail.bucket.name, event.detail.object.key
        self._marks.note(bucket, key, self._clock.now())
        return TagChangeResult(noted=True, bucket=bucket, key=key)
