"""An append whose PutObject went through but whose answer was lost (botocore repeats it; S3 answers the create-only
write 412): the record is adopted as the append's own, by its idempotency key - one backup.complete, not two."""

from __future__ import annotations

from datetime import timedelta

from fakes.world import FakeWorld

from coffer.domain.audit import EMPTY_HEAD, audit_key, next_record, stored_form


def test_a_record_written_by_an_append_whose_answer_was_lost_is_adopted_as_that_appends_own() -> None:
    world = FakeWorld()
    lost = next_record(EMPTY_HEAD, world.clock.now(), "test", "backup.complete", "rp-1", {"n": 1},
                       idempotency_key="backup.complete:job-1:v1")
    world.vault.put_locked(audit_key(1), stored_form(lost), world.clock.now() + timedelta(days=1), create_only=True)
    again = world.audit.append("backup.complete", "rp-1", {"n": 1}, idempotency_key="backup.complete:job-1:v1")
    assert again == lost
    assert [r.seq for r in world.audit.records()] == [1]
    assert world.audit.append("backup.complete", "rp-1", {"n": 1}, idempotency_key="backup.complete:job-1:v1") == lost
    # another append adopts it the same way and then writes its own record after it
    other = world.audit.append("restore.start", "rp-1", {}, idempotency_key="restore.start:job-2")
    assert other.seq == 2 and [r.action for r in world.audit.records()] == ["backup.complete", "restore.start"]
