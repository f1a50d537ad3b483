"""The attack on reading tags only when S3's tag events say they changed (domain/tag_freshness.py): someone with S3
rights on the source bucket turns its EventBridge notifications off, re-tags objects (no event is sent), and turns
them on again, so that the next backups see events on, find no mark, and would carry the old tags forward.

The bound the rolling refresh gives: a recovery point never records tags read more than TagRefreshDays days before
its backup. Here TagRefreshDays is 3: within 3 daily backups every re-tagged object's new tags are recorded. Run with
IAM enforced: the backups' functions make every call of the new path (GetBucketNotificationConfiguration, the tag
marks' Query, the blob records, the staging copies) under the template's policies.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from twins import Twins

from coffer.domain.clock import FixedClock
from coffer.domain.jobs import JobState
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry
from coffer.domain.tag_freshness import is_refresh_day
from coffer_cli.local.session import LocalCoffer

START = (datetime.now(UTC) - timedelta(days=100)).replace(hour=2, minute=0, second=0, microsecond=0)
BOUND = 3  # TagRefreshDays
BUCKET = "stale-tags-source"
KEYS = [f"doc-{n:02d}" for n in range(10)]


@pytest.fixture(scope="module")
def world(twins: Twins) -> Iterator[tuple[LocalCoffer, FixedClock]]:
    clock = FixedClock(START)
    with twins.fresh({"TagRefreshDays": str(BOUND)}, clock=clock, enforce_iam=True) as coffer:
        yield coffer, clock


def backup(coffer: LocalCoffer, token: str) -> dict[str, ObjectEntry]:
    coffer.twin.wait_for_async()
    result = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{BUCKET}", "IdempotencyToken": token,
                                  "Lifecycle": {"DeleteAfterDays": 35}})
    assert result["status"] == "SUCCEEDED", result
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    assert job.state is JobState.COMPLETED and not job.progress.failed_keys, (job.state, job.status_message)
    assert job.progress.tag_events is True
    rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
    vault = coffer.deps.vault
    manifest = Manifest.model_validate_json(vault.get_bytes(rp.manifest_key or ""))
    return {e.key: e for part in manifest.parts for e in ManifestPart.model_validate(vault.get_json(part.key)).entries}


def test_tags_changed_while_their_events_were_suppressed_are_recorded_within_the_refresh_bound(
        world: tuple[LocalCoffer, FixedClock]) -> None:
    coffer, clock = world
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    on = {"EventBridgeConfiguration": {}}
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=on)
    for key in KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=f"{key} body".encode(), Tagging="classification=secret")
    first = backup(coffer, "stale-0")
    assert all(first[k].tags == {"classification": "secret"} for k in KEYS)

    # the attack: events off, every object re-tagged (no event sent), events on again
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={})
    for key in KEYS:
        s3.put_object_tagging(Bucket=BUCKET, Key=key,
                              Tagging={"TagSet": [{"Key": "classification", "Value": "public"}]})
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=on)

    stale_on: dict[int, list[str]] = {}
    for day in range(1, BOUND + 1):
        clock.set(START + timedelta(days=day))
        entries = backup(coffer, f"stale-{day}")
        stale_on[day] = [k for k in KEYS if entries[k].tags != {"classification": "public"}]
        # on each day exactly the keys whose refresh day has come are read again: the stale ones shrink by those
        due = {k for d in range(1, day + 1) for k in KEYS if is_refresh_day(k, (START + timedelta(days=d)).date(),
                                                                             BOUND)}
        assert set(stale_on[day]) == set(KEYS) - due, (day, stale_on[day])
    # the bound: no recovery point made BOUND days after the change carries the old tags
    assert stale_on[BOUND] == [], stale_on
