"""The input rules (domain/input_rules), rule by rule, as pure functions: each is tried with the value an attacker or
a careless producer would send, and every message must name the field, show the value, state the rule and say
what to do, on one line."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from coffer.adapters.resources import adapter_for
from coffer.domain.copies import StartCopyJobRequest
from coffer.domain.errors import InvalidInput
from coffer.domain.input_rules.arns import (
    Home,
    bucket_name_problem,
    foreign_problem,
    own_resource_problem,
    recovery_point_problems,
    resource_arn_problems,
)
from coffer.domain.input_rules.gates import (
    PlanRules,
    check_backup_request,
    check_copy_request,
    check_restore_request,
)
from coffer.domain.input_rules.lifecycle import COLD_TIER_TYPES
from coffer.domain.input_rules.restore_metadata import RESTORE_METADATA, restore_metadata_problems
from coffer.domain.input_rules.scalars import flag_string_problem, number_string_problem, unicode_problems
from coffer.domain.input_rules.schedules import schedule_problems
from coffer.domain.input_rules.tags import tag_problems
from coffer.domain.input_rules.text import MAX_CAUSE_CHARACTERS, one_line, shown
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.plans import read_documents
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.requests import StartBackupJobRequest, StartRestoreJobRequest
from coffer.domain.resources import ResourceType
from coffer.domain.validation import parse_model
from coffer.ports.resources import Capability

HOME = Home(partition="aws", region="us-east-1", account_id="123456789012", vault_bucket="coffer-vault-abc",
            work_bucket="coffer-work-abc", catalog_table="coffer-catalog")
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
T0 = datetime(2026, 11, 25, tzinfo=UTC)


def refused(call: Any) -> list[str]:
    with pytest.raises(InvalidInput) as raised:
        call()
    for problem in raised.value.problems:
        assert "\n" not in problem and "\r" not in problem, problem
    return raised.value.problems


def backup(**detail: Any) -> StartBackupJobRequest:
    return StartBackupJobRequest.model_validate({"ResourceArn": TABLE, **detail})


# ---- how values are shown ---------------------------------------------------------------------------------
def test_a_value_is_shown_on_one_line_however_it_is_made() -> None:
    assert shown("a\nb\r\u2028c\x00") == "'a\\nb\\r\\u2028c\\x00'"
    assert shown(True) == "true" and shown(None) == "null" and shown(35) == "35"
    assert shown("x" * 3000) == f"'{'x' * 80}...' (3000 characters)"
    assert shown("\ud800") == "'\\ud800'"


@given(st.text(max_size=20_000))
def test_a_cause_is_one_printable_line_of_bounded_length(text: str) -> None:
    line = one_line(text)
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert len(line) <= MAX_CAUSE_CHARACTERS + 60


# ---- strict numbers and booleans ----------------------------------------------------------------------------
@pytest.mark.parametrize("value", [True, False, "35", "", 35.0, 35.5, None, [35], {"days": 35}])
def test_delete_after_days_is_a_json_number_and_nothing_else(value: Any) -> None:
    if value is None:  # an explicit null is "not set", as AWS reads it
        assert Lifecycle.model_validate({"DeleteAfterDays": None}).delete_after_days is None
        return
    problems = refused(lambda: parse_model(StartBackupJobRequest, {"ResourceArn": TABLE,
                                                                   "Lifecycle": {"DeleteAfterDays": value}}))
    assert problems[0].startswith(f"Lifecycle.DeleteAfterDays: {shown(value)} is not a whole number (give ")


def test_true_is_no_longer_read_as_one_day() -> None:
    with pytest.raises(ValidationError):
        Lifecycle.model_validate({"DeleteAfterDays": True})
    assert Lifecycle.model_validate({"DeleteAfterDays": 1}).delete_after_days == 1


@pytest.mark.parametrize(("field", "value"), [("StartWindowMinutes", "120"), ("CompleteWindowMinutes", True),
                                              ("EnableContinuousBackup", "yes"), ("EnableContinuousBackup", 1),
                                              ("StartWindowMinutes", 10**12)])
def test_windows_and_flags_of_a_backup_request_are_strict(field: str, value: Any) -> None:
    problems = refused(lambda: parse_model(StartBackupJobRequest, {"ResourceArn": TABLE, field: value}))
    assert problems[0].startswith(f"{field}: ") and shown(value) in problems[0]


def test_a_retention_beyond_one_hundred_years_is_refused() -> None:
    problems = refused(lambda: parse_model(StartBackupJobRequest, {"ResourceArn": TABLE,
                                                                   "Lifecycle": {"DeleteAfterDays": 10**9}}))
    assert problems == ["Lifecycle.DeleteAfterDays: Input should be less than or equal to 36500 (got 1000000000)"]


@pytest.mark.parametrize("value", ["yes", "True", "TRUE", "1", "", " true"])
def test_new_bucket_is_the_string_true_or_false_only(value: str) -> None:
    problem = flag_string_problem("Metadata.NewBucket", value)
    assert problem == f'Metadata.NewBucket: {shown(value)} is not "true" or "false" (give "true" or "false", ' \
                      "in lower case)"
    assert flag_string_problem("Metadata.NewBucket", "true") is None


@pytest.mark.parametrize("value", ["abc", "1e3", "-1", "0x10", "007", "1.5", "٣"])
def test_a_number_in_restore_metadata_is_plain_digits(value: str) -> None:
    assert "is not a whole number of GiB" in (number_string_problem("Metadata.volumeSize", value, 1, 65536, "GiB")
                                              or "")


def test_a_number_in_restore_metadata_stays_within_awss_limits() -> None:
    assert number_string_problem("Metadata.volumeSize", "65537", 1, 65536, "GiB") == (
        "Metadata.volumeSize: '65537' is outside 1-65536 GiB (give a number from 1 to 65536)")
    assert number_string_problem("Metadata.volumeSize", "100", 1, 65536, "GiB") is None


def test_a_lone_surrogate_anywhere_in_a_request_is_refused_by_path() -> None:
    found = list(unicode_problems({"IdempotencyToken": "ok", "Tags": {"k": "\udcff"}}))
    assert found == ["Tags.k: '\\udcff' is not valid Unicode (it holds a lone surrogate) (send the text as UTF-8)"]
    # pydantic passes them inside maps (and in some strings): the gate refuses them before anything encodes them
    problems = refused(lambda: check_backup_request(backup(BackupOptions={"WindowsVSS": "on\ud800"}), HOME))
    assert problems == ["BackupOptions.WindowsVSS: 'on\\ud800' is not valid Unicode (it holds a lone surrogate) "
                        "(send the text as UTF-8)"]


# ---- AWS's tag rules --------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["aws:owner", "AWS:owner", "Aws:x", "aWs:"])
def test_tag_keys_starting_with_aws_in_any_case_are_reserved(key: str) -> None:
    assert tag_problems({key: "v"}, "RecoveryPointTags") == [
        f"RecoveryPointTags.{key}: tag keys starting with 'aws:' are reserved for AWS (rename the key)"]


def test_at_most_fifty_tags() -> None:
    assert tag_problems({f"k{n}": "v" for n in range(50)}, "RecoveryPointTags") == []
    assert tag_problems({f"k{n}": "v" for n in range(51)}, "RecoveryPointTags") == [
        "RecoveryPointTags: 51 tags; at most 50 (AWS's limit per resource: remove 1)"]


def test_tag_key_and_value_lengths() -> None:
    assert tag_problems({"k" * 128: "v" * 256}, "T") == []
    [key_problem] = tag_problems({"k" * 129: ""}, "T")
    assert "is 129 characters: a tag key has 1 to 128 characters (shorten or rename the key)" in key_problem
    assert key_problem.startswith("T[")  # a long key is shown shortened inside the path
    assert tag_problems({"": "v"}, "T")[0].startswith("T['']: '' is 0 characters: a tag key has 1 to 128")
    [value_problem] = tag_problems({"k": "v" * 257}, "T")
    assert value_problem.startswith("T.k: a tag value has at most 256 characters (257 given: 'vvv")


@pytest.mark.parametrize("text", ["a{b}", "tab\there", "emoji\U0001f600", "semi;colon", "quote\"", "new\nline"])
def test_tag_characters_outside_awss_set_are_refused_naming_the_character(text: str) -> None:
    for tags in ({text: "v"}, {"k": text}):
        [problem] = tag_problems(tags, "T")
        assert "tags may hold letters, digits, spaces and _ . : / = + - @ only (" in problem
        assert "\n" not in problem


@given(st.dictionaries(
    st.text(st.sampled_from(string.ascii_letters + string.digits + " _.:/=+-@éß日本"), min_size=1, max_size=128)
    .filter(lambda k: not k.lower().startswith("aws:")),
    st.text(st.sampled_from(string.ascii_letters + string.digits + " _.:/=+-@ü"), max_size=256), max_size=50))
def test_tags_within_awss_rules_are_accepted(tags: dict[str, str]) -> None:
    assert tag_problems(tags, "RecoveryPointTags") == []


# ---- ARNs: shape and length per service --------------------------------------------------------------------
@pytest.mark.parametrize("arn", [
    "arn:aws:s3:::my-bucket.logs", TABLE, "arn:aws:dynamodb:eu-central-2:123456789012:table/a_b.c-d",
    "arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0",
    "arn:aws:ec2:us-east-1:123456789012:volume/vol-01234567",
    "arn:aws:ec2:us-gov-west-1:123456789012:instance/i-0123456789abcdef0",
    "arn:aws:rds:us-east-1:123456789012:db:prod-1", "arn:aws-cn:rds:cn-north-1:123456789012:cluster:aurora",
])
def test_well_formed_arns_of_each_type_pass(arn: str) -> None:
    assert resource_arn_problems(arn) == []


@pytest.mark.parametrize(("arn", "rule"), [
    ("arn:aws:s3:::ab", "is not a valid S3 bucket name"),
    ("arn:aws:s3:::bad|name", "is not a valid S3 bucket name"),
    ("arn:aws:s3:::a b c", "is not a valid S3 bucket name"),
    ("arn:aws:s3:::" + "b" * 256, "is not a valid S3 bucket name"),
    ("arn:aws:s3:::192.168.5.4", "is formatted as an IP address"),
    ("arn:aws:s3:::xn--bucket", "uses a prefix or suffix S3 reserves"),
    ("arn:aws:s3:::bucket-s3alias", "uses a prefix or suffix S3 reserves"),
    ("arn:aws:s3:us-east-1:123456789012:bucket", "names a region or account: an S3 bucket ARN has neither"),
    ("arn:aws:s3:::bucket/key", "is not a resource type Coffer protects"),
    ("arn:aws:dynamodb:us-east-1:123456789012:table/ab", "is not a valid DynamoDB table name"),
    ("arn:aws:dynamodb:us-east-1:1234:table/orders", "has no valid account id"),
    ("arn:aws:dynamodb:useast1:123456789012:table/orders", "has no valid region"),
    ("arn:aws:ec2:us-east-1:123456789012:volume/vol-xyz", "is not an EBS volume id"),
    ("arn:aws:ec2:us-east-1:123456789012:instance/i-0123", "is not an EC2 instance id"),
    ("arn:aws:rds:us-east-1:123456789012:db:1prod", "is not a valid DB instance identifier"),
    ("arn:aws:rds:us-east-1:123456789012:db:prod--1", "is not a valid DB instance identifier"),
    ("arn:aws:rds:us-east-1:123456789012:cluster:prod-", "is not a valid DB cluster identifier"),
    ("arn:aws:rds:us-east-1:123456789012:db:" + "a" * 64, "is not a valid DB instance identifier"),
    ("arn:evil:dynamodb:us-east-1:123456789012:table/orders", "which does not exist"),
    ("not-an-arn", "is not an ARN"),
    ("arn:aws:sqs:us-east-1:123456789012:queue", "is not a resource type Coffer protects"),
])
def test_malformed_arns_are_refused_naming_the_rule(arn: str, rule: str) -> None:
    [problem] = resource_arn_problems(arn)
    assert problem.startswith("ResourceArn: '") and rule in problem and problem.endswith(")")


def test_a_three_thousand_character_arn_is_refused_by_its_length_alone() -> None:
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{'x' * 3000}"
    assert resource_arn_problems(arn) == [
        f"ResourceArn: '{arn[:80]}...' ({len(arn)} characters) is longer than an ARN can be (2048 characters at "
        "most) (give the ARN of one resource)"]
    problems = refused(lambda: parse_model(StartRestoreJobRequest, {"RecoveryPointArn": "r" * 3000}))
    assert "is longer than a recovery point ARN can be" in problems[0]


@given(st.text(max_size=300))
def test_any_text_as_a_resource_arn_is_either_accepted_or_refused_with_one_line_messages(text: str) -> None:
    for problem in resource_arn_problems(text):
        assert problem.startswith("ResourceArn: ") and "\n" not in problem and len(problem) < 600


# ---- the stack's account, region and partition; its own resources ---------------------------------------------
@pytest.mark.parametrize(("arn", "where"), [
    ("arn:aws:dynamodb:us-east-1:111111111111:table/orders", "account 111111111111"),
    ("arn:aws:dynamodb:eu-west-1:123456789012:table/orders", "region eu-west-1"),
    ("arn:aws-cn:dynamodb:us-east-1:123456789012:table/orders", "partition aws-cn"),
    ("arn:aws-us-gov:s3:::bucket", "partition aws-us-gov"),
])
def test_an_arn_of_another_account_region_or_partition_is_refused(arn: str, where: str) -> None:
    problem = foreign_problem("ResourceArn", arn, HOME)
    assert problem is not None and f"is in {where}" in problem
    assert "this Coffer stack runs in account 123456789012, region us-east-1, partition aws" in problem


def test_a_local_arn_is_not_foreign() -> None:
    assert foreign_problem("ResourceArn", TABLE, HOME) is None
    assert foreign_problem("ResourceArn", "arn:aws:s3:::bucket", HOME) is None
    # a copy's destination may be another region or account, never another partition
    west = "arn:aws:backup:eu-west-1:111111111111:backup-vault:dr"
    assert foreign_problem("D", west, HOME, regional=False) is None
    assert foreign_problem("D", west.replace("arn:aws:", "arn:aws-cn:"), HOME, regional=False) is not None


@pytest.mark.parametrize("arn", ["arn:aws:s3:::coffer-vault-abc", "arn:aws:s3:::coffer-work-abc",
                                 "arn:aws:dynamodb:us-east-1:123456789012:table/coffer-catalog"])
def test_coffers_own_storage_is_never_a_backup_source(arn: str) -> None:
    problem = own_resource_problem("ResourceArn", arn, HOME)
    assert problem is not None and "is one of this Coffer stack's own resources" in problem
    assert own_resource_problem("ResourceArn", "arn:aws:s3:::other-bucket", HOME) is None


@pytest.mark.parametrize(("value", "expected"), [
    ("0f0e0d0c-0b0a-4908-8706-050403020100", []),
    ("arn:aws:backup:us-east-1:123456789012:recovery-point:abc", []),
    ("arn:aws:backup:us-east-1:111111111111:recovery-point:abc", ["is in account 111111111111"]),
    ("arn:aws:backup:eu-west-1:123456789012:recovery-point:abc", ["is in region eu-west-1"]),
    ("arn:aws:ec2:us-east-1:123456789012:snapshot/snap-1", ["is not a recovery point ARN"]),
    ("arn:aws:backup:us-east-1:123456789012:recovery-point:a/b", ["is not a recovery point ARN"]),
    ("has spaces", ["is not a recovery point id or ARN"]),
])
def test_a_recovery_point_is_named_by_its_id_or_by_an_arn_of_this_stack(value: str, expected: list[str]) -> None:
    problems = recovery_point_problems("RecoveryPointArn", value, HOME)
    assert len(problems) == len(expected)
    for problem, text in zip(problems, expected, strict=True):
        assert problem.startswith("RecoveryPointArn: '") and text in problem


# ---- gates: the whole request ----------------------------------------------------------------------------
def test_a_foreign_table_is_refused_before_the_local_namesake_is_touched() -> None:
    problems = refused(lambda: check_backup_request(
        backup(ResourceArn="arn:aws:dynamodb:eu-west-1:111111111111:table/orders"), HOME))
    assert problems == ["ResourceArn: 'arn:aws:dynamodb:eu-west-1:111111111111:table/orders' is in account "
                        "111111111111, region eu-west-1: this Coffer stack runs in account 123456789012, region "
                        "us-east-1, partition aws (name a resource of this account and region, or use the Coffer "
                        "stack deployed where it is)"]


def test_recovery_point_tags_of_a_backup_request_follow_awss_rules() -> None:
    problems = refused(lambda: check_backup_request(backup(RecoveryPointTags={"aws:x": "1", "k": "v" * 300}), HOME))
    assert [p.split(":")[0] for p in problems] == ["RecoveryPointTags.aws", "RecoveryPointTags.k"]


@pytest.mark.parametrize("resource_type", [t for t in ResourceType if t not in COLD_TIER_TYPES])
def test_cold_storage_of_a_type_without_a_cold_tier_is_refused_on_demand(resource_type: ResourceType) -> None:
    cluster = "arn:aws:rds:us-east-1:123456789012:cluster:orders"  # Aurora, DocumentDB or Neptune: its engine says
    arn = {ResourceType.DYNAMODB: TABLE, ResourceType.RDS: "arn:aws:rds:us-east-1:123456789012:db:prod",
           ResourceType.AURORA: cluster, ResourceType.DOCUMENTDB: cluster, ResourceType.NEPTUNE: cluster,
           ResourceType.EC2: "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"}[resource_type]
    lifecycle = {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 120}
    [problem] = refused(lambda: check_backup_request(backup(ResourceArn=arn, Lifecycle=lifecycle), HOME,
                                                     lambda _: resource_type))
    assert problem.startswith(f"Lifecycle.MoveToColdStorageAfterDays: 30 asks for cold storage of a "
                              f"{resource_type.value} resource: ")
    assert problem.endswith("(remove MoveToColdStorageAfterDays; cold storage applies to EBS and S3 recovery points)")
    # a plan's rule applies to every type it selects: AWS Backup's reading (ignored where there is no cold tier)
    check_backup_request(backup(ResourceArn=arn, Lifecycle=lifecycle, BackupPlanId="p"), HOME)


def test_a_cluster_of_another_account_is_refused_without_asking_what_it_is() -> None:
    """A cluster ARN's type needs a DescribeDBClusters; one of another account must be refused first, never
    looked up (the lookup would describe this account's cluster of the same name)."""
    asked: list[str] = []

    def type_of(arn: str) -> ResourceType:
        asked.append(arn)
        return ResourceType.DOCUMENTDB

    foreign = "arn:aws:rds:us-east-1:999999999999:cluster:orders"
    problems = refused(lambda: check_backup_request(backup(ResourceArn=foreign), HOME, type_of))
    assert problems[0].startswith("ResourceArn: ") and "account 999999999999" in problems[0]
    assert asked == []
    check_backup_request(backup(ResourceArn=foreign.replace("999999999999", "123456789012")), HOME, type_of)
    assert asked == [foreign.replace("999999999999", "123456789012")]


def test_the_cold_tier_types_are_those_coffer_moves_to_cold() -> None:
    for resource_type in ResourceType:
        adapter = adapter_for(resource_type, lambda service: boto3.client(service, region_name="us-east-1"))
        # S3 recovery points go cold blob by blob through the ColdStorage workflow (domain/cold_tier.py)
        has_cold = Capability.COLD_STORAGE in adapter.capabilities or resource_type is ResourceType.S3
        assert has_cold == (resource_type in COLD_TIER_TYPES), resource_type


def test_copy_actions_of_an_on_demand_backup_are_checked_too() -> None:
    actions = [{"DestinationBackupVaultArn": "arn:aws-cn:backup:cn-north-1:123456789012:backup-vault:dr",
                "Lifecycle": {"MoveToColdStorageAfterDays": 1, "DeleteAfterDays": 91}}]
    problems = refused(lambda: check_backup_request(backup(CopyActions=actions), HOME))
    assert [p.split(":")[0] for p in problems] == ["CopyActions[0].DestinationBackupVaultArn",
                                                   "CopyActions[0].Lifecycle.MoveToColdStorageAfterDays"]


def _rp(resource_type: ResourceType, plan_id: str | None = None) -> RecoveryPoint:
    return RecoveryPoint(recovery_point_id="rp-1", vault_name="Default", resource_arn=TABLE,
                         resource_type=resource_type, status=RecoveryPointStatus.COMPLETED, creation_date=T0,
                         retain_until=T0, job_id="job-1", plan_id=plan_id)


def test_a_copy_of_another_partition_or_with_cold_storage_of_a_table_is_refused() -> None:
    request = StartCopyJobRequest.model_validate({
        "RecoveryPointArn": "arn:aws:backup:us-east-1:111111111111:recovery-point:rp-1",
        "DestinationBackupVaultArn": "arn:aws-cn:backup:cn-north-1:123456789012:backup-vault:dr",
        "Lifecycle": {"MoveToColdStorageAfterDays": 1, "DeleteAfterDays": 91}})
    problems = refused(lambda: check_copy_request(request, _rp(ResourceType.DYNAMODB), HOME))
    assert [p.split(":")[0] for p in problems] == ["RecoveryPointArn", "DestinationBackupVaultArn",
                                                   "Lifecycle.MoveToColdStorageAfterDays"]
    plain = StartCopyJobRequest.model_validate({
        "RecoveryPointArn": "rp-1",
        "DestinationBackupVaultArn": "arn:aws:backup:eu-west-1:111111111111:backup-vault:dr",
        "Lifecycle": {"MoveToColdStorageAfterDays": 1, "DeleteAfterDays": 91}})
    check_copy_request(plain, _rp(ResourceType.DYNAMODB, plan_id="p"), HOME)  # a plan's recovery point: AWS's reading
    assert "Lifecycle.MoveToColdStorageAfterDays" in refused(
        lambda: check_copy_request(plain, _rp(ResourceType.DYNAMODB), HOME))[0]


# ---- restore metadata ---------------------------------------------------------------------------------
def restore(metadata: dict[str, str], resource_type: ResourceType, rp: str = "rp-1") -> list[str]:
    request = StartRestoreJobRequest.model_validate({"RecoveryPointArn": rp, "Metadata": metadata})
    try:
        check_restore_request(request, resource_type, HOME)
    except InvalidInput as error:
        return error.problems
    return []


@pytest.mark.parametrize(("metadata", "expected"), [
    ({"DestinationBucketName": "restored", "NewBucket": "yes"}, ['Metadata.NewBucket: \'yes\' is not "true"']),
    ({"DestinationBucketName": "Bad_Name", "NewBucket": "true"},
     ["Metadata.DestinationBucketName: 'Bad_Name' is not a valid S3 bucket"]),
    ({"DestinationBucketName": "bad name"}, ["Metadata.DestinationBucketName: 'bad name' is not a valid S3 bucket"]),
    ({"DestinationBucketName": "coffer-vault-abc", "DestinationPrefix": "vaults/Default/"},
     ["Metadata.DestinationBucketName: 'coffer-vault-abc' is one of this Coffer stack's own buckets"]),
    ({"DestinationBucketName": "coffer-work-abc"}, ["is one of this Coffer stack's own buckets"]),
    ({"DestinationBucketName": "restored", "DestinationPrefix": "é" * 512},
     ["Metadata.DestinationPrefix: 'ééé", "is 1024 bytes: S3 keys are at most 1024 bytes"]),
    ({"DestinationBucketName": "restored", "DestinationPrefix": "a\x00b/"}, ["holds control characters"]),
    ({"DestinationBucketName": "restored", "NewBucket": "false", "Region": "eu-west-1"},
     ["Metadata.Region: 'eu-west-1' applies only to a new bucket"]),
    ({"DestinationBucketName": "restored", "NewBucket": "true", "Region": "Mars"}, ["is not an AWS Region name"]),
    ({"DestinationBucketName": ""}, ["Metadata.DestinationBucketName: required to restore a S3 recovery point"]),
    ({"DestinationBucketName": "restored", "DestinationBuckteName": "x"},
     ["Metadata.DestinationBuckteName: not a restore key for S3 (keys: DestinationBucketName, NewBucket"]),
    ({"DestinationBucketName": "restored", "UseLatestRestorableTime": "True"}, ["Metadata.UseLatestRestorableTime"]),
])
def test_s3_restore_metadata_is_checked_before_any_job(metadata: dict[str, str], expected: list[str]) -> None:
    problems = restore(metadata, ResourceType.S3)
    assert len(problems) == 1, problems
    for text in expected:
        assert text in problems[0]


def test_a_valid_s3_restore_passes() -> None:
    assert restore({"DestinationBucketName": "restored", "NewBucket": "true", "Region": "us-east-1",
                    "DestinationPrefix": "é" * 511}, ResourceType.S3) == []


@pytest.mark.parametrize(("resource_type", "metadata", "text"), [
    (ResourceType.DYNAMODB, {"targetTableName": "coffer-catalog"}, "is this Coffer stack's catalog table"),
    (ResourceType.DYNAMODB, {"targetTableName": "a b"}, "is not a valid DynamoDB table name"),
    (ResourceType.EBS, {"volumeSize": "true"}, "is not a whole number of GiB"),
    (ResourceType.EBS, {"iops": "99"}, "is outside 100-256000 IOPS"),
    (ResourceType.EBS, {"volumeType": "gp9"}, "is not an EBS volume type"),
    (ResourceType.EBS, {"availabilityZone": "us-east-1"}, "is not an Availability Zone"),
    (ResourceType.EBS, {"kmsKeyId": "arn:aws-cn:kms:cn-north-1:123456789012:key/abc"}, "another partition"),
    (ResourceType.EC2, {"SecurityGroupIds": "sg-0123456789abcdef0,default"}, "comma-separated list of security"),
    (ResourceType.EC2, {"SubnetId": "subnet-1"}, "is not a subnet id"),
    (ResourceType.RDS, {"DBInstanceIdentifier": "restored--db"}, "is not a valid DB instance identifier"),
    (ResourceType.RDS, {"DBInstanceIdentifier": "restored", "DBInstanceClass": "m5.large"}, "a DB instance class"),
    (ResourceType.AURORA, {"DBClusterIdentifier": "x" * 64}, "is not a valid DB cluster identifier"),
    (ResourceType.AURORA, {"DBClusterIdentifier": "ok", "targetTableName": "t"}, "not a restore key for Aurora"),
])
def test_restore_metadata_of_each_type_is_checked(resource_type: ResourceType, metadata: dict[str, str],
                                                  text: str) -> None:
    [problem] = restore(metadata, resource_type)
    assert problem.startswith("Metadata.") and text in problem


def test_every_type_has_its_restore_keys() -> None:
    assert set(RESTORE_METADATA) == set(ResourceType)
    assert restore_metadata_problems({}, ResourceType.EBS, HOME) == []


def test_a_foreign_recovery_point_arn_is_not_restored_as_the_local_one() -> None:
    problems = restore({"DestinationBucketName": "restored"}, ResourceType.S3,
                       rp="arn:aws:backup:us-east-1:111111111111:recovery-point:rp-1")
    assert len(problems) == 1 and problems[0].startswith("RecoveryPointArn: ") and "account 111111111111" in problems[0]


# ---- plans: schedules that never fire, vaults that do not exist ----------------------------------------------
def plan(*schedules: str, vault: str = "Default", **extra: Any) -> dict[str, Any]:
    return {"BackupPlan": {"BackupPlanName": "p", "Rules": [
        {"RuleName": f"r{n}", "TargetBackupVaultName": vault, "ScheduleExpression": e}
        for n, e in enumerate(schedules)]}, **extra}


@pytest.mark.parametrize("expression", ["cron(0 0 30 2 ? *)", "cron(0 0 31 4 ? *)", "cron(0 0 31 APR,JUN ? *)"])
def test_a_cron_that_never_fires_is_refused(expression: str) -> None:
    [problem] = refused(lambda: read_documents([("plan.yaml", plan(expression))]))
    assert problem == (f"plan.yaml: BackupPlan.Rules[0].ScheduleExpression: '{expression}' never fires (no date "
                       "matches all its fields: check Day-of-month against Month, and Year)")


def test_a_cron_whose_years_have_passed_is_refused_given_the_time() -> None:
    document = plan("cron(0 0 1 1 ? 2020-2024)")
    read_documents([("plan.yaml", document)])  # structurally fine
    [problem] = refused(lambda: read_documents([("plan.yaml", document)], now=T0))
    assert "never fires again after 2026-11-25" in problem


def test_rare_but_real_crons_are_accepted() -> None:
    from coffer.domain.plans import PlanDocument

    document = PlanDocument.model_validate(plan("cron(0 0 29 2 ? *)", "cron(0 0 ? * 6#5 *)", "rate(7 days)"))
    assert schedule_problems(document.backup_plan.rules, T0) == []


def test_a_plan_is_applied_only_to_vaults_that_exist() -> None:
    from coffer.domain.plans import PlanDocument

    rules = PlanRules(HOME, vault_exists=lambda name: name == "prod")
    rules.check(PlanDocument.model_validate(plan("cron(0 5 ? * * *)", vault="prod")), T0)
    rules.check(PlanDocument.model_validate(plan("cron(0 5 ? * * *)")), T0)  # the Default vault always exists
    [problem] = refused(lambda: rules.check(PlanDocument.model_validate(plan("cron(0 5 ? * * *)", vault="gone")), T0))
    assert problem == ("BackupPlan.Rules[0].TargetBackupVaultName: vault 'gone' does not exist (create it with "
                       "`coffer vault create gone`, then apply the plan)")


def test_a_plan_selecting_a_foreign_or_coffers_own_resource_is_refused_at_apply() -> None:
    from coffer.domain.plans import PlanDocument

    document = PlanDocument.model_validate(plan("cron(0 5 ? * * *)", Selections=[{"SelectionName": "s", "Resources": [
        "arn:aws:dynamodb:us-east-1:111111111111:table/orders", "arn:aws:s3:::coffer-vault-abc",
        "arn:aws:dynamodb:*:*:table/*"]}]))
    problems = refused(lambda: PlanRules(HOME, lambda name: True).check(document, T0))
    assert [p.split(":")[0] for p in problems] == ["Selections[0].Resources[0]", "Selections[0].Resources[1]"]


def test_plan_tags_and_rule_tags_follow_the_same_rules_as_events() -> None:
    document = plan("cron(0 5 ? * * *)", BackupPlanTags={"AWS:team": "x"})
    document["BackupPlan"]["Rules"][0]["RecoveryPointTags"] = {"k": "v" * 257}
    problems = refused(lambda: read_documents([("plan.yaml", document)]))
    assert sorted(p.split(": ")[1] for p in problems) == ["BackupPlan.Rules[0].RecoveryPointTags.k",
                                                          "BackupPlanTags.AWS:team"]


@pytest.mark.parametrize(("field", "value"), [("StartWindowMinutes", True), ("CompletionWindowMinutes", "120"),
                                              ("EnableContinuousBackup", "false")])
def test_a_plan_rules_numbers_and_flags_are_strict(field: str, value: Any) -> None:
    document = plan("cron(0 5 ? * * *)")
    document["BackupPlan"]["Rules"][0][field] = value
    [problem] = refused(lambda: read_documents([("plan.yaml", document)]))
    assert f"BackupPlan.Rules[0].{field}: {shown(value)} is not a " in problem


def test_a_selection_naming_a_malformed_arn_of_a_protected_type_is_refused() -> None:
    document = plan("cron(0 5 ? * * *)", Selections=[{"SelectionName": "s", "Resources": [
        "arn:aws:dynamodb:us-east-1:123456789012:table/" + "x" * 3000,
        "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-1"]}])
    [problem] = refused(lambda: read_documents([("plan.yaml", document)]))
    assert "Selections[0].Resources[0]: " in problem and "is longer than an ARN can be" in problem


@settings(max_examples=60)
@given(st.dictionaries(st.sampled_from(["DestinationBucketName", "NewBucket", "DestinationPrefix", "Region",
                                        "UseLatestRestorableTime", "Other"]), st.text(max_size=40), max_size=5))
def test_every_restore_metadata_problem_names_its_key_on_one_line(metadata: dict[str, str]) -> None:
    for problem in restore_metadata_problems(metadata, ResourceType.S3, HOME):
        assert problem.startswith("Metadata.") or problem.startswith("Metadata[")
        assert "\n" not in problem


def test_bucket_names_at_the_limits() -> None:
    assert bucket_name_problem("B", "abc") is None and bucket_name_problem("B", "a" * 63) is None
    for name in ("a" * 64, "Upper", "a..b", "bucket-", "under_score"):
        assert bucket_name_problem("B", name) is not None, name


@pytest.mark.parametrize("name", ["Legacy_Bucket", "UPPER.case", "a" * 255, "bucket-"])
def test_an_existing_bucket_may_predate_todays_naming_rules(name: str) -> None:
    """us-east-1 took names of up to 255 letters of either case, digits, dots, hyphens and underscores until
    March 2018: such buckets are backed up and restored into, but no new bucket is created with such a name."""
    assert resource_arn_problems(f"arn:aws:s3:::{name}") == []
    assert restore({"DestinationBucketName": name, "NewBucket": "false"}, ResourceType.S3) == []
    # a new bucket is the default (restores never take over): NewBucket left out is NewBucket "true"
    for new in ({"NewBucket": "true"}, {}):
        [problem] = restore({"DestinationBucketName": name, **new}, ResourceType.S3)
        assert problem.startswith("Metadata.DestinationBucketName: ") and "is not a valid S3 bucket name" in problem
