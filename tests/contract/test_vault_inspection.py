"""Verify's read-only ports, one suite against the adapters on moto and the in-memory fakes (`params=["moto",
"memory"]`) where both exist: a version's checksum, lock and legal hold in one HeadObject, a delete marker on top,
the bucket's rules and policy; and, on moto only, a KMS key's state and policy and a stack's deployed template."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from fakes.inspection import MemoryVaultInspection
from fakes.storage import MemoryBuckets
from moto import mock_aws

from coffer.adapters import aws
from coffer.adapters.aws_services.stack_template import CloudFormationStack
from coffer.adapters.vault.inspection import KmsKeyInspection, S3VaultInspection
from coffer.domain.clock import FixedClock
from coffer.domain.errors import InvalidInput
from coffer.domain.object_lock import LockMode
from coffer.ports.key_inspection import KEY_GONE
from coffer.ports.vault_inspection import BucketRules, VaultInspection
from coffer_twin.environment import fake_aws_environment

REGION, VAULT = "eu-west-1", "vault"
UNTIL = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass
class Bucket:
    inspection: VaultInspection
    #: (key, body, legal hold) -> VersionId: a locked GOVERNANCE version until UNTIL
    put: Callable[[str, bytes, bool], str]
    #: key -> VersionId of the delete marker put on top
    hide: Callable[[str], str]


@pytest.fixture(scope="module")
def aws_env() -> Iterator[None]:
    with fake_aws_environment(REGION), mock_aws():
        yield


@pytest.fixture(params=["moto", "memory"])
def bucket(request: pytest.FixtureRequest) -> Bucket:
    if request.param == "moto":
        request.getfixturevalue("aws_env")
        client = aws.client("s3", REGION, boto3.Session())
        name = f"vault-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True,
                             CreateBucketConfiguration={"LocationConstraint": REGION})
        client.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})

        def put(key: str, body: bytes, hold: bool) -> str:
            return str(client.put_object(Bucket=name, Key=key, Body=body, ChecksumAlgorithm="SHA256",
                                         ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=UNTIL,
                                         ObjectLockLegalHoldStatus="ON" if hold else "OFF")["VersionId"])

        def hide(key: str) -> str:
            return str(client.delete_object(Bucket=name, Key=key)["VersionId"])

        inspection = S3VaultInspection(client, name)
        return Bucket(inspection, put, hide)
    buckets = MemoryBuckets(FixedClock(datetime(2026, 11, 25, tzinfo=UTC)))
    memory = MemoryVaultInspection(buckets, VAULT)

    def put_memory(key: str, body: bytes, hold: bool) -> str:
        return buckets.put(VAULT, key, body, mode=LockMode.GOVERNANCE, retain_until=UNTIL, legal_hold=hold).id

    def hide_memory(key: str) -> str:
        return buckets.mark_deleted(VAULT, key).id

    return Bucket(memory, put_memory, hide_memory)


def test_one_head_answers_the_version_its_checksum_lock_and_legal_hold(bucket: Bucket) -> None:
    first = bucket.put("vaults/Default/blobs/sha256/a", b"alpha", True)
    second = bucket.put("vaults/Default/blobs/sha256/a", b"other", False)
    current = bucket.inspection.head("vaults/Default/blobs/sha256/a")
    assert current is not None and not current.delete_marker
    assert (current.version_id, current.sha256, current.size) == (second, hashlib.sha256(b"other").hexdigest(), 5)
    assert (current.lock.mode, current.lock.retain_until, current.lock.legal_hold) == (LockMode.GOVERNANCE, UNTIL,
                                                                                        False)
    pinned = bucket.inspection.head("vaults/Default/blobs/sha256/a", first)
    assert pinned is not None
    assert (pinned.version_id, pinned.sha256, pinned.lock.legal_hold) == (first, hashlib.sha256(b"alpha").hexdigest(),
                                                                          True)


def test_a_delete_marker_on_top_is_told_as_one_and_the_version_under_it_is_still_there(bucket: Bucket) -> None:
    version = bucket.put("vaults/Default/recovery-points/r/manifest.json", b"{}", False)
    marker = bucket.hide("vaults/Default/recovery-points/r/manifest.json")
    current = bucket.inspection.head("vaults/Default/recovery-points/r/manifest.json")
    assert current is not None and (current.delete_marker, current.version_id) == (True, marker)
    under = bucket.inspection.head("vaults/Default/recovery-points/r/manifest.json", version)
    assert under is not None and under.version_id == version and not under.delete_marker


def test_a_missing_key_or_version_is_none(bucket: Bucket) -> None:
    assert bucket.inspection.head("vaults/Default/blobs/sha256/none") is None
    version = bucket.put("vaults/Default/blobs/sha256/b", b"beta", False)
    assert bucket.inspection.head("vaults/Default/blobs/sha256/b", version) is not None


def test_the_bucket_rules_and_policy_are_read_back(bucket: Bucket) -> None:
    assert bucket.inspection.rules() == BucketRules(versioning="Enabled", object_lock=True,
                                                    default_mode="GOVERNANCE", default_days=1)
    if isinstance(bucket.inspection, S3VaultInspection):
        assert bucket.inspection.policy() is None  # a bucket without one
        policy = {"Version": "2012-10-17", "Statement": [{"Sid": "DenyDeleteMarkers", "Effect": "Deny",
                                                          "Principal": "*", "Action": "s3:DeleteObject",
                                                          "Resource": f"arn:aws:s3:::{bucket.inspection.bucket}/*"}]}
        client = aws.client("s3", REGION, boto3.Session())
        client.put_bucket_policy(Bucket=bucket.inspection.bucket, Policy=json.dumps(policy))
        assert bucket.inspection.policy() == policy
        client.delete_bucket_policy(Bucket=bucket.inspection.bucket)


def test_an_unversioned_bucket_without_object_lock_reads_as_such(aws_env: None) -> None:
    client = aws.client("s3", REGION, boto3.Session())
    client.create_bucket(Bucket="plain", CreateBucketConfiguration={"LocationConstraint": REGION})
    assert S3VaultInspection(client, "plain").rules() == BucketRules(versioning=None, object_lock=False)


# ---- KMS (moto only) ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["Enabled", "Disabled", "PendingDeletion"])
def test_a_keys_state_and_policy_are_read_back(aws_env: None, state: str) -> None:
    kms = aws.client("kms", REGION, boto3.Session())
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "Admin", "Effect": "Allow",
                                                      "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                                      "Action": "kms:*", "Resource": "*"}]}
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    if state == "Disabled":
        kms.disable_key(KeyId=key["KeyId"])
    elif state == "PendingDeletion":
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    keys = KmsKeyInspection(kms)
    assert keys.state(key["Arn"]) == state
    assert keys.policy(key["Arn"]) == policy


def test_a_key_kms_does_not_know_is_gone(aws_env: None) -> None:
    keys = KmsKeyInspection(aws.client("kms", REGION, boto3.Session()))
    gone = f"arn:aws:kms:{REGION}:123456789012:key/{uuid.uuid4()}"
    assert (keys.state(gone), keys.policy(gone)) == (KEY_GONE, None)


# ---- the deployed stack (moto only) -----------------------------------------------------------------------------
TEMPLATE: dict[str, Any] = {
    "Parameters": {"OperatorRoleArn": {"Type": "String", "Default": ""}},
    "Conditions": {"HasOperatorRole": {"Fn::Not": [{"Fn::Equals": [{"Ref": "OperatorRoleArn"}, ""]}]}},
    "Resources": {
        "VaultBucket": {"Type": "AWS::S3::Bucket"},
        "Guard": {"Type": "AWS::SQS::Queue", "Properties": {"Tags": [{"Key": "policy", "Value": {"Fn::If": [
            "HasOperatorRole", {"Fn::Sub": "${VaultBucket.Arn}/* ${OperatorRoleArn}"}, "none"]}}]}},
    },
}


def test_the_stack_is_read_as_cloudformation_deployed_it(aws_env: None) -> None:
    cfn = aws.client("cloudformation", REGION, boto3.Session())
    operator = "arn:aws:iam::123456789012:role/operator"
    cfn.create_stack(StackName="coffer-contract", TemplateBody=json.dumps(TEMPLATE),
                     Parameters=[{"ParameterKey": "OperatorRoleArn", "ParameterValue": operator}])
    deployed = CloudFormationStack(cfn, "coffer-contract").deployed()
    bucket = deployed.physical_ids["VaultBucket"]
    assert (deployed.stack_name, deployed.region, deployed.partition) == ("coffer-contract", REGION, "aws")
    assert deployed.parameters["OperatorRoleArn"] == operator
    assert deployed.arn_of("VaultBucket") == f"arn:aws:s3:::{bucket}"
    assert deployed.resolved_property("Guard", "Tags") == [
        {"Key": "policy", "Value": f"arn:aws:s3:::{bucket}/* {operator}"}]


def test_without_a_stack_name_the_stack_cannot_be_read_and_says_why(aws_env: None) -> None:
    with pytest.raises(InvalidInput, match="STACK_NAME"):
        CloudFormationStack(aws.client("cloudformation", REGION, boto3.Session()), None).deployed()
