"""The input rules attacked as anyone who can put an event on the default bus (or run the CLI) would: each bad
request goes through the real path on the twin (PutEvents, the rule, the workflow, the real handlers), and must
be refused with a one-line cause naming the field and the rule, before anything is written (no job, no recovery
point, no vault or work object, no native backup, no bucket or table created), and with no Python stack trace in
anything a user reads: DescribeExecution's error and cause, and every event of the execution's history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.recovery_points import RecoveryPoint
from coffer_cli.cli import main
from coffer_cli.local.samples import create_sample_bucket, create_sample_table
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
STACK = ["--stack", "coffer-twin"]
SOURCE = "attacked-source"
TABLE_NAME = "coffer-sample-orders"
#: what a stack trace looks like wherever it surfaces (Lambda's payload, Python's traceback)
STACK_TRACE_MARKS = ("Traceback", 'File "', "stackTrace", ".py\", line")


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed:
        create_sample_bucket(deployed.client("s3"), SOURCE)
        create_sample_table(deployed.client("dynamodb"))
        yield deployed


@pytest.fixture(scope="module")
def recovery_point(coffer: LocalCoffer) -> RecoveryPoint:
    """One completed S3 recovery point, for the restore and copy attacks."""
    done = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{SOURCE}", "IdempotencyToken": "the-good-one"})
    assert done["status"] == "SUCCEEDED", done
    return coffer.deps.catalog.get_recovery_point(
        coffer.deps.catalog.get_job(done["output"]["job_id"]).recovery_point_id)


def table_arn(coffer: LocalCoffer, account: str | None = None, region: str | None = None,
              partition: str = "aws") -> str:
    return (f"arn:{partition}:dynamodb:{region or coffer.twin.region}:{account or coffer.twin.account_id}:"
            f"table/{TABLE_NAME}")


def written(coffer: LocalCoffer) -> dict[str, Any]:
    """Everything a request could write: catalog items, vault and work objects (every version), buckets, tables,
    DynamoDB backups."""
    s3, dynamodb = coffer.client("s3"), coffer.client("dynamodb")

    def versions(bucket: str) -> list[str]:
        listed = s3.list_object_versions(Bucket=bucket)
        return sorted(f"{v['Key']}@{v['VersionId']}" for v in [*listed.get("Versions", []),
                                                               *listed.get("DeleteMarkers", [])])

    return {
        "catalog": sorted(json.dumps(i, sort_keys=True)
                          for i in dynamodb.scan(TableName=coffer.settings.catalog_table)["Items"]),
        "vault": versions(coffer.settings.vault_bucket),
        "work": versions(coffer.settings.work_bucket),
        "buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"]),
        "tables": sorted(dynamodb.list_tables()["TableNames"]),
        "backups": sorted(b["BackupArn"] for b in dynamodb.list_backups()["BackupSummaries"]),
    }


def no_stack_trace(coffer: LocalCoffer, result: dict[str, Any]) -> None:
    """Nothing a user reads carries a stack trace: the execution's error and cause, and its whole history."""
    shown = json.dumps([result.get("error"), result.get("cause"), coffer.twin.history(str(result["arn"]))],
                       default=str)
    for mark in STACK_TRACE_MARKS:
        assert mark not in shown, f"{mark!r} in what the user reads of {result['arn']}"
    assert "\n" not in str(result.get("cause")), result.get("cause")


def attack(coffer: LocalCoffer, detail_type: str, detail: dict[str, Any], *expected: str) -> str:
    """Put the event on the bus as an attacker; the workflow must refuse it with a cause naming each `expected`
    text, write nothing, and show no stack trace. Returns the cause."""
    before = written(coffer)
    bus = None if detail_type == "StartBackupJob" else coffer.request_bus  # restores and copies: the Coffer bus
    [execution] = coffer.twin.put_event("coffer", detail_type, detail, bus=bus)
    result = dict(coffer.twin.wait(execution, timeout=120))
    assert (result["status"], result["error"]) == ("FAILED", "RequestRefused"), result
    cause = str(result["cause"])
    for text in expected:
        assert text in cause, (text, cause)
    no_stack_trace(coffer, result)
    assert written(coffer) == before
    token = detail.get("IdempotencyToken")
    if isinstance(token, str):
        with pytest.raises(NotFound):
            coffer.deps.catalog.get_job(job_id_for(token))
    return cause


# ---- AWS's tag rules ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("tags", "expected"), [
    ({"aws:backup:source-resource": "forged"}, "RecoveryPointTags.aws:backup:source-resource: tag keys starting "
                                               "with 'aws:' are reserved for AWS"),
    ({"AWS:Owner": "me"}, "tag keys starting with 'aws:' are reserved"),
    ({f"k{n}": "v" for n in range(51)}, "RecoveryPointTags: 51 tags; at most 50"),
    ({"k": "v" * 257}, "RecoveryPointTags.k: a tag value has at most 256 characters (257 given"),
    ({"k" * 129: "v"}, "is 129 characters: a tag key has 1 to 128 characters"),
    ({"team": "a;b"}, "RecoveryPointTags.team: tags may hold letters, digits, spaces and _ . : / = + - @ only"),
])
def test_recovery_point_tags_breaking_awss_rules_are_refused(coffer: LocalCoffer, tags: dict[str, str],
                                                             expected: str) -> None:
    attack(coffer, "StartBackupJob", {"ResourceArn": f"arn:aws:s3:::{SOURCE}", "IdempotencyToken": f"tags-{len(tags)}",
                                      "RecoveryPointTags": tags}, expected)


# ---- strict numbers and booleans ---------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value", "expected"), [
    ("Lifecycle", {"DeleteAfterDays": True}, "detail.Lifecycle.DeleteAfterDays: true is not a whole number"),
    ("Lifecycle", {"DeleteAfterDays": "35"}, "detail.Lifecycle.DeleteAfterDays: '35' is not a whole number"),
    ("StartWindowMinutes", "120", "detail.StartWindowMinutes: '120' is not a whole number"),
    ("EnableContinuousBackup", "yes", "detail.EnableContinuousBackup: 'yes' is not a boolean"),
    ("CompleteWindowMinutes", 10**15, "detail.CompleteWindowMinutes: Input should be less than or equal to"),
])
def test_numbers_and_booleans_in_any_other_form_are_refused(coffer: LocalCoffer, field: str, value: Any,
                                                            expected: str) -> None:
    attack(coffer, "StartBackupJob", {"ResourceArn": f"arn:aws:s3:::{SOURCE}", "IdempotencyToken": f"strict-{field}",
                                      field: value}, expected)


# ---- ARNs: shape, length, and the stack's own account, region and partition -----------------------------------
@pytest.mark.parametrize(("where", "expected"), [
    ({"account": "111111111111"}, "is in account 111111111111"),
    ({"region": "eu-west-1"}, "is in region eu-west-1"),
    ({"partition": "aws-cn", "region": "cn-north-1"}, "is in partition aws-cn, region cn-north-1"),
])
def test_a_table_of_another_account_region_or_partition_is_not_backed_up_as_the_local_namesake(
        coffer: LocalCoffer, where: dict[str, str], expected: str) -> None:
    attack(coffer, "StartBackupJob", {"ResourceArn": table_arn(coffer, **where), "IdempotencyToken": f"far-{where}"},
           "ResourceArn: 'arn:", expected, f"this Coffer stack runs in account {coffer.twin.account_id}")
    # the local table of the same name was not backed up (`written` compared its DynamoDB backups too)


def test_a_three_thousand_character_arn_is_refused_by_its_length_not_by_dynamodb(coffer: LocalCoffer) -> None:
    arn = f"arn:aws:dynamodb:{coffer.twin.region}:{coffer.twin.account_id}:table/{'t' * 3000}"
    cause = attack(coffer, "StartBackupJob", {"ResourceArn": arn, "IdempotencyToken": "long-arn"},
                   "detail.ResourceArn: 'arn:aws:dynamodb:", "characters) is longer than an ARN can be (2048 "
                   "characters at most)")
    assert "ValidationException" not in cause and len(cause) < 1000


@pytest.mark.parametrize(("arn", "expected"), [
    ("arn:aws:s3:::no|such|bucket", "is not a valid S3 bucket name"),
    ("arn:aws:s3:us-east-1:123456789012:attacked-source", "an S3 bucket ARN has neither"),
    ("arn:aws:ec2:us-east-1:123456789012:volume/vol-../../x", "is not an EBS volume id"),
    ("arn:aws:rds:us-east-1:123456789012:db:a--b", "is not a valid DB instance identifier"),
])
def test_a_malformed_arn_of_a_protected_type_is_refused(coffer: LocalCoffer, arn: str, expected: str) -> None:
    attack(coffer, "StartBackupJob", {"ResourceArn": arn, "IdempotencyToken": f"bad-{arn[-8:]}"}, expected)


@pytest.mark.parametrize("own", ["vault_bucket", "work_bucket", "catalog_table"])
def test_coffers_own_storage_is_refused_as_a_backup_source(coffer: LocalCoffer, own: str) -> None:
    name = getattr(coffer.settings, own)
    arn = f"arn:aws:s3:::{name}" if own != "catalog_table" else \
        f"arn:aws:dynamodb:{coffer.twin.region}:{coffer.twin.account_id}:table/{name}"
    attack(coffer, "StartBackupJob", {"ResourceArn": arn, "IdempotencyToken": f"own-{own}"},
           "is one of this Coffer stack's own resources")


# ---- lifecycle options by type ------------------------------------------------------------------------------
def test_cold_storage_of_a_dynamodb_table_is_refused_naming_the_field(coffer: LocalCoffer) -> None:
    attack(coffer, "StartBackupJob", {"ResourceArn": table_arn(coffer), "IdempotencyToken": "cold-table",
                                      "Lifecycle": {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 120}},
           "Lifecycle.MoveToColdStorageAfterDays: 30 asks for cold storage of a DynamoDB resource",
           "remove MoveToColdStorageAfterDays")


def test_cold_storage_less_than_ninety_days_before_deletion_is_refused(coffer: LocalCoffer) -> None:
    attack(coffer, "StartBackupJob", {"ResourceArn": f"arn:aws:s3:::{SOURCE}", "IdempotencyToken": "cold-short",
                                      "Lifecycle": {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 100}},
           "DeleteAfterDays (100) must be at least 90 days after MoveToColdStorageAfterDays (30)")


# ---- restores: metadata up front, never into Coffer's own storage ---------------------------------------------
@pytest.mark.parametrize(("metadata", "expected"), [
    ({"DestinationBucketName": "restored-yes", "NewBucket": "yes"},
     ['Metadata.NewBucket: \'yes\' is not "true" or "false"']),
    ({"DestinationBucketName": "Restored_Here", "NewBucket": "true"},
     ["Metadata.DestinationBucketName: 'Restored_Here' is not a valid S3 bucket name"]),
    ({"DestinationBucketName": "restored-long", "NewBucket": "true", "DestinationPrefix": "p" * 1024},
     ["Metadata.DestinationPrefix: 'ppp", "is 1024 bytes: S3 keys are at most 1024 bytes"]),
    # (a new bucket is the default: Region is refused with NewBucket "false")
    ({"DestinationBucketName": "restored-region", "NewBucket": "false", "Region": "eu-west-1"},
     ["Metadata.Region: 'eu-west-1' applies only to a new bucket"]),
    ({"DestinationBucketName": SOURCE, "UseLatestRestorableTime": "TRUE"},
     ['Metadata.UseLatestRestorableTime: \'TRUE\' is not "true" or "false"']),
], ids=["new-bucket-yes", "bucket-name", "prefix-1024-bytes", "region-without-new-bucket", "flag-in-capitals"])
def test_invalid_restore_metadata_is_refused_before_a_job_exists(coffer: LocalCoffer, recovery_point: RecoveryPoint,
                                                                 metadata: dict[str, str], expected: list[str]) -> None:
    attack(coffer, "StartRestoreJob", {"RecoveryPointArn": recovery_point.recovery_point_id, "Metadata": metadata,
                                       "IdempotencyToken": f"restore-{metadata['DestinationBucketName']}"},
           *expected)


def test_a_restore_into_the_vault_is_refused_and_plants_nothing(coffer: LocalCoffer,
                                                                recovery_point: RecoveryPoint) -> None:
    attack(coffer, "StartRestoreJob", {
        "RecoveryPointArn": recovery_point.recovery_point_id, "IdempotencyToken": "plant",
        "Metadata": {"DestinationBucketName": coffer.settings.vault_bucket,
                     "DestinationPrefix": "vaults/Default/recovery-points/planted/"}},
        f"Metadata.DestinationBucketName: '{coffer.settings.vault_bucket}' is one of this Coffer stack's own buckets")


def test_a_recovery_point_arn_of_another_account_is_not_restored_as_the_local_one(
        coffer: LocalCoffer, recovery_point: RecoveryPoint) -> None:
    foreign = f"arn:aws:backup:{coffer.twin.region}:111111111111:recovery-point:{recovery_point.recovery_point_id}"
    attack(coffer, "StartRestoreJob", {"RecoveryPointArn": foreign, "IdempotencyToken": "foreign-rp",
                                       "Metadata": {"DestinationBucketName": "restored-foreign", "NewBucket": "true"}},
           "RecoveryPointArn: 'arn:aws:backup:", "is in account 111111111111")


def test_a_copy_to_another_partition_or_of_a_foreign_recovery_point_is_refused(
        coffer: LocalCoffer, recovery_point: RecoveryPoint) -> None:
    attack(coffer, "StartCopyJob", {
        "RecoveryPointArn": f"arn:aws:backup:eu-west-1:{coffer.twin.account_id}:recovery-point:"
                            f"{recovery_point.recovery_point_id}",
        "DestinationBackupVaultArn": f"arn:aws-cn:backup:cn-north-1:{coffer.twin.account_id}:backup-vault:dr",
        "IdempotencyToken": "copy-far"},
        "RecoveryPointArn: 'arn:aws:backup:eu-west-1:", "DestinationBackupVaultArn: 'arn:aws-cn:backup:",
        "is in partition aws-cn")


# ---- the CLI applies the same rules, and prints no stack trace -------------------------------------------------
def test_the_cli_refuses_a_foreign_arn_without_putting_an_event(coffer: LocalCoffer,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    machine = coffer.twin.outputs["BackupStateMachineArn"]
    before = len(coffer.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"])
    with pytest.raises(SystemExit) as exited:
        main(["backup", "start", "--resource-arn", table_arn(coffer, account="111111111111"), "--tag",
              "aws:forged=1", *STACK])
    message = str(exited.value)
    assert exited.value.code == 1
    assert message.startswith("ResourceArn: ") and "is in account 111111111111" in message
    assert "RecoveryPointTags.aws:forged: tag keys starting with 'aws:' are reserved" in message
    assert len(coffer.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]) == before
    assert not any(mark in message + capsys.readouterr().err for mark in STACK_TRACE_MARKS)


def test_the_cli_refuses_a_restore_into_the_vault_before_putting_an_event(coffer: LocalCoffer,
                                                                         recovery_point: RecoveryPoint) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["restore", "start", "--recovery-point", recovery_point.recovery_point_id, "--metadata",
              f"DestinationBucketName={coffer.settings.work_bucket}", *STACK])
    assert exited.value.code == 1
    assert "Metadata.DestinationBucketName: " in str(exited.value)
    assert "is one of this Coffer stack's own buckets" in str(exited.value)


# ---- plans: a cron that never fires, a vault that does not exist ----------------------------------------------
def plan_file(tmp_path: Path, expression: str, vault: str = "Default") -> str:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"BackupPlan": {"BackupPlanName": "attacked-plan", "Rules": [
        {"RuleName": "daily", "TargetBackupVaultName": vault, "ScheduleExpression": expression}]}}))
    return str(path)


@pytest.mark.parametrize(("expression", "vault", "expected"), [
    ("cron(0 0 30 2 ? *)", "Default", "BackupPlan.Rules[0].ScheduleExpression: 'cron(0 0 30 2 ? *)' never fires"),
    ("cron(0 0 1 1 ? 2020)", "Default", "never fires again after"),
    ("cron(0 5 ? * * *)", "no-such-vault", "BackupPlan.Rules[0].TargetBackupVaultName: vault 'no-such-vault' does "
                                           "not exist (create it with `coffer vault create no-such-vault`"),
])
def test_a_plan_that_would_protect_nothing_is_refused_at_apply_and_nothing_is_scheduled(
        coffer: LocalCoffer, tmp_path: Path, capsys: pytest.CaptureFixture[str], expression: str, vault: str,
        expected: str) -> None:
    before = written(coffer)
    group = coffer.twin.outputs["PlanScheduleGroupName"]
    schedules = coffer.client("scheduler").list_schedules(GroupName=group)["Schedules"]
    assert main(["plan", "apply", plan_file(tmp_path, expression, vault), "--yes", *STACK]) == 1
    err = capsys.readouterr().err
    assert expected in err and not any(mark in err for mark in STACK_TRACE_MARKS)
    assert coffer.client("scheduler").list_schedules(GroupName=group)["Schedules"] == schedules
    assert written(coffer) == before
