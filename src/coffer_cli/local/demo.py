"""README command one: the whole backup → vault → catalog → restore cycle on the embedded twin.

Every step checks what it claims; the demo exits non-zero at the first claim that does not hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from coffer.adapters.resources.common import TAG_RECOVERY_POINT
from coffer.domain.errors import UnsupportedOperation
from coffer.domain.jobs import Job
from coffer.domain.manifest import Manifest, VaultLayout
from coffer.domain.resources import ResourceType
from coffer_cli.local.samples import (
    SAMPLE_BUCKET,
    SAMPLE_DB,
    SAMPLE_INSTANCE,
    SAMPLE_TABLE,
    SAMPLE_VOLUME,
    bucket_snapshot,
    create_sample_bucket,
    create_sample_db_instance,
    create_sample_instance,
    create_sample_table,
    create_sample_volume,
    table_items,
)
from coffer_cli.local.session import LocalCoffer, local_twin
from coffer_cli.local.tables import render

Say = Callable[[str], None]


class DemoFailed(Exception):
    pass


def check(condition: bool, claim: str, say: Say, why: str = "") -> None:
    if not condition:
        raise DemoFailed(f"{claim}{f' ({why})' if why else ''}")
    say(f"  ok  {claim}")


def check_workflows(results: dict[str, dict[str, Any]], claim: str, say: Say) -> None:
    """Every execution SUCCEEDED, or the demo fails naming each one that did not, with its error and cause."""
    failed = [f"{name}: {r['status']} {r.get('error') or ''}: {r.get('cause') or ''}"
              for name, r in results.items() if r["status"] != "SUCCEEDED"]
    check(not failed, claim, say, why="; ".join(failed))


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
    check_workflows({"S3": s3_result}, "S3 backup workflow SUCCEEDED", say)
    check_workflows({"DynamoDB": ddb_result}, "DynamoDB backup workflow SUCCEEDED", say)
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
    check_workflows({"S3 restore": r1, "DynamoDB restore": r2}, "both restore workflows SUCCEEDED", say)
    check(bucket_snapshot(s3, restored_bucket) == bucket_snapshot(s3, SAMPLE_BUCKET),
          "restored bucket is byte-identical, with content types, metadata and tags", say)
    check(table_items(dynamodb, f"{SAMPLE_TABLE}-restored") == table_items(dynamodb, SAMPLE_TABLE),
          "restored table holds the same items", say)

    say("\n5. Change one object and back the bucket up again: only that object is copied.")
    s3.put_object(Bucket=SAMPLE_BUCKET, Key="logs/day-03.log", Body=b"rewritten\n", ContentType="text/plain")
    again = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{SAMPLE_BUCKET}", "IdempotencyToken": f"{run}-s3-2",
                                 "Lifecycle": {"DeleteAfterDays": 35}})
    check_workflows({"second S3 backup": again}, "second S3 backup workflow SUCCEEDED", say)
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

    _native_resources(coffer, say, run)


#: facts of each native type that a restore must reproduce (EC2's instance type is overridden below)
_COMPARED = {
    "EBS": ("size_gib", "volume_type", "encrypted", "availability_zone"),
    "EC2": ("subnet_id", "security_group_ids", "vpc_id"),
    "RDS": ("engine", "engine_version", "db_instance_class", "allocated_storage_gib", "storage_encrypted",
            "db_subnet_group_name", "vpc_security_group_ids"),
}


def _native_resources(coffer: LocalCoffer, say: Say, run: str) -> None:
    say("\n7. An EBS volume, an EC2 instance and an RDS instance: native snapshots, polled by the same workflow.")
    ec2, rds, catalog = coffer.client("ec2"), coffer.client("rds"), coffer.deps.catalog
    arns = {"EBS": create_sample_volume(ec2), "EC2": create_sample_instance(ec2),
            "RDS": create_sample_db_instance(rds, ec2)}
    say(f"  {SAMPLE_VOLUME}: 8 GiB encrypted gp3; {SAMPLE_INSTANCE}: t3.micro with a 20 GiB data volume; "
        f"{SAMPLE_DB}: encrypted PostgreSQL")
    results = {kind: coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": f"{run}-{kind.lower()}",
                                          "Lifecycle": {"DeleteAfterDays": 35}, "RecoveryPointTags": {"demo": "yes"}})
               for kind, arn in arns.items()}
    check_workflows({f"{kind} backup": r for kind, r in results.items()}, "EBS, EC2 and RDS backup workflows SUCCEEDED",
                    say)
    jobs = {kind: catalog.get_job(r["output"]["job_id"]) for kind, r in results.items() if r.get("output")}
    _print_jobs(list(jobs.values()), say)
    check(len(jobs) == 3 and all(j.state.value == "COMPLETED" for j in jobs.values()),
          "EBS, EC2 and RDS backup jobs COMPLETED", say)
    points = {kind: catalog.get_recovery_point(job.recovery_point_id) for kind, job in jobs.items()}
    _print_recovery_points(list(points.values()), say)
    snapshot_id = (points["EBS"].native_ref or "").rsplit("/", 1)[-1]
    image_id = (points["EC2"].native_ref or "").rsplit("/", 1)[-1]
    tags = {
        "EBS": _ec2_tags(ec2, snapshot_id),
        "EC2": _ec2_tags(ec2, image_id),
        "RDS": {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=points["RDS"].native_ref)[
            "TagList"]},
    }
    check(all(tags[kind].get(TAG_RECOVERY_POINT) == point.recovery_point_id for kind, point in points.items()),
          "the snapshot, the AMI and the DB snapshot each carry their recovery point id", say)
    manifests = {kind: Manifest.model_validate_json(coffer.deps.vault.get_bytes(p.manifest_key or ""))
                 for kind, p in points.items()}
    launch: dict[str, Any] = dict(manifests["EC2"].source)
    say(f"  EC2 manifest: type {launch['instance_type']}, subnet {launch['subnet_id']}, "
        f"security groups {launch['security_group_ids']}, tags {launch['tags']}")
    check(launch["instance_type"] == "t3.micro" and bool(launch["subnet_id"]) and bool(launch["security_group_ids"])
          and launch["tags"].get("Name") == SAMPLE_INSTANCE,
          "the EC2 manifest records the instance's type, subnet, security groups and tags", say)

    say("\n8. Restore each into a new resource and compare it with what its recovery point recorded.")
    metadata = {"EBS": {}, "EC2": {"InstanceType": "t3.small"},
                "RDS": {"DBInstanceIdentifier": f"{SAMPLE_DB}-restored"}}
    restores = {kind: coffer.start_restore({"RecoveryPointArn": points[kind].recovery_point_id,
                                            "IdempotencyToken": f"{run}-{kind.lower()}-restore",
                                            "Metadata": metadata[kind]}) for kind in points}
    check_workflows({f"{kind} restore": r for kind, r in restores.items()},
                    "EBS, EC2 and RDS restore workflows SUCCEEDED", say)
    restore_jobs = {kind: catalog.get_job(r["output"]["job_id"]) for kind, r in restores.items() if r.get("output")}
    check(len(restore_jobs) == 3 and all(j.state.value == "COMPLETED" for j in restore_jobs.values()),
          "EBS, EC2 and RDS restore jobs COMPLETED", say)
    restored = {kind: coffer.deps.adapter(ResourceType(kind)).describe_source(job.native_ref or "")
                for kind, job in restore_jobs.items()}
    for kind, job in restore_jobs.items():
        say(f"  {kind}: {job.native_ref}")
    same = {kind: all(restored[kind][fact] == manifests[kind].source[fact] for fact in facts)
            for kind, facts in _COMPARED.items()}
    check(same["EBS"], "restored volume: same size, type, encryption and availability zone", say)
    check(same["EC2"] and restored["EC2"]["instance_type"] == "t3.small",
          "restored instance: the recorded subnet and security groups, type t3.small as the restore asked", say)
    check(same["RDS"], "restored DB instance: same engine, class, storage, encryption, subnet group and "
                       "security groups", say)
    try:
        coffer.deps.adapter(ResourceType.RDS).start_cold(points["RDS"])
    except UnsupportedOperation as refusal:
        say(f"  Coffer said: {refusal}")
        check("RDS" in str(refusal) and "cold storage" in str(refusal), "cold storage for RDS is refused by name", say)
    else:
        raise DemoFailed("an RDS recovery point was 'moved to cold storage', which RDS cannot do")


def _ec2_tags(ec2: Any, resource_id: str) -> dict[str, str]:
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
    return {t["Key"]: t["Value"] for t in found}


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
