"""The Copy workflow on the twin: the real template, ASL and handlers, with a destination in another region.

One twin for the module (a deploy costs seconds) and, in us-west-2 of the same moto, the destination's Coffer
storage (local/copy_destinations.py), deployed under the twin's own stack name as CopyDestinationStackName's
default expects. Covered here, and only here, is the wiring: `coffer copy start` -> EventBridge -> Copy workflow
(the S3 path's Distributed Map over the source's manifest parts); a backup whose rule has a copy action -> the
Backup workflow starting the Copy workflow -> the DynamoDB path (export polled with Wait states, then a
Distributed Map over its files); and the quota's WaitForSlot loop. Every type's copies, and their restores, are
tests/integration/test_copy_jobs.py's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from twins import Twins

from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobState
from coffer.domain.recovery_points import RecoveryPointStatus
from coffer.domain.requests import StartBackupJobRequest
from coffer.entrypoints.bootstrap import Root, bootstrap
from coffer_cli.cli import main
from coffer_cli.commands.common import stack_settings
from coffer_cli.local.copy_destinations import DESTINATION_REGION, deploy_storage, session_in, vault_arn
from coffer_cli.local.samples import create_sample_table, create_sample_volume
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
DESTINATION = vault_arn(DESTINATION_REGION, "123456789012")


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh({"EbsCopyQuota": "1"}) as deployed:
        yield deployed


@pytest.fixture(scope="module")
def destination(coffer: LocalCoffer) -> Root:
    session = session_in(DESTINATION_REGION)
    outputs = deploy_storage(session, ROOT, coffer.twin.stack_name)
    return bootstrap(stack_settings(outputs, session), clock=coffer.clock, session=session)


def wait_for_job(coffer: LocalCoffer, job_id: str, timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        try:
            job = coffer.deps.catalog.get_job(job_id)
            if job.state.terminal:
                return job
        except Exception:
            pass
        assert time.monotonic() < deadline, f"copy job {job_id} did not end"
        time.sleep(0.05)


def failures(coffer: LocalCoffer) -> str:
    sfn = coffer.client("stepfunctions")
    arn = coffer.twin.physical_id("CopyStateMachine")
    failed = sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"]
    return json.dumps([[e for e in coffer.twin.history(x["executionArn"]) if "Failed" in e["type"]]
                       for x in failed], default=str)[:4000]


def test_copy_workflows_run_from_the_cli_from_a_rules_copy_action_and_wait_for_quota_slots(
        coffer: LocalCoffer, destination: Root, capsys: pytest.CaptureFixture[str]) -> None:
    """One test on purpose: one twin deploy (seconds) for the three ways the Copy workflow runs."""
    a_copy_from_the_cli_runs_over_the_manifest_parts(coffer, destination, capsys)
    a_rules_copy_action_is_started_by_the_backup_workflow_and_a_dynamodb_copy_goes_through_an_export(
        coffer, destination)
    copies_beyond_the_destinations_quota_wait_for_a_slot_in_the_workflow(coffer)


def a_copy_from_the_cli_runs_over_the_manifest_parts(
        coffer: LocalCoffer, destination: Root, capsys: pytest.CaptureFixture[str]) -> None:
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket="wf-bucket")  # small: the byte-for-byte copies are test_copy_jobs.py's
    for n in range(3):
        s3.put_object(Bucket="wf-bucket", Key=f"k/{n}.txt", Body=f"object {n}".encode())
    backup = coffer.start_backup({"ResourceArn": "arn:aws:s3:::wf-bucket", "IdempotencyToken": "wf-s3"})
    assert backup["status"] == "SUCCEEDED"
    rp = coffer.deps.catalog.get_job(backup["output"]["job_id"]).recovery_point_id
    assert main(["copy", "start", "--recovery-point", rp, "--destination-vault-arn", DESTINATION,
                 "--idempotency-token", "wf-copy-s3", "--delete-after-days", "60", "--stack", "coffer-twin"]) == 0
    job = wait_for_job(coffer, json.loads(capsys.readouterr().out)["job_id"])
    assert job.state is JobState.COMPLETED, (job.status_message, failures(coffer))
    assert coffer.twin.invocations["CopyPartFunction"] >= 1  # one Distributed Map child per manifest part
    assert job.destination is not None
    copied = destination.catalog.get_recovery_point(job.destination.recovery_point_id)
    assert copied.status is RecoveryPointStatus.COMPLETED and copied.parent_recovery_point_id == rp
    assert copied.vault_name == "Default" and copied.lifecycle.delete_after_days == 60


def a_rules_copy_action_is_started_by_the_backup_workflow_and_a_dynamodb_copy_goes_through_an_export(
        coffer: LocalCoffer, destination: Root) -> None:
    db = coffer.client("dynamodb")
    create_sample_table(db, "wf-orders")
    db.update_continuous_backups(TableName="wf-orders",
                                 PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    arn = f"arn:aws:dynamodb:{coffer.twin.region}:{coffer.twin.account_id}:table/wf-orders"
    backup = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": "wf-ddb", "CopyActions": [
        {"DestinationBackupVaultArn": DESTINATION, "Lifecycle": {"DeleteAfterDays": 30}}]})
    assert backup["status"] == "SUCCEEDED", backup
    backup_job = coffer.deps.catalog.get_job(backup["output"]["job_id"])
    job = wait_for_job(coffer, job_id_for(f"{backup_job.job_id}-copy-0"))
    assert job.state is JobState.COMPLETED, (job.status_message, failures(coffer))
    assert coffer.twin.invocations["CheckCopyFunction"] >= 1  # the export, polled with Wait states
    assert job.destination is not None
    copied = destination.catalog.get_recovery_point(job.destination.recovery_point_id)
    assert copied.parent_recovery_point_id == backup_job.recovery_point_id
    assert copied.lifecycle.delete_after_days == 30


def copies_beyond_the_destinations_quota_wait_for_a_slot_in_the_workflow(coffer: LocalCoffer) -> None:
    volume = create_sample_volume(coffer.client("ec2"), "wf-quota")
    jobs = coffer.deps.backup_jobs  # the backup in-process: this part is about the Copy workflow's waits
    started = jobs.start(StartBackupJobRequest(resource_arn=volume, idempotency_token="wf-quota"), "wf-quota", None,
                         None)
    while not jobs.check(started.job_id).done:
        pass
    rp = coffer.deps.catalog.get_recovery_point(jobs.complete(started.job_id).recovery_point_id).recovery_point_id
    # EbsCopyQuota is 1 on this twin; a started copy holds its slot at least through one WaitForCopy.
    for n in range(2):
        coffer.twin.put_event("coffer", "StartCopyJob", {"RecoveryPointArn": rp, "IdempotencyToken": f"wf-q-{n}",
                                                         "DestinationBackupVaultArn": DESTINATION},
                              bus=coffer.request_bus)
    jobs = [wait_for_job(coffer, job_id_for(f"wf-q-{n}")) for n in range(2)]
    assert [j.state for j in jobs] == [JobState.COMPLETED] * 2, (failures(coffer),)
    waited = [j for j in jobs if JobState.PENDING in [t.state for t in j.history]]
    assert len(waited) == 1, [j.history for j in jobs]  # the second copy waited for the first one's slot
