"""Job events: AWS Backup's detail-types and field names under Coffer's source, so that a rule written for AWS Backup
matches with its source changed; the EventBridge adapter batches ten a call and puts refused entries again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from coffer.adapters import aws
from coffer.adapters.aws_services.job_events import EventBridgeJobEvents
from coffer.domain.copies import CopyDestination, CopyMethod, CopyScope
from coffer.domain.input_rules.arns import Home
from coffer.domain.job_events import SOURCE, JobChange, RecoveryPointChange, announcing, render
from coffer.domain.jobs import Job, JobKind, JobProgress, JobState, Transition
from coffer.domain.recovery_points import RecoveryPoint, RecoveryPointStatus
from coffer.domain.resources import ResourceType
from coffer.ports.job_events import JobEventsUndelivered
from coffer_twin.environment import fake_aws_environment

REGION = "eu-west-1"
HOME = Home(partition="aws", region=REGION, account_id="123456789012")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
BUCKET = "arn:aws:s3:::payroll"


def a_job(kind: JobKind = JobKind.BACKUP, **changes: Any) -> Job:
    job = Job(job_id="job-1", kind=kind, resource_arn=BUCKET, resource_type=ResourceType.S3, vault_name="Default",
              recovery_point_id="rp-1", created_at=NOW, start_by=NOW + timedelta(hours=1), plan_id="plan-1",
              rule_name="daily", execution_arn="arn:aws:states:eu-west-1:123456789012:execution:backup:x",
              history=(Transition(state=JobState.CREATED, at=NOW, reason="job created"),))
    return job.with_changes(**changes)


def failed_job() -> Job:
    return (a_job().to(JobState.RUNNING, NOW, "backup started")
            .to(JobState.FAILED, NOW + timedelta(minutes=5), "AccessDenied: s3:GetObject on payroll/2026.csv"))


# ---- the events' shape -------------------------------------------------------------------------------------------
def test_a_failed_backup_job_event_has_aws_backups_detail_type_and_field_names() -> None:
    event = render(JobChange(failed_job(), 3), HOME)
    assert event.detail_type == "Backup Job State Change"
    detail = event.detail
    assert detail["backupJobId"] == "job-1" and detail["state"] == "FAILED"
    assert detail["backupVaultName"] == "Default"
    assert detail["backupVaultArn"] == "arn:aws:backup:eu-west-1:123456789012:backup-vault:Default"
    assert detail["recoveryPointArn"] == "arn:aws:backup:eu-west-1:123456789012:recovery-point:rp-1"
    assert detail["resourceArn"] == BUCKET and detail["resourceType"] == "S3"
    assert detail["statusMessage"] == "AccessDenied: s3:GetObject on payroll/2026.csv"
    assert detail["creationDate"] == "2026-12-07T10:00:00Z" and detail["completionDate"] == "2026-12-07T10:05:00Z"
    assert detail["createdBy"] == {"backupPlanId": "plan-1", "backupRuleName": "daily"}
    assert detail["stateVersion"] == 3  # the consumer's dedupe key, with backupJobId
    assert event.time == NOW + timedelta(minutes=5) and BUCKET in event.resources


def test_an_earlier_transition_is_rendered_as_it_was_not_as_the_job_is_now() -> None:
    event = render(JobChange(failed_job(), 2), HOME)
    assert event.detail["state"] == "RUNNING" and event.detail["statusMessage"] == "backup started"
    assert "completionDate" not in event.detail


def test_restore_and_recovery_point_events_say_status_as_aws_backups_do() -> None:
    restore = a_job(JobKind.RESTORE, native_ref="arn:aws:s3:::payroll-restored").to(JobState.RUNNING, NOW).to(
        JobState.COMPLETED, NOW)
    event = render(JobChange(restore, 3), HOME)
    assert event.detail_type == "Restore Job State Change"
    assert event.detail["restoreJobId"] == "job-1" and event.detail["status"] == "COMPLETED"
    assert event.detail["createdResourceArn"] == "arn:aws:s3:::payroll-restored" and "state" not in event.detail
    rp = RecoveryPoint(recovery_point_id="rp-1", vault_name="Default", resource_arn=BUCKET,
                       resource_type=ResourceType.S3, status=RecoveryPointStatus.EXPIRED, creation_date=NOW,
                       retain_until=NOW, job_id="job-1", version=4)
    point = render(RecoveryPointChange(rp), HOME)
    assert point.detail_type == "Recovery Point State Change"
    assert point.detail["status"] == "EXPIRED" and point.detail["stateVersion"] == 5
    assert point.detail["recoveryPointArn"].endswith(":recovery-point:rp-1") and point.time is None


def test_a_copy_job_event_names_both_vaults() -> None:
    destination = CopyDestination(
        vault_arn="arn:aws:backup:eu-central-1:210987654321:backup-vault:Offsite", region="eu-central-1",
        account_id="210987654321", vault_name="Offsite", scope=CopyScope.CROSS_ACCOUNT, method=CopyMethod.OBJECTS,
        recovery_point_id="rp-2")
    copy = a_job(JobKind.COPY, destination=destination).to(JobState.RUNNING, NOW, "copy started")
    detail = render(JobChange(copy, 2), HOME).detail
    assert detail["copyJobId"] == "job-1" and detail["state"] == "RUNNING"
    assert detail["sourceBackupVaultArn"].endswith(":backup-vault:Default")
    assert detail["destinationBackupVaultArn"] == destination.vault_arn
    assert detail["destinationRecoveryPointArn"] == "arn:aws:backup:eu-central-1:210987654321:recovery-point:rp-2"


def test_completed_with_issues_is_flagged_as_aws_backups_console_shows_it() -> None:
    done = a_job(progress=JobProgress(failed_keys=["a.csv"])).to(JobState.RUNNING, NOW).to(
        JobState.COMPLETED, NOW)
    assert render(JobChange(done, 3), HOME).detail["completedWithIssues"] is True
    clean = a_job().to(JobState.RUNNING, NOW).to(JobState.COMPLETED, NOW)
    assert render(JobChange(clean, 3), HOME).detail["completedWithIssues"] is False


def test_a_long_status_message_is_cut_below_eventbridges_entry_limit() -> None:
    job = a_job().to(JobState.FAILED, NOW, "x" * 300_000)
    assert len(json.dumps(render(JobChange(job, 2), HOME).detail)) < 10_000


def test_announcing_counts_what_it_announces_so_a_job_read_again_announces_only_what_is_new() -> None:
    marked, changes = announcing(failed_job())
    assert [c.state_version for c in changes if isinstance(c, JobChange)] == [1, 2, 3] and marked.announced == 3
    again, none = announcing(marked.with_changes(progress=JobProgress(objects=3)))
    assert none == [] and again.announced == 3


# ---- EventBridge ---------------------------------------------------------------------------------------------------
@pytest.fixture
def aws_env() -> Iterator[dict[str, Any]]:
    """The default bus with a rule written for AWS Backup, its source changed, delivering to an SQS queue."""
    with fake_aws_environment(REGION), mock_aws():
        session = boto3.Session()
        events, sqs = aws.client("events", REGION, session), aws.client("sqs", REGION, session)
        queue = sqs.create_queue(QueueName="failed-backups")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": ["aws.backup"], "detail-type": ["Backup Job State Change"],
                   "detail": {"state": ["FAILED", "ABORTED", "EXPIRED"]}}
        pattern["source"] = [SOURCE]  # the one change an AWS Backup rule needs
        events.put_rule(Name="failed-backups", EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule="failed-backups", Targets=[{"Id": "q", "Arn": queue_arn}])
        yield {"events": events, "sqs": sqs, "queue": queue}


def _received(env: dict[str, Any]) -> list[dict[str, Any]]:
    messages = env["sqs"].receive_message(QueueUrl=env["queue"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_a_rule_written_for_aws_backup_matches_coffers_event_with_only_its_source_changed(
        aws_env: dict[str, Any]) -> None:
    publisher = EventBridgeJobEvents(aws_env["events"], "default", HOME)
    job = failed_job()
    publisher.publish([JobChange(job, 1), JobChange(job, 2), JobChange(job, 3)])
    received = _received(aws_env)
    assert [e["detail"]["state"] for e in received] == ["FAILED"]  # CREATED and RUNNING do not match the rule
    assert received[0]["source"] == "coffer.backup" and received[0]["detail-type"] == "Backup Job State Change"
    assert received[0]["detail"]["backupJobId"] == "job-1" and publisher.calls == 1


def test_changes_are_put_ten_a_call(aws_env: dict[str, Any]) -> None:
    publisher = EventBridgeJobEvents(aws_env["events"], "default", HOME)
    job = failed_job()
    publisher.publish([JobChange(job, 3)] * 23)
    assert publisher.calls == 3


class RefusingEvents:
    """PutEvents that refuses the entries named by their call: the answer EventBridge gives under throttling."""

    def __init__(self, refusals: list[set[int]]) -> None:
        self.refusals = refusals
        self.batches: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        refused = self.refusals.pop(0) if self.refusals else set()
        self.batches.append(Entries)
        results = [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"} if i in refused
                   else {"EventId": f"e{i}"} for i in range(len(Entries))]
        return {"FailedEntryCount": len(refused), "Entries": results}


def test_entries_eventbridge_refuses_are_put_again_and_only_those() -> None:
    client = RefusingEvents([{1}])
    publisher = EventBridgeJobEvents(client, "default", HOME, sleep=lambda _: None)  # type: ignore[arg-type]
    job = failed_job()
    publisher.publish([JobChange(job, 1), JobChange(job, 2), JobChange(job, 3)])
    assert len(client.batches) == 2 and len(client.batches[1]) == 1
    assert json.loads(client.batches[1][0]["Detail"])["state"] == "RUNNING"


def test_an_entry_refused_on_every_attempt_is_named_in_the_error() -> None:
    client = RefusingEvents([{0}] * 5)
    publisher = EventBridgeJobEvents(client, "default", HOME, attempts=5, sleep=lambda _: None)  # type: ignore[arg-type]
    with pytest.raises(JobEventsUndelivered, match=r"Backup Job State Change job-1 \(FAILED\): ThrottlingException"):
        publisher.publish([JobChange(failed_job(), 3)])
    assert len(client.batches) == 5
