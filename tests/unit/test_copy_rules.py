"""Copies' pure rules: destination addressing, the request, how each type is copied, quotas, scopes, the copy
actions a completed backup starts, and the Copy workflow's shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from coffer.domain.copies import (
    CopyAction,
    CopyMethod,
    CopyScope,
    StartCopyJobRequest,
    VaultAddress,
    copy_executions,
    method_for,
    quota_key,
    same_vault_problem,
    scope_of,
)
from coffer.domain.errors import InvalidInput
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.requests import StartBackupJobRequest
from coffer.domain.resources import ResourceType
from coffer.domain.validation import parse_model

ROOT = Path(__file__).resolve().parents[2]
WEST = "arn:aws:backup:us-west-2:123456789012:backup-vault:Gold"


def test_a_destination_vault_arn_names_region_account_and_vault() -> None:
    address = VaultAddress.parse(WEST)
    assert (address.region, address.account_id, address.vault_name) == ("us-west-2", "123456789012", "Gold")
    assert address.arn == WEST
    assert address.role_arn("coffer-copy") == "arn:aws:iam::123456789012:role/coffer-copy"
    assert VaultAddress.parse("arn:aws-us-gov:backup:us-gov-west-1:123456789012:backup-vault:V1").partition == \
        "aws-us-gov"


@pytest.mark.parametrize("arn", [
    "arn:aws:backup:us-west-2:1234:backup-vault:Gold",  # not an account
    "arn:aws:s3:::bucket",
    "arn:aws:backup:us-west-2:123456789012:backup-plan:Gold",
    "Gold",
    "arn:aws:backup:us-west-2:123456789012:backup-vault:G",  # vault names are 2 to 50 characters
])
def test_anything_but_a_backup_vault_arn_is_refused_naming_the_field(arn: str) -> None:
    with pytest.raises(InvalidInput, match=r"DestinationBackupVaultArn: .* is not a backup vault ARN"):
        VaultAddress.parse(arn)


def test_the_request_has_aws_backups_fields_and_refuses_others_by_name() -> None:
    request = parse_model(StartCopyJobRequest, {
        "RecoveryPointArn": "arn:aws:backup:us-east-1:123456789012:recovery-point:rp-1",
        "SourceBackupVaultName": "Default", "DestinationBackupVaultArn": WEST, "IdempotencyToken": "t",
        "Lifecycle": {"DeleteAfterDays": 90}})
    assert request.recovery_point_id == "rp-1" and request.destination.vault_name == "Gold"
    assert request.lifecycle.delete_after_days == 90
    with pytest.raises(InvalidInput) as refused:
        parse_model(StartCopyJobRequest, {"RecoveryPointArn": "rp-1", "DestinationBackupVaultArn": "Gold",
                                          "DeleteAfterDays": 3})
    assert any(p.startswith("DestinationBackupVaultArn:") for p in refused.value.problems)
    assert any(p.startswith("DeleteAfterDays:") for p in refused.value.problems)


def test_a_copy_action_is_checked_like_aws_backups() -> None:
    action = CopyAction.model_validate({"DestinationBackupVaultArn": WEST, "Lifecycle": {"DeleteAfterDays": 7}})
    assert action.lifecycle == Lifecycle(delete_after_days=7)
    with pytest.raises(ValueError, match="not a backup vault ARN"):
        CopyAction.model_validate({"DestinationBackupVaultArn": "arn:aws:s3:::x"})


@pytest.mark.parametrize(("kind", "method"), [
    (ResourceType.S3, CopyMethod.OBJECTS), (ResourceType.DYNAMODB, CopyMethod.EXPORT),
    (ResourceType.EBS, CopyMethod.NATIVE), (ResourceType.EC2, CopyMethod.NATIVE),
    (ResourceType.RDS, CopyMethod.NATIVE), (ResourceType.AURORA, CopyMethod.NATIVE)])
def test_each_type_is_copied_its_own_way(kind: ResourceType, method: CopyMethod) -> None:
    assert method_for(kind) is method


def test_snapshot_copies_count_against_the_destination_regions_quota_per_account() -> None:
    west = VaultAddress.parse(WEST)
    assert quota_key(ResourceType.EBS, west) == "ebs-snapshot-copies#123456789012#us-west-2"
    assert quota_key(ResourceType.EC2, west) == quota_key(ResourceType.EBS, west)  # an AMI copy copies snapshots
    assert quota_key(ResourceType.RDS, west) == "rds-snapshot-copies#123456789012#us-west-2"
    assert quota_key(ResourceType.AURORA, west) == quota_key(ResourceType.RDS, west)
    assert quota_key(ResourceType.S3, west) is None and quota_key(ResourceType.DYNAMODB, west) is None
    other = VaultAddress.parse("arn:aws:backup:us-west-2:210987654321:backup-vault:Gold")
    assert quota_key(ResourceType.EBS, other) != quota_key(ResourceType.EBS, west)


def test_scope_and_the_recovery_points_own_vault() -> None:
    west = VaultAddress.parse(WEST)
    assert scope_of("us-east-1", "123456789012", west) is CopyScope.CROSS_REGION
    assert scope_of("us-west-2", "123456789012", west) is CopyScope.SAME_REGION
    assert scope_of("us-west-2", "210987654321", west) is CopyScope.CROSS_ACCOUNT
    assert same_vault_problem("Gold", "us-west-2", "123456789012", west) is not None
    assert same_vault_problem("Default", "us-west-2", "123456789012", west) is None
    assert same_vault_problem("Gold", "us-east-1", "123456789012", west) is None


def test_a_completed_backups_copy_actions_become_named_copy_executions() -> None:
    at = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    actions = (CopyAction.model_validate({"DestinationBackupVaultArn": WEST, "Lifecycle": {"DeleteAfterDays": 30}}),
               CopyAction.model_validate({"DestinationBackupVaultArn": WEST.replace("Gold", "Silver")}))
    [first, second] = copy_executions("job-1", "rp-1", "Default", actions, "123456789012", "us-east-1", at)
    assert (first["name"], second["name"]) == ("job-1-copy-0", "job-1-copy-1")
    event: dict[str, Any] = first["input"]
    assert (event["detail-type"], event["time"], event["account"]) == ("StartCopyJob", "2026-11-25T10:00:00Z",
                                                                       "123456789012")
    request = StartCopyJobRequest.model_validate(event["detail"])
    assert (request.recovery_point_id, request.source_backup_vault_name, request.idempotency_token) == (
        "rp-1", "Default", "job-1-copy-0")
    assert request.lifecycle.delete_after_days == 30
    assert "Lifecycle" not in second["input"]["detail"]


def test_copy_actions_change_a_requests_fingerprint_and_their_absence_does_not() -> None:
    plain = {"ResourceArn": "arn:aws:s3:::bucket", "IdempotencyToken": "t"}
    request = StartBackupJobRequest.model_validate(plain)
    assert StartBackupJobRequest.model_validate({**plain, "CopyActions": []}).fingerprint() == request.fingerprint()
    with_copies = StartBackupJobRequest.model_validate({**plain, "CopyActions": [{"DestinationBackupVaultArn": WEST}]})
    assert with_copies.fingerprint() != request.fingerprint()


def _states(node: dict[str, Any]) -> dict[str, Any]:
    found = dict(node["States"])
    for state in node["States"].values():
        if "ItemProcessor" in state:
            found.update(_states(state["ItemProcessor"]))
    return found


def test_every_step_of_the_copy_workflow_retries_transient_errors_and_ends_the_job_on_failure() -> None:
    asl = json.loads((ROOT / "statemachines" / "copy.asl.json").read_text())
    states = _states(asl)
    for name, state in states.items():
        for target in [state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Choices", [])),
                       *(c["Next"] for c in state.get("Catch", []))]:
            assert target is None or target in states, (name, target)
        if state["Type"] != "Task":
            continue
        retried = {error for rule in state["Retry"] for error in rule["ErrorEquals"]}
        assert {"Lambda.ServiceException", "ThrottlingException", "ConcurrentUpdate"} <= retried, name
        if name in ("FailJob", "EndStartedJob", "CopyPart", "CopyPartRange", "FinishLargeCopy", "SealCopiedPart"):
            continue  # the Catch targets themselves; a Map child's failure is the Map's, which is caught
        assert [c["Next"] for c in state["Catch"] if c["ErrorEquals"] == ["States.ALL"]] in (
            ["FailJob"], ["EndStartedJob"]), name
    for name in ("CopyParts", "CopyExportFiles", "SealCopiedParts"):
        assert states[name]["ToleratedFailurePercentage"] == 0  # a copy is all or nothing
        assert states[name]["Catch"][0]["Next"] == "FailJob"
    # blobs of more parts than one invocation copies: a range or a finish that fails for good leaves its blob
    # without a result, and CompleteCopy fails the job (services/copy_jobs.py)
    assert states["CopyParts"]["Next"] == "FindLargeCopies" and states["AnyLargeCopies"]["Default"] == "CompleteCopy"
    for name in ("CopyLargeParts", "FinishLargeCopies", "SealCopiedParts"):
        assert states[name]["Catch"][0]["Next"] == "FailJob"
    # a part that waited for the fan-out is written, every blob pinned, before the copy completes
    assert states["FinishLargeCopies"]["Next"] == "SealCopiedParts"
    assert states["SealCopiedParts"]["Next"] == "CompleteCopy"
