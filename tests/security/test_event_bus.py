"""Starting a restore or a copy is an authorised act: only the stack's own bus (CofferEventBus) starts them, and
its policy admits only RestoreRequesterArns - tried by the principals who would put such an event.

Each refusal is checked as EventBridge's AccessDenied, the statement that denied it, and the catalog and Step
Functions afterwards (no job, no execution). The named requester's restore runs end to end with IAM enforced.
"""

from __future__ import annotations

import json

import pytest

from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import JobState
from coffer_cli.local.copy_destinations import DESTINATION_REGION, OTHER_ACCOUNT, session_in, vault_arn
from coffer_cli.local.samples import bucket_snapshot

from .conftest import Secured, role_arn


def restore_detail(secured: Secured, token: str) -> dict[str, object]:
    return {"RecoveryPointArn": secured.recovery_point_id, "IdempotencyToken": token,
            "Metadata": {"DestinationBucketName": f"restored-{token}", "NewBucket": "true"}}


def restores_running(secured: Secured) -> int:
    sfn = secured.coffer.client("stepfunctions")
    return len(sfn.list_executions(stateMachineArn=secured.twin.physical_id("RestoreStateMachine"))["executions"])


def assert_no_job(secured: Secured, token: str) -> None:
    with pytest.raises(NotFound):
        secured.coffer.deps.catalog.get_job(job_id_for(token))


@pytest.mark.parametrize("who", ["app", "admin"])
def test_a_role_not_named_cannot_start_a_restore_or_a_copy_on_the_coffer_bus(secured: Secured, who: str) -> None:
    events, bus = secured.session(who).client("events"), secured.coffer.request_bus
    before = restores_running(secured)
    for detail_type, token in (("StartRestoreJob", f"{who}-restore"), ("StartCopyJob", f"{who}-copy")):
        detail = restore_detail(secured, token) if detail_type == "StartRestoreJob" else {
            "RecoveryPointArn": secured.recovery_point_id, "IdempotencyToken": token,
            "DestinationBackupVaultArn": vault_arn(DESTINATION_REGION, secured.twin.account_id)}
        with secured.refused("events:PutEvents", "resource:NobodyElsePuts"):
            secured.twin.put_event("coffer", detail_type, detail, bus=bus, events_client=events)
        assert_no_job(secured, token)
    assert restores_running(secured) == before


def test_a_restore_event_on_the_default_bus_starts_nothing(secured: Secured) -> None:
    events = secured.session("app").client("events")
    before = restores_running(secured)
    started = secured.twin.put_event("coffer", "StartRestoreJob", restore_detail(secured, "default-bus"),
                                     events_client=events)
    assert started == [] and restores_running(secured) == before
    assert_no_job(secured, "default-bus")


def test_another_accounts_role_cannot_put_on_the_coffer_bus(secured: Secured) -> None:
    stranger = f"arn:aws:iam::{OTHER_ACCOUNT}:role/stranger"
    iam = session_in(secured.twin.region, OTHER_ACCOUNT).client("iam")
    iam.create_role(RoleName="stranger", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="stranger", PolicyName="own", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}]}))
    events = secured.session(stranger).client("events")
    with secured.refused("events:PutEvents", "resource:NobodyElsePuts"):
        secured.twin.put_event("coffer", "StartRestoreJob", restore_detail(secured, "stranger"),
                               bus=secured.outputs["CofferEventBusArn"], events_client=events)
    assert_no_job(secured, "stranger")


def test_the_named_requester_starts_a_restore_that_runs_with_iam_enforced(secured: Secured) -> None:
    events = secured.session("requester").client("events")
    mark = len(secured.twin.iam.decisions)
    [execution] = secured.twin.put_event("coffer", "StartRestoreJob", restore_detail(secured, "requested"),
                                         bus=secured.coffer.request_bus, events_client=events)
    result = secured.twin.wait(execution, timeout=180)
    assert result["status"] == "SUCCEEDED", result
    assert secured.coffer.deps.catalog.get_job(job_id_for("requested")).state is JobState.COMPLETED
    s3 = secured.coffer.client("s3")
    assert bucket_snapshot(s3, "restored-requested") == bucket_snapshot(s3, secured.source_bucket)
    made = secured.decisions_since(mark)
    assert [d for d in made if not d.allowed] == []
    assert {d.principal for d in made} >= {role_arn("requester"), secured.function_role("RestoreBatchFunction")}
