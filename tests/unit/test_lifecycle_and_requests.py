from datetime import UTC, datetime, timedelta

import pytest

from coffer.domain.errors import InvalidInput
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.requests import StartBackupJobRequest, StartRestoreJobRequest
from coffer.domain.resources import ResourceType, resource_name, resource_type_of
from coffer.domain.validation import parse_model

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_lifecycle_dates_follow_the_days() -> None:
    lifecycle = Lifecycle(MoveToColdStorageAfterDays=30, DeleteAfterDays=120)
    assert lifecycle.cold_at(T0) == T0 + timedelta(days=30)
    assert lifecycle.delete_at(T0) == T0 + timedelta(days=120)
    assert lifecycle.retain_until(T0, default_days=35) == T0 + timedelta(days=120)


def test_lifecycle_without_deletion_is_locked_for_the_default_period() -> None:
    assert Lifecycle().retain_until(T0, default_days=35) == T0 + timedelta(days=35)
    assert Lifecycle().delete_at(T0) is None


def test_cold_storage_must_last_ninety_days_before_deletion() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_model(Lifecycle, {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 119})
    assert "DeleteAfterDays (119) must be at least 90 days after MoveToColdStorageAfterDays (30)" in str(refused.value)
    Lifecycle(MoveToColdStorageAfterDays=30, DeleteAfterDays=120)


def test_backup_request_accepts_aws_backups_field_names() -> None:
    request = parse_model(StartBackupJobRequest, {
        "BackupVaultName": "Default", "ResourceArn": "arn:aws:s3:::bucket", "IdempotencyToken": "t",
        "Lifecycle": {"DeleteAfterDays": 7}, "RecoveryPointTags": {"a": "b"}, "StartWindowMinutes": 120})
    assert request.lifecycle.delete_after_days == 7
    assert request.start_window_minutes == 120


@pytest.mark.parametrize(("body", "named"), [
    ({}, "ResourceArn: Field required"),
    ({"ResourceArn": "not-an-arn"}, "ResourceArn: 'not-an-arn' is not an ARN"),
    ({"ResourceArn": "arn:aws:sqs:us-east-1:123456789012:q"}, "is not a resource type Coffer protects"),
    ({"ResourceArn": "arn:aws:s3:::bucket", "StartWindowMinutes": 30},
     "StartWindowMinutes: Input should be greater than or equal to 60"),
    ({"ResourceArn": "arn:aws:s3:::bucket", "StartWindowMinutes": 120, "CompleteWindowMinutes": 90},
     "CompleteWindowMinutes: must be at least StartWindowMinutes (120)"),
    ({"ResourceArn": "arn:aws:s3:::bucket", "DeleteAfterDay": 3}, "DeleteAfterDay: Extra inputs are not permitted"),
    ({"ResourceArn": "arn:aws:s3:::bucket", "BackupVaultName": "bad name!"},
     "BackupVaultName: String should match pattern"),
])
def test_a_bad_backup_request_is_refused_naming_the_field(body: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_model(StartBackupJobRequest, body, prefix="detail.")
    assert named in str(refused.value)
    assert "detail." in str(refused.value)


def test_the_same_request_has_the_same_fingerprint_whatever_its_token() -> None:
    one = StartBackupJobRequest(ResourceArn="arn:aws:s3:::bucket-b", IdempotencyToken="1")
    two = StartBackupJobRequest(ResourceArn="arn:aws:s3:::bucket-b", IdempotencyToken="2")
    other = StartBackupJobRequest(ResourceArn="arn:aws:s3:::bucket-c", IdempotencyToken="1")
    assert one.fingerprint() == two.fingerprint() != other.fingerprint()


def test_restore_request_takes_a_recovery_point_arn_or_id() -> None:
    by_arn = StartRestoreJobRequest(RecoveryPointArn="arn:aws:backup:us-east-1:123456789012:recovery-point:abc")
    assert by_arn.recovery_point_id == "abc"
    assert StartRestoreJobRequest(RecoveryPointArn="abc").recovery_point_id == "abc"


@pytest.mark.parametrize(("arn", "kind", "name"), [
    ("arn:aws:s3:::my-bucket", ResourceType.S3, "my-bucket"),
    ("arn:aws:dynamodb:us-east-1:123456789012:table/orders", ResourceType.DYNAMODB, "orders"),
    ("arn:aws:ec2:us-east-1:123456789012:volume/vol-1", ResourceType.EBS, "vol-1"),
    ("arn:aws:ec2:us-east-1:123456789012:instance/i-1", ResourceType.EC2, "i-1"),
    ("arn:aws:rds:us-east-1:123456789012:db:prod", ResourceType.RDS, "prod"),
    ("arn:aws:rds:us-east-1:123456789012:cluster:aurora", ResourceType.AURORA, "aurora"),
])
def test_resource_type_and_name_come_from_the_arn(arn: str, kind: ResourceType, name: str) -> None:
    assert resource_type_of(arn) is kind
    assert resource_name(arn) == name


def test_an_s3_object_arn_is_not_a_bucket() -> None:
    with pytest.raises(Exception, match="not a resource type Coffer protects"):
        resource_type_of("arn:aws:s3:::bucket/key")
