"""Job metrics in CloudWatch's embedded metric format: jobs by state, type and vault (what the alarms watch), bytes
and objects protected, copied and reused, restore durations; and the job id as correlation id of every log line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.catalog import RecordingJobEvents

from coffer.adapters.aws_services.job_metrics import AnnouncedAndCounted, EmfJobMetrics
from coffer.domain.job_events import JobChange, announcing
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobKind, JobProgress, JobState, Transition
from coffer.domain.resources import ResourceType
from coffer.entrypoints.lambda_runtime import correlation_id

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def a_job(kind: JobKind = JobKind.BACKUP, vault: str = "Payroll", **changes: Any) -> Job:
    return Job(job_id="job-1", kind=kind, resource_arn="arn:aws:s3:::payroll", resource_type=ResourceType.S3,
               vault_name=vault, recovery_point_id="rp-1", created_at=NOW, start_by=NOW + timedelta(hours=1),
               history=(Transition(state=JobState.CREATED, at=NOW),)).with_changes(**changes)


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]


def metric(blobs: list[dict[str, Any]], name: str, **dimensions: str) -> list[dict[str, Any]]:
    """The blobs of `name` whose dimension set is exactly `dimensions` (plus Powertools' `service`, where the
    function's POWERTOOLS_SERVICE_NAME sets one): what an alarm matches."""
    return [b for b in blobs if name in b
            and set(b["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) - {"service"} == set(dimensions)
            and all(b[k] == v for k, v in dimensions.items())]


def test_a_failed_job_counts_once_by_type_and_state_and_once_more_by_vault(capsys: pytest.CaptureFixture[str]) -> None:
    failed = a_job().to(JobState.RUNNING, NOW).to(JobState.FAILED, NOW + timedelta(minutes=3), "AccessDenied")
    EmfJobMetrics("Coffer").publish([JobChange(failed, 3)])
    blobs = emitted(capsys)
    [alarmed] = metric(blobs, "Jobs", JobType="BACKUP", State="FAILED")
    assert alarmed["Jobs"] == [1.0] and alarmed["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Coffer"
    assert alarmed["_aws"]["Timestamp"] == int((NOW + timedelta(minutes=3)).timestamp() * 1000)  # the clock's time
    assert len(metric(blobs, "Jobs", JobType="BACKUP", State="FAILED", Vault="Payroll")) == 1
    assert not metric(blobs, "BytesProtected", Vault="Payroll")  # a failed backup protects nothing


def test_a_backup_that_ends_counts_what_it_protected_copied_and_reused(capsys: pytest.CaptureFixture[str]) -> None:
    progress = JobProgress(objects=10, objects_copied=3, objects_reused=7, bytes=1000, bytes_copied=300)
    done = a_job(progress=progress).to(JobState.RUNNING, NOW).to(JobState.COMPLETED, NOW)
    EmfJobMetrics("Coffer").publish([JobChange(done, 3)])
    blobs = emitted(capsys)
    assert metric(blobs, "BytesProtected", Vault="Payroll")[0]["BytesProtected"] == [1000.0]
    assert metric(blobs, "ObjectsProtected", Vault="Payroll")[0]["ObjectsProtected"] == [10.0]
    assert metric(blobs, "ObjectsCopied", JobType="BACKUP", Vault="Payroll")[0]["ObjectsCopied"] == [3.0]
    assert metric(blobs, "ObjectsReused", JobType="BACKUP", Vault="Payroll")[0]["ObjectsReused"] == [7.0]
    assert metric(blobs, "BytesCopied", JobType="BACKUP", Vault="Payroll")[0]["BytesCopied"] == [300.0]


def test_a_restore_that_ends_counts_its_duration(capsys: pytest.CaptureFixture[str]) -> None:
    restore = a_job(JobKind.RESTORE).to(JobState.RUNNING, NOW).to(JobState.COMPLETED, NOW + timedelta(minutes=9))
    EmfJobMetrics("Coffer").publish([JobChange(restore, 3)])
    [duration] = metric(emitted(capsys), "RestoreDuration", Vault="Payroll")
    assert duration["RestoreDuration"] == [540.0]
    assert duration["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "RestoreDuration", "Unit": "Seconds"}]


def test_metrics_are_counted_before_the_announcement_and_even_when_it_fails(capsys: pytest.CaptureFixture[str]) -> None:
    events = RecordingJobEvents()
    events.refuse = True
    _, changes = announcing(a_job().to(JobState.EXPIRED, NOW, "not started by its window"))
    with pytest.raises(Exception, match="refused"):
        AnnouncedAndCounted(EmfJobMetrics("Coffer"), events).publish(changes)
    assert len(metric(emitted(capsys), "Jobs", JobType="BACKUP", State="EXPIRED")) == 1


def test_with_metrics_disabled_nothing_is_printed(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # as the twin runs its in-process functions
    EmfJobMetrics("Coffer").publish([JobChange(a_job().to(JobState.FAILED, NOW), 2)])
    assert emitted(capsys) == []


def test_every_invocation_names_its_job_as_the_log_lines_correlation_id() -> None:
    assert correlation_id({"job_id": "job-7"}) == "job-7"
    start = {"event": {"id": "e-1", "detail": {"ResourceArn": "arn:aws:s3:::b", "IdempotencyToken": "tok"}},
             "execution_arn": "arn:x"}
    assert correlation_id(start) == job_id_for("tok")  # the job the start request makes, before it exists
    assert correlation_id({"event": {"id": "e-2", "detail": {}}}) == job_id_for("e-2")
    assert correlation_id({"source": "coffer.backup", "detail": {"restoreJobId": "r-1"}}) == "r-1"
    assert correlation_id({"run_id": "sweep-1"}) is None


def test_a_handlers_log_lines_carry_its_job_id(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    from dataclasses import dataclass

    from coffer.entrypoints.lambda_runtime import lambda_entry, logger

    @dataclass
    class Context:
        function_name: str = "coffer-CheckBackupFunction"
        memory_limit_in_mb: int = 512
        invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:check"
        aws_request_id: str = "request-1"

    @lambda_entry
    def handler(event: dict[str, Any], context: Any) -> None:
        logger.info("polled")
        logger.warning("still running")

    written = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", written)  # the Logger's own handler, as Lambda reads it
    handler({"job_id": "job-42"}, Context())  # type: ignore[arg-type]
    lines = [json.loads(line) for line in written.getvalue().splitlines() if '"message"' in line]
    assert [line["message"] for line in lines] == ["polled", "still running"]
    assert all(line["correlation_id"] == "job-42" for line in lines)


# ---- the alarms watch what the functions print ---------------------------------------------------------------------
def _alarm(name: str) -> dict[str, Any]:
    from pathlib import Path

    from coffer_twin.cfn_yaml import load_template

    template = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
    return dict(template["Resources"][name]["Properties"])


def _fires(alarm: dict[str, Any], blobs: list[dict[str, Any]]) -> bool:
    """Evaluate the alarm's metric math over the EMF lines, as CloudWatch would over one period: each MetricStat
    matched by namespace, name and exact dimension set; the expression a sum of FILL(m, 0)."""
    values: dict[str, float] = {}
    for query in alarm["Metrics"]:
        if "MetricStat" not in query:
            continue
        metric_def = query["MetricStat"]["Metric"]
        dims = {d["Name"]: d["Value"] for d in metric_def["Dimensions"]}
        values[query["Id"]] = sum(
            sum(b[metric_def["MetricName"]]) for b in blobs
            if b["_aws"]["CloudWatchMetrics"][0]["Namespace"] == metric_def["Namespace"]
            and metric_def["MetricName"] in b
            and set(b["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == set(dims)
            and all(b.get(k) == v for k, v in dims.items()))
    [expression] = [q["Expression"] for q in alarm["Metrics"] if q.get("ReturnData")]
    total = sum(values[term.strip()[len("FILL("):].split(",")[0]] for term in expression.split("+"))
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    return total >= float(alarm["Threshold"])


@pytest.mark.parametrize(("state", "kind", "alarm"), [
    (JobState.FAILED, JobKind.BACKUP, "JobsFailedAlarm"), (JobState.ABORTED, JobKind.COPY, "JobsFailedAlarm"),
    (JobState.FAILED, JobKind.RESTORE, "JobsFailedAlarm"), (JobState.EXPIRED, JobKind.BACKUP, "JobsExpiredAlarm"),
    (JobState.PARTIAL, JobKind.BACKUP, "JobsPartialAlarm"), (JobState.PARTIAL, JobKind.RESTORE, "JobsPartialAlarm")])
def test_a_job_that_went_wrong_prints_the_metric_its_alarm_fires_on(capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch, state: JobState,
                                                                   kind: JobKind, alarm: str) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "coffer")  # as the template's Globals set it
    job = a_job(kind)
    job = job.to(state, NOW, "why") if state is JobState.EXPIRED else job.to(JobState.RUNNING, NOW).to(state, NOW)
    EmfJobMetrics("Coffer").publish([JobChange(job, len(job.history))])
    blobs = emitted(capsys)
    assert _fires(_alarm(alarm), blobs)
    others = {"JobsFailedAlarm", "JobsExpiredAlarm", "JobsPartialAlarm"} - {alarm}
    assert not any(_fires(_alarm(other), blobs) for other in others)


def test_a_job_that_went_well_fires_no_alarm(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "coffer")
    job = a_job().to(JobState.RUNNING, NOW).to(JobState.COMPLETED, NOW)
    EmfJobMetrics("Coffer").publish([JobChange(job, 2), JobChange(job, 3)])
    blobs = emitted(capsys)
    assert not any(_fires(_alarm(a), blobs) for a in ("JobsFailedAlarm", "JobsExpiredAlarm", "JobsPartialAlarm"))


def test_every_alarm_tells_the_notification_topic_and_the_dashboard_shows_them() -> None:
    from pathlib import Path

    from coffer_twin.cfn_yaml import load_template

    resources = load_template(Path(__file__).resolve().parents[2] / "template.yaml")["Resources"]
    alarms = {k: v for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {"JobsFailedAlarm", "JobsExpiredAlarm", "JobsPartialAlarm", "WorkflowExecutionsFailedAlarm",
                           "VerifyProblemsAlarm", "LambdaErrorsAlarm", "LambdaThrottlesAlarm", "NotifierErrorsAlarm",
                           "MissedSchedulesAlarm", "ExpiryBlockedAlarm", "AuditChainBrokenAlarm"}
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "NotificationTopic"}], name
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching", name
    body = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for alarm in alarms.values():  # each alarm in the alarm widget, by the ARN its name gives it
        name = alarm["Properties"]["AlarmName"]["Fn::Sub"]
        assert f"alarm:{name}" in body, name
    for shown in ('MetricName=\\"Jobs\\"', "BytesProtected", "RestoreDuration", "RecoveryPointsExpired",
                  "OldestRecoveryPointAgeHours", "MissedSchedules", "ExpiryBlocked"):
        assert shown in body, shown
