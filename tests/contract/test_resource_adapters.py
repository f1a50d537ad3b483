"""The resource adapter contract: the same scenarios for every registered type, on moto.

Backup (polled until done, its artefact carrying the recovery point id), a second start that makes nothing new,
restore into a new resource whose key facts equal the recorded ones (and Metadata overrides), copy to another
region re-encrypted with the destination's key, the source side of a cross-account copy, cold storage, delete,
discover, missing resources, and every operation a type does not declare refused by name.

Adding a type is its adapter module plus one `Case(...)` line in CASES. A case says how to make a sample
resource on moto and how to read the few things only the service can tell (an artefact's tags, whether it
still exists, whom it is shared with, which key encrypts a copy). Where moto records less than AWS (see the
README), a case answers None and the scenario checks Coffer's side instead: what the adapter asked AWS for.
moto has no DocumentDB and cannot restore a Neptune snapshot: the module patches both as the twin does
(coffer_twin/db_clusters.py); every other call of those cases is moto's ordinary RDS code.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from coffer.adapters import aws
from coffer.adapters.resources import REGISTRY, ResourceRegistry, adapter_for
from coffer.adapters.resources.common import TAG_PARENT, TAG_RECOVERY_POINT, TAG_RESTORE_JOB
from coffer.domain.errors import InvalidInput, NotFound, UnsupportedOperation, UnsupportedResource
from coffer.domain.jobs import Job, JobKind, JobProgress
from coffer.domain.manifest import Manifest, ObjectEntry
from coffer.domain.native_waits import EVENT_TYPES
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.resources import DB_CLUSTER_TYPES, ResourceType
from coffer.ports.resources import BackupStrategy, Capability, CopyTarget, OperationStatus, ResourceAdapter, require
from coffer.ports.restore_targets import RestoreTargets
from coffer_cli.local.samples import (
    SAMPLE_TAGS,
    bucket_snapshot,
    create_sample_bucket,
    create_sample_cluster,
    create_sample_db_instance,
    create_sample_documentdb_cluster,
    create_sample_instance,
    create_sample_neptune_cluster,
    create_sample_table,
    create_sample_volume,
    table_items,
)
from coffer_twin.db_clusters import db_cluster_family

REGION, OTHER_REGION = "us-east-1", "us-west-2"
ACCOUNT, OTHER_ACCOUNT = "123456789012", "210987654321"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
RP_TAGS = {"backup": "contract"}


class Aws:
    """Clients of the module's moto account, built the way the wiring builds them (coffer.adapters.aws)."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], Any] = {}
        #: (region, operation, params) of every call the adapters made: Coffer's side of the contract
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    def client(self, service: str, region: str = REGION) -> Any:
        if (service, region) not in self._clients:
            made = aws.client(service, region, boto3.Session())
            made.meta.events.register("provide-client-params", self._record(region))
            self._clients[service, region] = made
        return self._clients[service, region]

    def _record(self, region: str) -> Callable[..., None]:
        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.requests.append((region, model.name, dict(params)))
        return record

    def sent(self, operation: str) -> list[dict[str, Any]]:
        return [params for _, name, params in self.requests if name == operation]


# ---- how each type is made and read on moto ------------------------------------------------------------
def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _bucket(a: Aws) -> str:
    name = _unique("contract-bucket")
    create_sample_bucket(a.client("s3"), name)
    a.client("s3").put_bucket_tagging(Bucket=name, Tagging={"TagSet": [
        {"Key": k, "Value": v} for k, v in SAMPLE_TAGS.items()]})
    return f"arn:aws:s3:::{name}"


def _table(a: Aws) -> str:
    name = _unique("contract-table")
    create_sample_table(a.client("dynamodb"), name)
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    a.client("dynamodb").tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in SAMPLE_TAGS.items()])
    return arn


def _ec2_tags(a: Aws, resource_id: str, region: str = REGION) -> dict[str, str]:
    found = a.client("ec2", region).describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])
    return {t["Key"]: t["Value"] for t in found["Tags"]}


def _snapshot_id(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _ebs_exists(a: Aws, ref: str, region: str = REGION) -> bool:
    found = a.client("ec2", region).describe_snapshots(OwnerIds=["self"])["Snapshots"]
    return any(s["SnapshotId"] == _snapshot_id(ref) for s in found)


def _ebs_key(a: Aws, ref: str, region: str) -> str | None:
    [snapshot] = a.client("ec2", region).describe_snapshots(SnapshotIds=[_snapshot_id(ref)])["Snapshots"]
    return snapshot.get("KmsKeyId")


def _ebs_shared(a: Aws, ref: str) -> list[str]:
    attribute = a.client("ec2").describe_snapshot_attribute(SnapshotId=_snapshot_id(ref),
                                                            Attribute="createVolumePermission")
    return [p["UserId"] for p in attribute["CreateVolumePermissions"] if "UserId" in p]


def _ami_exists(a: Aws, ref: str, region: str = REGION) -> bool:
    """The AMI, or any snapshot EC2 made for it (named in the snapshot's description): a delete leaves neither."""
    image_id = _snapshot_id(ref)
    images = a.client("ec2", region).describe_images(Owners=["self"])["Images"]
    snapshots = a.client("ec2", region).describe_snapshots(OwnerIds=["self"])["Snapshots"]
    return any(i["ImageId"] == image_id for i in images) or any(
        image_id in s.get("Description", "") for s in snapshots)


def _ami_tags(a: Aws, ref: str, region: str = REGION) -> dict[str, str]:
    return _ec2_tags(a, _snapshot_id(ref), region)


def _ami_shared(a: Aws, ref: str) -> list[str]:
    attribute = a.client("ec2").describe_image_attribute(ImageId=_snapshot_id(ref), Attribute="launchPermission")
    return [p["UserId"] for p in attribute["LaunchPermissions"] if "UserId" in p]


def _rds_name(ref: str) -> str:
    return ref.rsplit(":", 1)[-1]


def _rds_tags(a: Aws, ref: str, region: str = REGION) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in a.client("rds", region).list_tags_for_resource(ResourceName=ref)["TagList"]}


def _db_snapshot_exists(a: Aws, ref: str, region: str = REGION) -> bool:
    found = a.client("rds", region).describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    return any(s["DBSnapshotArn"] == ref for s in found)


def _db_snapshot_key(a: Aws, ref: str, region: str) -> str | None:
    [snapshot] = a.client("rds", region).describe_db_snapshots(DBSnapshotIdentifier=_rds_name(ref))["DBSnapshots"]
    return snapshot.get("KmsKeyId")


def _db_snapshot_shared(a: Aws, ref: str) -> list[str]:
    result = a.client("rds").describe_db_snapshot_attributes(DBSnapshotIdentifier=_rds_name(ref))
    return [v for attr in result["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]
            if attr["AttributeName"] == "restore" for v in attr["AttributeValues"]]


def _cluster_snapshot_exists(a: Aws, ref: str, region: str = REGION) -> bool:
    found = a.client("rds", region).describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return any(s["DBClusterSnapshotArn"] == ref for s in found)


def _cluster_snapshot_key(a: Aws, ref: str, region: str) -> str | None:
    [snapshot] = a.client("rds", region).describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=_rds_name(ref))["DBClusterSnapshots"]
    return snapshot.get("KmsKeyId")


def _cluster_snapshot_shared(a: Aws, ref: str) -> list[str]:
    result = a.client("rds").describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=_rds_name(ref))
    return [v for attr in result["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
            if attr["AttributeName"] == "restore" for v in attr["AttributeValues"]]


def _ddb_backup_rp(a: Aws, ref: str, region: str = REGION) -> dict[str, str]:
    # DynamoDB cannot tag an on-demand backup: its name carries the recovery point id.
    details = a.client("dynamodb").describe_backup(BackupArn=ref)["BackupDescription"]["BackupDetails"]
    return {TAG_RECOVERY_POINT: details["BackupName"].removeprefix("coffer-")}


def _ddb_backup_exists(a: Aws, ref: str, region: str = REGION) -> bool:
    backups = a.client("dynamodb").list_backups()["BackupSummaries"]
    return any(b["BackupArn"] == ref and b["BackupStatus"] != "DELETED" for b in backups)


def _same_items(a: Aws, source_arn: str, restored_arn: str) -> None:
    db = a.client("dynamodb")
    assert table_items(db, restored_arn.rsplit("/", 1)[-1]) == table_items(db, source_arn.rsplit("/", 1)[-1])


def _same_objects(a: Aws, source_arn: str, restored_arn: str) -> None:
    s3, restored = a.client("s3"), restored_arn.split(":::")[1]
    assert bucket_snapshot(s3, restored) == bucket_snapshot(s3, source_arn.split(":::")[1])
    bucket_tags = {t["Key"] for t in s3.get_bucket_tagging(Bucket=restored)["TagSet"]}
    assert {TAG_RECOVERY_POINT, TAG_RESTORE_JOB} <= bucket_tags  # the bucket the restore made


def _copy_objects(adapter: Any, a: Aws, source_arn: str, target_arn: str) -> int:
    """S3's data path at adapter level: each object copied into a vault-like bucket (S3 computing its SHA-256)
    and restored from there with its headers, metadata and tags (the workflow spreads this over a Map)."""
    source, target, vault = source_arn.split(":::")[1], target_arn.split(":::")[1], _unique("contract-vault")
    a.client("s3").create_bucket(Bucket=vault)
    items, _ = adapter.list_page(source, None, 1000)
    for item in items:
        facts = adapter.describe_object(source, item["key"])
        blob = f"blobs/{item['key']}"
        sha = adapter.copy_with_checksum(source, item["key"], facts["version_id"], facts["size"], vault, blob)
        entry = ObjectEntry(key=item["key"], size=facts["size"], etag=facts["etag"],
                            last_modified=item["last_modified"], sha256=sha, content_type=facts.get("content_type"),
                            metadata=facts["metadata"], tags=facts["tags"])
        adapter.restore_object(vault, blob, target, item["key"], entry)
    return len(items)


@dataclass(frozen=True)
class Case:
    resource_type: ResourceType
    #: make a sample resource (with SAMPLE_TAGS) and return its ARN
    create: Callable[[Aws], str]
    #: restore Metadata for a new resource named with the given suffix
    restore_metadata: Callable[[str], dict[str, str]]
    #: source facts the restored resource must have equal
    compared: tuple[str, ...]
    #: an ARN of this type that does not exist
    missing_arn: str
    #: tags of a native artefact (None: the type has no native artefact)
    artefact_tags: Callable[..., dict[str, str]] | None = None
    artefact_exists: Callable[..., bool] | None = None
    #: the key moto recorded for a copy (None: moto records none; the request is checked instead)
    copy_key: Callable[[Aws, str, str], str | None] | None = None
    shared_with: Callable[[Aws, str], list[str]] | None = None
    #: restore Metadata overriding one recorded fact: (metadata, fact, expected value)
    override: tuple[dict[str, str], str, Any] | None = None
    #: the objects strategy's data path (S3), run between start_restore and validate_restore
    transfer: Callable[[Any, Aws, str, str], int] | None = None
    #: data equality of source and restored resource, where moto restores data
    same_data: Callable[[Aws, str, str], None] | None = None
    page_size: int | None = field(default=None)


CASES = [
    Case(ResourceType.S3, _bucket, lambda n: {"DestinationBucketName": f"restored-{n}", "NewBucket": "true"},
         ("region",), "arn:aws:s3:::no-such-bucket-coffer", transfer=_copy_objects, same_data=_same_objects),
    Case(ResourceType.DYNAMODB, _table, lambda n: {"targetTableName": f"restored-{n}"},
         ("key_schema", "attribute_definitions"),  # moto restores every table PROVISIONED (AWS keeps the mode)
         f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/no-such-table", _ddb_backup_rp, _ddb_backup_exists,
         same_data=_same_items, page_size=1),
    Case(ResourceType.EBS, lambda a: create_sample_volume(a.client("ec2"), _unique("vol")), lambda n: {},
         ("availability_zone", "size_gib", "volume_type", "encrypted", "iops", "throughput"),
         f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-0123456789abcdef0", lambda a, r, g=REGION: _ec2_tags(
             a, _snapshot_id(r), g), _ebs_exists, _ebs_key, _ebs_shared,
         override=({"volumeType": "io2", "iops": "4000"}, "volume_type", "io2"), page_size=5),
    Case(ResourceType.EC2, lambda a: create_sample_instance(a.client("ec2"), _unique("web")), lambda n: {},
         ("instance_type", "subnet_id", "vpc_id", "security_group_ids", "ebs_optimized", "key_name"),
         f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0", _ami_tags, _ami_exists, None, _ami_shared,
         override=({"InstanceType": "m5.large"}, "instance_type", "m5.large"), page_size=5),
    Case(ResourceType.RDS, lambda a: create_sample_db_instance(a.client("rds"), a.client("ec2"), _unique("db")),
         lambda n: {"DBInstanceIdentifier": f"restored-{n}"},
         ("engine", "engine_version", "db_instance_class", "allocated_storage_gib", "storage_encrypted",
          "db_subnet_group_name", "vpc_security_group_ids", "multi_az"),
         f"arn:aws:rds:{REGION}:{ACCOUNT}:db:no-such-db", _rds_tags, _db_snapshot_exists, _db_snapshot_key,
         _db_snapshot_shared, override=({"DBInstanceClass": "db.m5.large"}, "db_instance_class", "db.m5.large"),
         page_size=20),
    Case(ResourceType.AURORA, lambda a: create_sample_cluster(a.client("rds"), a.client("ec2"), _unique("ledger")),
         lambda n: {"DBClusterIdentifier": f"restored-{n}"},
         ("engine", "engine_version", "storage_encrypted", "db_subnet_group_name", "vpc_security_group_ids", "port"),
         f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:no-such-cluster", _rds_tags, _cluster_snapshot_exists,
         _cluster_snapshot_key, _cluster_snapshot_shared,
         override=({"VpcSecurityGroupIds": "sg-0aaaaaaaaaaaaaaaa"}, "vpc_security_group_ids",
                   ["sg-0aaaaaaaaaaaaaaaa"])),
    Case(ResourceType.DOCUMENTDB,
         lambda a: create_sample_documentdb_cluster(a.client("rds"), a.client("ec2"), _unique("profiles")),
         lambda n: {"DBClusterIdentifier": f"restored-{n}"},
         ("engine", "engine_version", "storage_encrypted", "db_subnet_group_name", "vpc_security_group_ids", "port"),
         f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:no-such-docdb", _rds_tags, _cluster_snapshot_exists,
         _cluster_snapshot_key, _cluster_snapshot_shared,
         override=({"VpcSecurityGroupIds": "sg-0cccccccccccccccc"}, "vpc_security_group_ids",
                   ["sg-0cccccccccccccccc"])),
    Case(ResourceType.NEPTUNE,
         lambda a: create_sample_neptune_cluster(a.client("rds"), a.client("ec2"), _unique("graph")),
         lambda n: {"DBClusterIdentifier": f"restored-{n}"},
         ("engine", "engine_version", "storage_encrypted", "db_subnet_group_name", "vpc_security_group_ids", "port"),
         f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:no-such-graph", _rds_tags, _cluster_snapshot_exists,
         _cluster_snapshot_key, _cluster_snapshot_shared,
         override=({"VpcSecurityGroupIds": "sg-0bbbbbbbbbbbbbbbb"}, "vpc_security_group_ids",
                   ["sg-0bbbbbbbbbbbbbbbb"]), page_size=20),
]
IDS = [c.resource_type.value for c in CASES]


# ---- fixtures and flow helpers ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def moto_account() -> Iterator[None]:
    """One moto account for the module (its EC2 backend takes a while to build); names are unique per test."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
            mp.setenv(name, value)
        mp.delenv("AWS_PROFILE", raising=False)
        with mock_aws(), db_cluster_family():
            yield


@pytest.fixture
def a(moto_account: None) -> Aws:
    return Aws()


@pytest.fixture(params=CASES, ids=IDS)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


def adapter(a: Aws, case: Case, region: str = REGION) -> ResourceAdapter:
    return adapter_for(case.resource_type, lambda service: a.client(service, region))


def poll(check: Callable[[], OperationStatus], limit: int = 10) -> OperationStatus:
    """The workflow's Wait + Check loop, without the wait (moto's operations finish at once or soon)."""
    for _ in range(limit):
        status = check()
        if status.done:
            return status
    raise AssertionError(f"not done after {limit} polls: {status}")


@dataclass
class Backup:
    arn: str
    job: Job
    manifest: Manifest

    @property
    def recovery_point(self) -> RecoveryPoint:
        return self.manifest.recovery_point


def back_up(a: Aws, case: Case, options: dict[str, str] | None = None) -> Backup:
    arn = case.create(a)
    subject = adapter(a, case)
    rp_id = str(uuid.uuid4())
    source = subject.describe_source(arn)
    job = Job(job_id=str(uuid.uuid4()), kind=JobKind.BACKUP, resource_arn=arn, resource_type=case.resource_type,
              vault_name="Default", recovery_point_id=rp_id, created_at=NOW, start_by=NOW + timedelta(hours=1),
              recovery_point_tags=RP_TAGS, backup_options=options or {}, source=source)
    job = job.with_changes(native_ref=subject.start_backup(job, fresh=True).native_ref)
    status = poll(lambda: subject.backup_status(job))
    rp = RecoveryPoint(recovery_point_id=rp_id, vault_name="Default", resource_arn=arn,
                       resource_type=case.resource_type, status=RecoveryPointStatus.COMPLETED, creation_date=NOW,
                       completion_date=NOW, backup_size_bytes=status.size_bytes, retain_until=NOW + timedelta(days=35),
                       job_id=job.job_id, native_ref=job.native_ref, tags=RP_TAGS)
    return Backup(arn, job, Manifest(recovery_point=rp, completed_at=NOW, source=source))


def restore_job(backup: Backup, metadata: dict[str, str]) -> Job:
    return Job(job_id=str(uuid.uuid4()), kind=JobKind.RESTORE, resource_arn=backup.arn,
               resource_type=backup.recovery_point.resource_type, vault_name="Default",
               recovery_point_id=backup.recovery_point.recovery_point_id, created_at=NOW, start_by=NOW,
               restore_target=metadata)


def restore(a: Aws, case: Case, backup: Backup, metadata: dict[str, str]) -> tuple[str | None, dict[str, Any]]:
    """The Restore workflow at adapter level: start, (S3: move the objects), poll, validate."""
    subject = adapter(a, case)
    job = restore_job(backup, metadata)
    restored_arn = subject.start_restore(job, backup.manifest)
    manifest = backup.manifest
    if case.transfer is not None and restored_arn is not None:
        objects = case.transfer(subject, a, backup.arn, restored_arn)
        manifest = manifest.model_copy(update={"objects": objects})
        job = job.with_changes(progress=JobProgress(objects=objects))
    poll(lambda: subject.restore_status(job, manifest))
    assert subject.start_restore(job, manifest) == restored_arn or restored_arn is None, "a retried start made more"
    return restored_arn, subject.validate_restore(job, manifest)


# ---- the scenarios ---------------------------------------------------------------------------------------
def test_every_registered_type_has_a_case() -> None:
    assert {c.resource_type for c in CASES} == set(REGISTRY)


def test_an_adapter_gives_a_reason_for_everything_it_does_not_declare(a: Aws, case: Case) -> None:
    subject = adapter(a, case)
    assert set(subject.refusals) == set(Capability) - subject.capabilities
    assert all(reason.strip() for reason in subject.refusals.values())


def test_backup_is_polled_until_done_and_its_artefact_carries_the_recovery_point_id(a: Aws, case: Case) -> None:
    backup = back_up(a, case)
    ref = backup.job.native_ref
    if case.artefact_tags is None:
        assert ref is None and adapter(a, case).strategy is BackupStrategy.OBJECTS
        return
    assert ref is not None
    tags = case.artefact_tags(a, ref)
    assert tags[TAG_RECOVERY_POINT] == backup.recovery_point.recovery_point_id
    if case.resource_type is not ResourceType.DYNAMODB:  # the others tag: source's tags and the RecoveryPointTags
        assert SAMPLE_TAGS.items() <= tags.items() and RP_TAGS.items() <= tags.items()


def test_a_second_start_of_the_same_backup_makes_no_second_artefact(a: Aws, case: Case) -> None:
    backup = back_up(a, case)
    before = len(a.requests)
    again = adapter(a, case).start_backup(backup.job).native_ref
    assert again == backup.job.native_ref
    creates = [op for _, op, _ in a.requests[before:] if op.startswith("Create")]
    assert creates in ([], ["CreateDBSnapshot"], ["CreateDBClusterSnapshot"]), creates  # RDS: refused by name


def test_a_fresh_start_makes_its_artefact_without_a_look_and_says_its_status_from_the_create(
        a: Aws, case: Case) -> None:
    """A job created by the very call that starts it (`fresh`) can have no earlier artefact: the adapter makes its
    one Create call and no Describe/List before or after it - and where the create's answer says the status, it is
    the status a look would give."""
    if case.artefact_tags is None:
        return  # the objects strategy makes no artefact
    arn = case.create(a)
    subject = adapter(a, case)
    source = subject.describe_source(arn)
    job = Job(job_id=str(uuid.uuid4()), kind=JobKind.BACKUP, resource_arn=arn, resource_type=case.resource_type,
              vault_name="Default", recovery_point_id=str(uuid.uuid4()), created_at=NOW,
              start_by=NOW + timedelta(hours=1), recovery_point_tags=RP_TAGS, source=source)
    before = len(a.requests)
    started = subject.start_backup(job, fresh=True)
    asked = [op for _, op, _ in a.requests[before:]]
    assert len(asked) == 1 and asked[0].startswith("Create"), asked
    assert started.native_ref is not None
    if started.status is not None:
        looked = subject.backup_status(job.with_changes(native_ref=started.native_ref))
        assert looked.done or not started.status.done  # never done by the create's word and not by a look


def test_a_fresh_start_does_not_adopt_an_artefact_someone_tagged_with_its_recovery_point_id(
        a: Aws, case: Case) -> None:
    """The attacker tags an artefact of theirs with the coming job's recovery point id (a retried start adopts an
    artefact by that tag): a fresh job looks for none, so it makes and records its own."""
    if case.artefact_tags is None:
        return
    planted = back_up(a, case)  # an artefact carrying the recovery point id the next job will have
    job = planted.job.with_changes(job_id=str(uuid.uuid4()), native_ref=None)
    started = adapter(a, case).start_backup(job, fresh=True)
    if case.resource_type in (ResourceType.RDS, ResourceType.AURORA, ResourceType.DOCUMENTDB, ResourceType.NEPTUNE):
        # RDS names the snapshot for the recovery point: the name is refused, and the one of that name is found
        assert started.native_ref == planted.job.native_ref
        return
    assert started.native_ref not in (None, planted.job.native_ref)


def test_backup_of_a_missing_resource_is_not_found(a: Aws, case: Case) -> None:
    with pytest.raises(NotFound):
        adapter(a, case).describe_source(case.missing_arn)


def test_restore_makes_a_new_resource_with_the_recorded_facts(a: Aws, case: Case) -> None:
    backup = back_up(a, case)
    restored_arn, checked = restore(a, case, backup, case.restore_metadata(uuid.uuid4().hex[:8]))
    assert restored_arn and restored_arn != backup.arn and checked
    restored = adapter(a, case).describe_source(restored_arn)
    assert {k: restored[k] for k in case.compared} == {k: backup.manifest.source[k] for k in case.compared}
    if "tags" in restored:
        assert SAMPLE_TAGS.items() <= restored["tags"].items()
        assert restored["tags"][TAG_RECOVERY_POINT] == backup.recovery_point.recovery_point_id
        assert TAG_RESTORE_JOB in restored["tags"]
    if case.same_data is not None:
        case.same_data(a, backup.arn, restored_arn)


def test_a_restore_target_is_read_by_its_arn_and_names_the_job_that_made_it(a: Aws, case: Case) -> None:
    """ports/restore_targets.py, what ResumeNative and CheckRestore read an event-waiting restore's target with: the
    target by its ARN, naming the restore job that made it; the source (made by no restore) names none; a target
    that is not there is NotFound. Every type whose restores wait on an event can read its targets."""
    subject = adapter(a, case)
    if not isinstance(subject, RestoreTargets):
        assert case.resource_type not in EVENT_TYPES, f"{case.resource_type} waits on events but cannot read targets"
        return
    backup = back_up(a, case)
    job = restore_job(backup, case.restore_metadata(uuid.uuid4().hex[:8]))
    restored_arn = subject.start_restore(job, backup.manifest)
    assert restored_arn
    status = poll(lambda: subject.target_status(restored_arn))
    assert status.details["restore_job_id"] == job.job_id and "failed" not in status.details
    assert subject.target_status(backup.arn).details["restore_job_id"] is None
    missing = restored_arn.replace(restored_arn.rsplit("/" if "/" in restored_arn else ":", 1)[-1],
                                   "vol-0000000000000000f" if "/" in restored_arn else "not-there-at-all")
    with pytest.raises(NotFound):
        subject.target_status(missing)


@pytest.mark.parametrize("overridable", [c for c in CASES if c.override], ids=lambda c: c.resource_type.value)
def test_restore_metadata_overrides_a_recorded_fact(a: Aws, overridable: Case) -> None:
    case = overridable
    assert case.override is not None
    overrides, fact, expected = case.override
    backup = back_up(a, case)
    assert backup.manifest.source[fact] != expected
    restored_arn, _ = restore(a, case, backup, {**case.restore_metadata(uuid.uuid4().hex[:8]), **overrides})
    assert adapter(a, case).describe_source(restored_arn or "")[fact] == expected


def test_copy_to_another_region_is_re_encrypted_with_the_given_key_and_tagged(a: Aws, case: Case) -> None:
    backup = back_up(a, case)
    destination = adapter(a, case, OTHER_REGION)
    key = a.client("kms", OTHER_REGION).create_key()["KeyMetadata"]["Arn"]
    target = CopyTarget(recovery_point_id=str(uuid.uuid4()), region=OTHER_REGION, kms_key_arn=key)
    if Capability.COPY_TO_REGION not in destination.capabilities:
        with pytest.raises(UnsupportedOperation, match=f"^{case.resource_type}: cannot copy a recovery point to "
                                                       "another region: "):
            destination.start_copy(backup.recovery_point, target)
        return
    copy_ref = destination.start_copy(backup.recovery_point, target)
    poll(lambda: destination.copy_status(copy_ref))
    assert destination.start_copy(backup.recovery_point, target) == copy_ref, "a retried copy made another"
    assert f":{OTHER_REGION}:" in copy_ref and case.artefact_exists and case.artefact_tags
    tags = case.artefact_tags(a, copy_ref, OTHER_REGION)
    assert tags[TAG_RECOVERY_POINT] == target.recovery_point_id
    assert tags[TAG_PARENT] == backup.recovery_point.recovery_point_id
    assert case.artefact_exists(a, copy_ref, OTHER_REGION)
    asked = [(region, params) for region, op, params in a.requests if op.startswith("Copy")]
    assert asked and all(region == OTHER_REGION and params.get("KmsKeyId") == key for region, params in asked)
    if case.copy_key is not None:  # where moto records the copy's key, it is the one asked for
        assert case.copy_key(a, copy_ref, OTHER_REGION) == key


def test_cross_account_copy_starts_by_sharing_the_artefact_with_the_account(a: Aws, case: Case) -> None:
    backup = back_up(a, case)
    subject = adapter(a, case)
    if Capability.COPY_TO_ACCOUNT not in subject.capabilities:
        with pytest.raises(UnsupportedOperation, match=f"^{case.resource_type}: cannot copy a recovery point to "
                                                       "another account: "):
            subject.share_for_copy(backup.recovery_point, OTHER_ACCOUNT)
        target = CopyTarget(str(uuid.uuid4()), REGION, account_id=OTHER_ACCOUNT)
        with pytest.raises(UnsupportedOperation, match="another account"):
            subject.start_copy(backup.recovery_point, target)
        return
    subject.share_for_copy(backup.recovery_point, OTHER_ACCOUNT)
    subject.share_for_copy(backup.recovery_point, OTHER_ACCOUNT)  # twice is harmless
    assert case.shared_with is not None
    assert set(case.shared_with(a, backup.job.native_ref or "")) == {OTHER_ACCOUNT}  # moto lists it twice


def test_a_cross_account_copy_that_ended_unshares_the_artefact_from_the_account(a: Aws, case: Case) -> None:
    backup = back_up(a, case)
    subject = adapter(a, case)
    if Capability.COPY_TO_ACCOUNT not in subject.capabilities:
        subject.unshare_after_copy(backup.recovery_point, OTHER_ACCOUNT)  # nothing was shared: harmless
        return
    assert case.shared_with is not None
    ref = backup.job.native_ref or ""
    subject.share_for_copy(backup.recovery_point, OTHER_ACCOUNT)
    subject.share_for_copy(backup.recovery_point, OTHER_ACCOUNT)
    assert OTHER_ACCOUNT in case.shared_with(a, ref)
    subject.unshare_after_copy(backup.recovery_point, OTHER_ACCOUNT)
    assert OTHER_ACCOUNT not in case.shared_with(a, ref)
    subject.unshare_after_copy(backup.recovery_point, OTHER_ACCOUNT)  # twice is harmless
    assert OTHER_ACCOUNT not in case.shared_with(a, ref)
    if Capability.DELETE in subject.capabilities:
        subject.delete_recovery_point(backup.recovery_point)
        subject.unshare_after_copy(backup.recovery_point, OTHER_ACCOUNT)  # the artefact is gone: harmless


def test_cold_storage_moves_the_artefact_and_a_restore_still_works_or_is_refused(a: Aws, case: Case) -> None:
    backup = back_up(a, case)
    subject = adapter(a, case)
    if Capability.COLD_STORAGE not in subject.capabilities:
        for call in (subject.start_cold, subject.cold_status):
            with pytest.raises(UnsupportedOperation, match=f"^{case.resource_type}: cannot move a recovery point "
                                                           "to cold storage: "):
                call(backup.recovery_point)
        return
    subject.start_cold(backup.recovery_point)
    subject.start_cold(backup.recovery_point)  # twice is harmless
    poll(lambda: subject.cold_status(backup.recovery_point))
    job = restore_job(backup, case.restore_metadata(uuid.uuid4().hex[:8]))
    # An archived artefact is brought back first; the poll makes the resource once it is usable.
    assert subject.start_restore(job, backup.manifest) is None
    poll(lambda: subject.restore_status(job, backup.manifest))
    assert subject.validate_restore(job, backup.manifest)
    tiering = [p for p in a.sent("RestoreSnapshotTier")]
    assert tiering and tiering[-1]["SnapshotId"] == _snapshot_id(backup.job.native_ref or "")


def test_delete_removes_the_artefact_and_a_second_delete_is_harmless(a: Aws, case: Case) -> None:
    backup = back_up(a, case)
    subject = adapter(a, case)
    if Capability.DELETE not in subject.capabilities:
        with pytest.raises(UnsupportedOperation, match=f"^{case.resource_type}: cannot delete a recovery point's "
                                                       "native artefact: "):
            subject.delete_recovery_point(backup.recovery_point)
        return
    assert case.artefact_exists and case.artefact_tags
    ref = backup.job.native_ref or ""
    case.artefact_tags(a, ref)
    assert case.artefact_exists(a, ref)
    subject.delete_recovery_point(backup.recovery_point)
    assert not case.artefact_exists(a, ref)
    subject.delete_recovery_point(backup.recovery_point)


def test_discover_yields_every_resource_with_its_tags_across_pages(a: Aws, case: Case) -> None:
    subject = adapter(a, case)
    assert Capability.DISCOVER in subject.capabilities  # every type can be selected by tags (issue 4)
    made = {case.create(a) for _ in range(2)}
    if case.page_size is not None:
        subject.page_size = case.page_size  # type: ignore[attr-defined]
    found = {r.resource_arn: r for r in subject.discover(ACCOUNT)}
    assert made <= set(found)
    for arn in made:
        assert found[arn].resource_type is case.resource_type
        assert SAMPLE_TAGS.items() <= found[arn].tags.items()


def test_unsupported_operations_are_refused_naming_the_type_and_the_operation(a: Aws, case: Case) -> None:
    subject = adapter(a, case)
    for capability in set(Capability) - subject.capabilities:
        with pytest.raises(UnsupportedOperation) as refused:
            require(subject, capability)
        assert str(refused.value).startswith(f"{case.resource_type}: cannot {capability}: ")
    for capability in subject.capabilities:
        require(subject, capability)


# ---- rules of one type ----------------------------------------------------------------------------------
EC2_CASE = next(c for c in CASES if c.resource_type is ResourceType.EC2)
RDS_CASE = next(c for c in CASES if c.resource_type is ResourceType.RDS)
DYNAMODB_CASE = next(c for c in CASES if c.resource_type is ResourceType.DYNAMODB)
CLUSTER_CASES = [c for c in CASES if c.resource_type in DB_CLUSTER_TYPES]


def test_an_instance_is_imaged_without_reboot_unless_backup_options_allow_it(a: Aws) -> None:
    # moto ignores NoReboot (it never reboots anything): what Coffer asked EC2 for is the contract here.
    default = back_up(a, EC2_CASE)
    rebooted = back_up(a, EC2_CASE, options={"NoReboot": "false"})
    asked = {p["Name"]: p["NoReboot"] for p in a.sent("CreateImage")}
    assert asked == {f"coffer-{default.recovery_point.recovery_point_id}": True,
                     f"coffer-{rebooted.recovery_point.recovery_point_id}": False}


def test_the_manifest_records_the_instances_launch_configuration(a: Aws) -> None:
    backup = back_up(a, EC2_CASE)
    source = backup.manifest.source
    instance = a.client("ec2").describe_instances(InstanceIds=[backup.arn.rsplit("/", 1)[-1]])
    [described] = instance["Reservations"][0]["Instances"]
    assert source["instance_type"] == described["InstanceType"] == "t3.micro"
    assert source["subnet_id"] == described["SubnetId"]
    assert source["security_group_ids"] == sorted(g["GroupId"] for g in described["SecurityGroups"])
    assert SAMPLE_TAGS.items() <= source["tags"].items() and source["tags"]["role"] == "web"
    assert {v["device"] for v in source["volumes"]} >= {"/dev/sdf"}


def test_an_aurora_member_instance_is_refused_as_an_rds_instance(a: Aws) -> None:
    cluster = create_sample_cluster(a.client("rds"), a.client("ec2"), _unique("members"))
    member = cluster.replace(":cluster:", ":db:") + "-1"
    with pytest.raises(UnsupportedResource, match=r"belongs to Aurora cluster .*back up the cluster"):
        adapter(a, RDS_CASE).describe_source(member)


@pytest.mark.parametrize("existing", [RDS_CASE, DYNAMODB_CASE, *CLUSTER_CASES], ids=lambda c: c.resource_type.value)
def test_a_restore_never_takes_over_an_existing_resource_it_did_not_make(a: Aws, existing: Case) -> None:
    backup = back_up(a, existing)
    other = existing.create(a)  # someone's resource, named as the restore target
    name = other.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    key = {RDS_CASE.resource_type: "DBInstanceIdentifier", DYNAMODB_CASE.resource_type: "targetTableName"}.get(
        existing.resource_type, "DBClusterIdentifier")
    with pytest.raises(InvalidInput, match=f"Metadata.{key}: .* already exists"):
        adapter(a, existing).start_restore(restore_job(backup, {key: name}), backup.manifest)


# ---- the RDS family's clusters: one ARN form, told apart by engine --------------------------------------
@pytest.mark.parametrize("cluster", CLUSTER_CASES, ids=lambda c: c.resource_type.value)
def test_a_db_cluster_arn_is_the_type_its_engine_says(a: Aws, cluster: Case) -> None:
    arn = cluster.create(a)
    assert ResourceRegistry(a.client).type_of(arn) is cluster.resource_type
    assert ":cluster:" in arn  # the same ARN form for all three: only the engine tells them apart


def test_a_missing_cluster_keeps_its_arns_reading_and_its_backup_fails_naming_it(a: Aws) -> None:
    missing = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:no-such-cluster"
    assert ResourceRegistry(a.client).type_of(missing) is ResourceType.AURORA
    with pytest.raises(NotFound, match="no-such-cluster"):
        adapter_for(ResourceType.AURORA, a.client).describe_source(missing)


@pytest.mark.parametrize("cluster", CLUSTER_CASES, ids=lambda c: c.resource_type.value)
def test_a_cluster_of_another_engine_is_neither_listed_nor_backed_up_as_this_type(a: Aws, cluster: Case) -> None:
    """An attacker (or a typo) hands the Aurora adapter a Neptune cluster: refused, naming the engine, never
    snapshotted as the wrong type; nor does any adapter's discovery list another engine's clusters."""
    arn = cluster.create(a)
    for other in CLUSTER_CASES:
        if other is cluster:
            continue
        subject = adapter(a, other)
        assert arn not in {r.resource_arn for r in subject.discover(ACCOUNT)}
        with pytest.raises(UnsupportedResource, match=rf"runs [a-z-]+, not {other.resource_type.value}:"):
            subject.describe_source(arn)
