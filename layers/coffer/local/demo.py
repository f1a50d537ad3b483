"""README command one: the whole backup → vault → catalog → restore cycle on the embedded twin.

Every step checks what it claims; the demo exits non-zero at the first claim that does not hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from botocore.exceptions import ClientError

from coffer.domain.jobs import Job
from coffer.domain.manifest import VaultLayout
from coffer.local.samples import (
    SAMPLE_BUCKET,
    SAMPLE_TABLE,
    bucket_snapshot,
    create_sample_bucket,
    create_sample_table,
    table_items,
)
from coffer.local.session import LocalCoffer, local_twin
from coffer.local.tables import render

Say = Callable[[str], None]


class DemoFailed(Exception):
    pass


def check(condition: bool, claim: str, say: Say) -> None:
    if not condition:
        raise DemoFailed(claim)
    say(f"  ok  {claim}")


def run_demo(project_root: Path, say: Say = print) -> int:
    started = time.monotonic()
    try:
        with local_twin(project_root) as coffer:
            _demo(coffer, say)
    except DemoFailed as failure:
        say(f"\nDEMO FAILED: {failure}")
        return 1
    say(f"\nDemo finished in {time.monotonic() - started:.1f}s: every step above was checked.")
    return 0


def _demo(coffer: LocalCoffer, say: Say) -> None:
    s3, dynamodb, settings = coffer.client("s3"), coffer.client("dynamodb"), coffer.settings
    say("1. Deployed template.yaml on the embedded twin (moto): vault, catalog, workflows, rules.")
    lock = s3.get_object_lock_configuration(Bucket=settings.vault_bucket)["ObjectLockConfiguration"]
    check(lock["ObjectLockEnabled"] == "Enabled", f"vault bucket {settings.vault_bucket} has Object Lock", say)

    say("\n2. Sample resources: an S3 bucket (nested keys, an object over 8 MiB, metadata, tags) and a table.")
    objects = create_sample_bucket(s3)
    items = create_sample_table(dynamodb)
    say(f"  {SAMPLE_BUCKET}: {len(objects)} objects; {SAMPLE_TABLE}: {len(items)} items")

    say("\n3. StartBackupJob events on the bus; the Backup workflow runs for each.")
    account, region = "123456789012", coffer.twin.region
    run = f"demo-{int(coffer.clock.now().timestamp())}"
    s3_result = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{SAMPLE_BUCKET}", "IdempotencyToken": f"{run}-s3",
                                     "Lifecycle": {"DeleteAfterDays": 35}, "RecoveryPointTags": {"demo": "yes"}})
    ddb_result = coffer.start_backup({"ResourceArn": f"arn:aws:dynamodb:{region}:{account}:table/{SAMPLE_TABLE}",
                                      "IdempotencyToken": f"{run}-dynamodb", "Lifecycle": {"DeleteAfterDays": 35}})
    check(s3_result["status"] == "SUCCEEDED", "S3 backup workflow SUCCEEDED", say)
    check(ddb_result["status"] == "SUCCEEDED", "DynamoDB backup workflow SUCCEEDED", say)
    catalog = coffer.deps.catalog
    s3_job = catalog.get_job(s3_result["output"]["job_id"]) if s3_result["output"] else None
    jobs = list(catalog.list_jobs(coffer.clock.now()))
    _print_jobs(jobs, say)
    check(all(j.state.value == "COMPLETED" for j in jobs), "both backup jobs COMPLETED", say)
    points = list(catalog.list_recovery_points("Default"))
    _print_recovery_points(points, say)
    check(len(points) == 2 and all(p.status.value == "COMPLETED" for p in points), "two COMPLETED recovery points", say)

    duplicate = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{SAMPLE_BUCKET}", "IdempotencyToken": f"{run}-s3",
                                     "Lifecycle": {"DeleteAfterDays": 35}, "RecoveryPointTags": {"demo": "yes"}})
    check(duplicate["output"]["duplicate"] and len(list(catalog.list_jobs(coffer.clock.now()))) == 2,
          "the same event delivered again makes no second job", say)

    say("\n4. Restore both into new resources and compare them with the originals.")
    by_type = {p.resource_type.value: p for p in points}
    restored_bucket = f"{SAMPLE_BUCKET}-restored"
    r1 = coffer.start_restore({"RecoveryPointArn": by_type["S3"].recovery_point_id, "IdempotencyToken": f"{run}-r1",
                               "Metadata": {"DestinationBucketName": restored_bucket, "NewBucket": "true"}})
    r2 = coffer.start_restore({"RecoveryPointArn": by_type["DynamoDB"].recovery_point_id,
                               "IdempotencyToken": f"{run}-r2",
                               "Metadata": {"targetTableName": f"{SAMPLE_TABLE}-restored"}})
    check(r1["status"] == "SUCCEEDED" and r2["status"] == "SUCCEEDED", "both restore workflows SUCCEEDED", say)
    check(bucket_snapshot(s3, restored_bucket) == bucket_snapshot(s3, SAMPLE_BUCKET),
          "restored bucket is byte-identical, with content types, metadata and tags", say)
    check(table_items(dynamodb, f"{SAMPLE_TABLE}-restored") == table_items(dynamodb, SAMPLE_TABLE),
          "restored table holds the same items", say)

    say("\n5. Change one object and back the bucket up again: only that object is copied.")
    s3.put_object(Bucket=SAMPLE_BUCKET, Key="logs/day-03.log", Body=b"rewritten\n", ContentType="text/plain")
    again = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{SAMPLE_BUCKET}", "IdempotencyToken": f"{run}-s3-2",
                                 "Lifecycle": {"DeleteAfterDays": 35}})
    second = catalog.get_job(again["output"]["job_id"])
    _print_jobs([j for j in (s3_job, second) if j], say)
    check(second.state.value == "COMPLETED" and second.progress.objects_copied == 1
          and second.progress.objects_reused == len(objects) - 1,
          f"second backup copied 1 object and reused {len(objects) - 1}", say)

    say("\n6. The vault is WORM: S3 itself refuses to delete a locked object version.")
    key = VaultLayout.manifest("Default", second.recovery_point_id)
    version = s3.head_object(Bucket=settings.vault_bucket, Key=key)["VersionId"]
    try:
        s3.delete_object(Bucket=settings.vault_bucket, Key=key, VersionId=version)
    except ClientError as refusal:
        say(f"  S3 said: {refusal.response['Error']['Code']}: {refusal.response['Error'].get('Message', '')}")
        check(True, "deleting a locked manifest version was refused", say)
    else:
        raise DemoFailed("S3 deleted a locked vault object: the vault is not WORM")


def _when(value: datetime | None) -> str:
    return value.strftime("%H:%M:%S") if value else ""


def _print_jobs(jobs: list[Job], say: Say) -> None:
    rows = [(j.job_id[:8], j.kind.value, j.resource_type.value, j.state.value, j.progress.objects,
             j.progress.objects_copied, j.progress.objects_reused, j.recovery_point_id[:8], j.status_message)
            for j in jobs]
    say(render(["job", "kind", "type", "state", "objects", "copied", "reused", "recovery pt", "message"], rows))


def _print_recovery_points(points: list, say: Say) -> None:  # type: ignore[type-arg]
    rows = [(p.recovery_point_id[:8], p.resource_type.value, p.status.value, p.backup_size_bytes,
             p.delete_at.date() if p.delete_at else "", p.retain_until.date(), (p.manifest_sha256 or "")[:12])
            for p in points]
    say(render(["recovery pt", "type", "status", "bytes", "delete at", "locked until", "manifest sha256"], rows))
