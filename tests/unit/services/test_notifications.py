"""The notifier: by default what went wrong, to the stack's topic; with a vault's settings (AWS Backup's
BackupVaultEvents), exactly what they list, to their topic; a message that says what, which resource, why, and the
command to look further. Vault settings are refused naming the field and the rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.catalog import MemoryTable, MemoryVaultNotifications, MemoryVaultRecords, RecordingNotices

from coffer.domain.clock import FixedClock
from coffer.domain.errors import InvalidInput, NotFound
from coffer.domain.input_rules.arns import Home
from coffer.domain.job_events import JobChange, render
from coffer.domain.jobs import Job, JobKind, JobProgress, JobState, Transition
from coffer.domain.notifications import VaultEvent, VaultNotifications, vault_events_of
from coffer.domain.resources import ResourceType
from coffer.services.notifications import Notifier, VaultNotificationSettings
from coffer.services.vaults import Vaults
from coffer.settings import Settings

TOPIC = "arn:aws:sns:eu-west-1:123456789012:coffer-notifications"
VAULT_TOPIC = "arn:aws:sns:eu-west-1:123456789012:payroll-team"
HOME = Home(partition="aws", region="eu-west-1", account_id="123456789012")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def job_event(state: JobState, kind: JobKind = JobKind.BACKUP, vault: str = "Default", reason: str = "why",
              progress: JobProgress | None = None) -> dict[str, Any]:
    job = Job(job_id="job-1", kind=kind, resource_arn="arn:aws:s3:::payroll", resource_type=ResourceType.S3,
              vault_name=vault, recovery_point_id="rp-1", created_at=NOW, start_by=NOW + timedelta(hours=1),
              progress=progress or JobProgress(), history=(Transition(state=JobState.CREATED, at=NOW),))
    if state is not JobState.CREATED:
        if state not in (JobState.EXPIRED, JobState.PENDING):
            job = job.to(JobState.RUNNING, NOW, "started")
        if state is not JobState.RUNNING:
            job = job.to(state, NOW, reason)
    event = render(JobChange(job, len(job.history)), HOME)
    return {"source": "coffer.backup", "detail-type": event.detail_type, "detail": event.detail}


@pytest.fixture
def world() -> tuple[Notifier, RecordingNotices, MemoryVaultNotifications, VaultNotificationSettings]:
    store, notices = MemoryVaultNotifications(), RecordingNotices()
    settings = Settings(catalog_table="t", vault_bucket="v", work_bucket="w",
                        vault_key_arn="arn:aws:kms:eu-west-1:123456789012:key/k", region="eu-west-1")
    vaults = Vaults(MemoryVaultRecords(MemoryTable()), settings, FixedClock(NOW))
    return Notifier(store, notices, TOPIC, "coffer"), notices, store, VaultNotificationSettings(store, vaults)


@pytest.mark.parametrize("state", [JobState.FAILED, JobState.EXPIRED, JobState.ABORTED, JobState.PARTIAL])
def test_by_default_a_job_that_went_wrong_is_told_to_the_stacks_topic(world: Any, state: JobState) -> None:
    notifier, notices, _, _ = world
    result = notifier.notify(job_event(state, reason="AccessDenied: s3:GetObject on payroll/2026.csv"))
    assert result.sent_to == [TOPIC]
    topic, notice = notices.published[0]
    assert topic == TOPIC and state.value in notice.subject and len(notice.subject) < 100
    # what, which resource, why, and the command to look further
    assert f"Coffer backup job job-1 {state.value}." in notice.message
    assert "Resource: arn:aws:s3:::payroll (S3)" in notice.message
    assert "Why: AccessDenied: s3:GetObject on payroll/2026.csv" in notice.message
    assert "Look further: coffer jobs describe job-1 --stack coffer" in notice.message


@pytest.mark.parametrize("state", [JobState.CREATED, JobState.RUNNING, JobState.COMPLETED])
def test_by_default_a_job_that_goes_well_is_not_told(world: Any, state: JobState) -> None:
    notifier, notices, _, _ = world
    assert notifier.notify(job_event(state)).sent_to == [] and notices.published == []


def test_a_job_completed_with_issues_is_told_by_default(world: Any) -> None:
    notifier, notices, _, _ = world
    event = job_event(JobState.COMPLETED, progress=JobProgress(objects=10, failed_keys=["a.csv"]))
    assert notifier.notify(event).sent_to == [TOPIC]
    assert "COMPLETED with issues" in notices.published[0][1].message
    assert "Objects not copied: 1 of 10" in notices.published[0][1].message


def test_a_vaults_settings_send_exactly_the_events_they_list_to_their_topic(world: Any) -> None:
    notifier, notices, _, admin = world
    admin.put({"BackupVaultName": "Default", "SNSTopicArn": VAULT_TOPIC,
               "BackupVaultEvents": ["BACKUP_JOB_STARTED", "RESTORE_JOB_FAILED"]})
    assert notifier.notify(job_event(JobState.RUNNING)).sent_to == [VAULT_TOPIC]
    # a FAILED backup is not among them: the settings replace the defaults, as AWS Backup's do
    assert notifier.notify(job_event(JobState.FAILED)).sent_to == []
    assert notifier.notify(job_event(JobState.FAILED, JobKind.RESTORE)).sent_to == [VAULT_TOPIC]
    assert [topic for topic, _ in notices.published] == [VAULT_TOPIC, VAULT_TOPIC]


class CountingSettings(MemoryVaultNotifications):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, vault_name: str) -> Any:
        self.reads += 1
        return super().get(vault_name)


@pytest.mark.parametrize("state", [JobState.CREATED, JobState.PENDING])
def test_an_event_no_setting_can_ask_for_is_dropped_without_reading_the_settings(state: JobState) -> None:
    """A vault whose settings list every BackupVaultEvent still hears nothing of a CREATED or PENDING job (AWS
    Backup's events have no such state): the notifier drops it before the settings' read it would cost per job.
    Every other state is still read and sent."""
    store, notices = CountingSettings(), RecordingNotices()
    notifier = Notifier(store, notices, TOPIC, "coffer")
    store.put(VaultNotifications.model_validate({"BackupVaultName": "Default", "SNSTopicArn": VAULT_TOPIC,
                                                 "BackupVaultEvents": [e.value for e in VaultEvent]}))
    assert notifier.notify(job_event(state)).sent_to == [] and notices.published == [] and store.reads == 0
    assert notifier.notify(job_event(JobState.RUNNING)).sent_to == [VAULT_TOPIC] and store.reads == 1
    assert notifier.notify(job_event(JobState.COMPLETED)).sent_to == [VAULT_TOPIC] and store.reads == 2


def test_settings_without_a_topic_use_the_stacks_and_deleting_them_brings_the_defaults_back(world: Any) -> None:
    notifier, _, _, admin = world
    admin.put({"BackupVaultName": "Default", "BackupVaultEvents": ["BACKUP_JOB_SUCCESSFUL"]})
    assert notifier.notify(job_event(JobState.COMPLETED)).sent_to == [TOPIC]
    assert notifier.notify(job_event(JobState.FAILED)).sent_to == []
    assert admin.delete("Default") is True and admin.get("Default") is None
    assert notifier.notify(job_event(JobState.FAILED)).sent_to == [TOPIC]


def test_aws_backups_event_names_mean_what_they_mean_there() -> None:
    def names(state: JobState, kind: JobKind = JobKind.BACKUP) -> set[VaultEvent]:
        event = job_event(state, kind)
        return vault_events_of(event["detail-type"], event["detail"])

    assert names(JobState.COMPLETED) == {VaultEvent.BACKUP_JOB_COMPLETED, VaultEvent.BACKUP_JOB_SUCCESSFUL}
    assert names(JobState.FAILED) == {VaultEvent.BACKUP_JOB_COMPLETED, VaultEvent.BACKUP_JOB_FAILED}
    assert names(JobState.PARTIAL) == {VaultEvent.BACKUP_JOB_COMPLETED, VaultEvent.BACKUP_JOB_FAILED,
                                       VaultEvent.S3_BACKUP_OBJECT_FAILED}
    assert names(JobState.EXPIRED) == {VaultEvent.BACKUP_JOB_EXPIRED}
    assert names(JobState.FAILED, JobKind.COPY) == {VaultEvent.COPY_JOB_FAILED}
    assert names(JobState.RUNNING, JobKind.RESTORE) == {VaultEvent.RESTORE_JOB_STARTED}


def test_bad_settings_are_refused_naming_the_field_and_the_rule(world: Any) -> None:
    _, _, store, admin = world
    with pytest.raises(InvalidInput) as bad:
        admin.put({"BackupVaultName": "Default", "BackupVaultEvents": ["BACKUP_JOB_EXPLODED"],
                   "SNSTopicArn": "arn:aws:sqs:eu-west-1:123456789012:q"})
    text = "; ".join(bad.value.problems)
    assert "BackupVaultEvents.0" in text and "BACKUP_JOB_FAILED" in text
    assert "SNSTopicArn" in text and "is not an SNS topic ARN" in text
    with pytest.raises(InvalidInput, match="BackupVaultEvents"):
        admin.put({"BackupVaultName": "Default", "BackupVaultEvents": []})
    with pytest.raises(NotFound, match="vault Nope does not exist"):
        admin.put({"BackupVaultName": "Nope", "BackupVaultEvents": ["BACKUP_JOB_FAILED"]})
    assert store.settings == {}


def test_a_failed_verify_run_is_told_with_its_findings_and_the_command_to_look_further(world: Any) -> None:
    notifier, notices, _, _ = world
    execution = "arn:aws:states:eu-west-1:123456789012:execution:coffer-verify:weekly"
    event = {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
             "detail": {"status": "FAILED", "executionArn": execution, "error": "VaultVerifyFailed",
                        "cause": "2 objects missing, 1 altered in vault Default"}}
    assert notifier.notify(event).sent_to == [TOPIC]
    notice = notices.published[0][1]
    assert notice.subject == "Coffer: Vault verify found problems in the vault"
    assert "Why: VaultVerifyFailed: 2 objects missing, 1 altered in vault Default" in notice.message
    assert "coffer vault verify --stack coffer" in notice.message and execution in notice.message


def test_an_event_from_elsewhere_is_never_told(world: Any) -> None:
    notifier, notices, _, _ = world
    forged = {"source": "aws.backup", "detail-type": "Backup Job State Change", "detail": {"state": "FAILED"}}
    assert notifier.notify(forged).sent_to == [] and notices.published == []


def test_a_subject_is_cut_under_the_100_characters_sns_allows_and_says_so() -> None:
    from coffer.domain.notifications import subject_line

    long = subject_line("Coffer backup job job-1 FAILED: arn:aws:s3:::" + "a" * 200)
    assert len(long) == 99 and long.endswith("…")  # SNS: "less than 100 characters long"
    assert subject_line("Coffer:\n  one   line") == "Coffer: one line"
