"""Bad input, generated: every broken request, step payload and plan document is refused with InvalidInput
naming the field; valid ones are accepted; nothing raises anything else.

Each generator builds a valid document, then (or not) applies one breakage from a list that says which field
it breaks; the refusal must name that field. Arbitrary JSON is thrown at the same parsers as well. These run
on the pure models, as the handlers call them (``coffer.entrypoints.lambda_runtime.parse``); test_handlers
sends a handful of the same through the real handlers on the twin and checks that nothing is written.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coffer.domain.errors import InvalidInput
from coffer.domain.plans import read_documents
from coffer.domain.steps import BatchStep, FailStep, JobStep, ListBatchesStep
from coffer.entrypoints.events import StartBackupJobInvocation, StartRestoreJobInvocation
from coffer.entrypoints.lambda_runtime import parse

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12)

names = st.from_regex(r"[a-z][a-z0-9-]{2,20}", fullmatch=True)
#: S3's naming rules: no hyphen last, none doubled, none of its reserved prefixes (input_rules/arns.py)
bucket_names = st.from_regex(r"[a-z][a-z0-9]{2,10}(-[a-z0-9]{1,6})?", fullmatch=True).filter(
    lambda n: not n.startswith("sthree"))
resource_arns = st.one_of(
    bucket_names.map(lambda n: f"arn:aws:s3:::{n}"),
    names.map(lambda n: f"arn:aws:dynamodb:us-east-1:123456789012:table/{n}"),
    st.from_regex(r"vol-[0-9a-f]{8}", fullmatch=True).map(lambda v: f"arn:aws:ec2:us-east-1:123456789012:volume/{v}"))


@st.composite
def backup_details(draw: st.DrawFn) -> dict[str, Any]:
    detail: dict[str, Any] = {"ResourceArn": draw(resource_arns)}
    if draw(st.booleans()):
        detail["IdempotencyToken"] = draw(st.text(min_size=1, max_size=64))
    if draw(st.booleans()):
        detail["BackupVaultName"] = draw(st.from_regex(r"[A-Za-z0-9_-]{2,50}", fullmatch=True))
    start = draw(st.integers(60, 10_000))
    if draw(st.booleans()):
        detail["StartWindowMinutes"] = start
        detail["CompleteWindowMinutes"] = draw(st.integers(start, 20_000))
    if draw(st.booleans()):
        cold = draw(st.none() | st.integers(1, 1000))
        lifecycle: dict[str, Any] = {}
        if cold is not None:
            lifecycle["MoveToColdStorageAfterDays"] = cold
        if draw(st.booleans()):
            lifecycle["DeleteAfterDays"] = draw(st.integers((cold or 0) + 90 if cold else 1, 5000))
        detail["Lifecycle"] = lifecycle
    if draw(st.booleans()):
        detail["RecoveryPointTags"] = draw(st.dictionaries(names, st.text(max_size=10), max_size=3))
    return detail


Breakage = tuple[str, Callable[[dict[str, Any]], None]]

#: (the field a refusal must name, how to break a valid StartBackupJob detail)
BACKUP_BREAKAGES: list[Breakage] = [
    ("ResourceArn", lambda d: d.pop("ResourceArn")),
    ("ResourceArn", lambda d: d.update(ResourceArn="not-an-arn")),
    ("ResourceArn", lambda d: d.update(ResourceArn="arn:aws:sqs:us-east-1:123456789012:queue")),
    ("ResourceArn", lambda d: d.update(ResourceArn=42)),
    ("BackupVaultName", lambda d: d.update(BackupVaultName="no spaces allowed")),
    ("BackupVaultName", lambda d: d.update(BackupVaultName="x")),
    ("IdempotencyToken", lambda d: d.update(IdempotencyToken="")),
    ("IdempotencyToken", lambda d: d.update(IdempotencyToken="t" * 257)),
    ("StartWindowMinutes", lambda d: d.update(StartWindowMinutes=59)),
    ("StartWindowMinutes", lambda d: d.update(StartWindowMinutes="soon")),
    ("CompleteWindowMinutes", lambda d: d.update(StartWindowMinutes=120, CompleteWindowMinutes=90)),
    ("DeleteAfterDays", lambda d: d.update(Lifecycle={"DeleteAfterDays": 0})),
    ("DeleteAfterDays", lambda d: d.update(Lifecycle={"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 100})),
    ("DeleteAfterDay", lambda d: d.update(Lifecycle={"DeleteAfterDay": 7})),
    ("RecoveryPointTags", lambda d: d.update(RecoveryPointTags={"k": 1})),
    ("RecoveryPointTags", lambda d: d.update(RecoveryPointTags=["k", "v"])),
    ("ResourceARN", lambda d: d.update(ResourceARN="arn:aws:s3:::typo")),
]

RESTORE_BREAKAGES: list[Breakage] = [
    ("RecoveryPointArn", lambda d: d.pop("RecoveryPointArn")),
    ("RecoveryPointArn", lambda d: d.update(RecoveryPointArn="")),
    ("RecoveryPointArn", lambda d: d.update(RecoveryPointArn=["a"])),
    ("RecoveryPointArn", lambda d: d.update(RecoveryPointArn="x" * 3000)),
    ("RecoveryPointArn", lambda d: d.update(RecoveryPointArn="arn:aws:backup:us-east-1:1:recovery-point:x")),
    ("Metadata", lambda d: d.update(Metadata={"DestinationBucketName": 7})),
    ("Metadata", lambda d: d.update(Metadata="bucket")),
    ("IdempotencyToken", lambda d: d.update(IdempotencyToken="")),
    ("Metadatas", lambda d: d.update(Metadatas={})),
]


def envelope(detail_type: str, detail: Any) -> dict[str, Any]:
    return {"version": "0", "id": "fuzz-event", "detail-type": detail_type, "source": "coffer",
            "account": "123456789012", "time": "2026-11-25T10:00:00Z", "region": "us-east-1",
            "resources": [], "detail": detail}


def refused_naming(field: str, call: Callable[[], Any]) -> None:
    try:
        call()
    except InvalidInput as error:
        assert any(field in problem for problem in error.problems), (field, error.problems)
        return
    raise AssertionError(f"accepted, though {field} was broken")


@FAST
@given(backup_details(), st.none() | st.sampled_from(BACKUP_BREAKAGES))
def test_start_backup_job_events(detail: dict[str, Any], breakage: Breakage | None) -> None:
    event = {"event": envelope("StartBackupJob", detail), "execution_arn": "arn:aws:states:x"}
    if breakage is None:
        parsed = parse(StartBackupJobInvocation, event)
        assert parsed.event.detail.resource_arn == detail["ResourceArn"]
        return
    field, brk = breakage
    broken = copy.deepcopy(event)
    brk(broken["event"]["detail"])
    refused_naming(field, lambda: parse(StartBackupJobInvocation, broken))


recovery_point_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True)
recovery_points = recovery_point_ids | recovery_point_ids.map(
    lambda i: f"arn:aws:backup:us-east-1:123456789012:recovery-point:{i}")


@FAST
@given(st.fixed_dictionaries({"RecoveryPointArn": recovery_points},
                             optional={"Metadata": st.dictionaries(names, st.text(max_size=20), max_size=3),
                                       "IdempotencyToken": st.text(min_size=1, max_size=64)}),
       st.none() | st.sampled_from(RESTORE_BREAKAGES))
def test_start_restore_job_events(detail: dict[str, Any], breakage: Breakage | None) -> None:
    event = {"event": envelope("StartRestoreJob", detail)}
    if breakage is None:
        assert parse(StartRestoreJobInvocation, event).event.detail.metadata == detail.get("Metadata", {})
        return
    field, brk = breakage
    broken = copy.deepcopy(event)
    brk(broken["event"]["detail"])
    refused_naming(field, lambda: parse(StartRestoreJobInvocation, broken))


@FAST
@given(json_values, st.sampled_from([StartBackupJobInvocation, StartRestoreJobInvocation, JobStep, ListBatchesStep,
                                     BatchStep, FailStep]))
def test_arbitrary_json_is_parsed_or_refused_never_crashes(value: Any, model: Any) -> None:
    for candidate in (value, {"event": envelope("StartBackupJob", value)}, {"job_id": value, "batch_key": value}):
        try:
            parse(model, candidate)
        except InvalidInput as error:
            assert error.problems and all(": " in p for p in error.problems)


STEP_BREAKAGES: list[tuple[Any, dict[str, Any], str]] = [
    (JobStep, {}, "job_id"),
    (JobStep, {"job_id": ""}, "job_id"),
    (JobStep, {"job_id": 3}, "job_id"),
    (ListBatchesStep, {"job_id": "j", "next_seq": -1}, "next_seq"),
    (ListBatchesStep, {"job_id": "j", "token": 5}, "token"),
    (BatchStep, {"job_id": "j"}, "batch_key"),
    (BatchStep, {"job_id": "j", "batch_key": ""}, "batch_key"),
    (FailStep, {"job_id": "j", "error": "boom"}, "error"),
    (FailStep, {"job_id": "j", "event": "not-an-event"}, "event"),
]


@FAST
@given(st.sampled_from(STEP_BREAKAGES), st.dictionaries(st.sampled_from(["Payload", "extra", "map"]), json_values,
                                                        max_size=2))
def test_broken_step_payloads_are_refused_naming_the_field(case: tuple[Any, dict[str, Any], str],
                                                          extra: dict[str, Any]) -> None:
    model, payload, field = case
    refused_naming(field, lambda: parse(model, {**extra, **payload}))


# ---- plan documents ----------------------------------------------------------------------------------
SCHEDULES = ["cron(0 5 ? * * *)", "cron(30 2 ? * MON-FRI *)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)"]


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    rule_names = draw(st.lists(st.from_regex(r"[a-zA-Z0-9_.-]{1,20}", fullmatch=True), min_size=1, max_size=3,
                               unique=True))
    rules = []
    for name in rule_names:
        start = draw(st.integers(60, 600))
        vault = draw(st.from_regex(r"[a-zA-Z0-9_-]{2,30}", fullmatch=True))
        rule: dict[str, Any] = {"RuleName": name, "TargetBackupVaultName": vault,
                                "ScheduleExpression": draw(st.sampled_from(SCHEDULES)), "StartWindowMinutes": start,
                                "CompletionWindowMinutes": start + draw(st.integers(60, 10_000))}
        if draw(st.booleans()):
            rule["Lifecycle"] = {"DeleteAfterDays": draw(st.integers(1, 3650))}
        rules.append(rule)
    plan: dict[str, Any] = {"BackupPlan": {"BackupPlanName": draw(st.from_regex(r"[a-zA-Z0-9_.-]{1,30}",
                                                                                 fullmatch=True)), "Rules": rules}}
    if draw(st.booleans()):
        plan["Selections"] = [{"SelectionName": "everything-s3", "IamRoleArn": "arn:aws:iam::123456789012:role/b",
                               "Resources": ["arn:aws:s3:::*"]}]
    return plan


PLAN_BREAKAGES: list[Breakage] = [
    ("BackupPlanName", lambda d: d["BackupPlan"].update(BackupPlanName="no spaces")),
    ("BackupPlan.Rules", lambda d: d["BackupPlan"].update(Rules=[])),
    ("RuleName", lambda d: d["BackupPlan"]["Rules"][0].update(RuleName="bad name!")),
    ("RuleName", lambda d: d["BackupPlan"]["Rules"].append(copy.deepcopy(d["BackupPlan"]["Rules"][0]))),
    ("TargetBackupVaultName", lambda d: d["BackupPlan"]["Rules"][0].update(TargetBackupVaultName="v")),
    ("ScheduleExpression", lambda d: d["BackupPlan"]["Rules"][0].update(ScheduleExpression="cron(bad)")),
    ("ScheduleExpression", lambda d: d["BackupPlan"]["Rules"][0].update(ScheduleExpression="rate(5 minutes)")),
    ("StartWindowMinutes", lambda d: d["BackupPlan"]["Rules"][0].update(StartWindowMinutes=10)),
    ("CompletionWindowMinutes", lambda d: d["BackupPlan"]["Rules"][0].update(CompletionWindowMinutes=1)),
    ("DeleteAfterDays", lambda d: d["BackupPlan"]["Rules"][0].update(Lifecycle={"DeleteAfterDays": 0})),
    ("Schedule", lambda d: d["BackupPlan"]["Rules"][0].update(Schedule="daily")),
    ("IamRoleArn", lambda d: d.setdefault("Selections", [{"SelectionName": "s", "Resources": ["*"]}])[0].update(
        IamRoleArn="not-a-role")),
    ("Selections", lambda d: d.update(Selections="all")),
]


@FAST
@given(plans(), st.none() | st.sampled_from(PLAN_BREAKAGES))
def test_plan_documents(document: dict[str, Any], breakage: Breakage | None) -> None:
    if breakage is None:
        assert read_documents([("plan.yaml", document)]).name == document["BackupPlan"]["BackupPlanName"]
        return
    field, brk = breakage
    broken = copy.deepcopy(document)
    brk(broken)
    refused_naming(field, lambda: read_documents([("plan.yaml", broken)]))


@FAST
@given(json_values)
def test_arbitrary_plan_documents_are_read_or_refused_never_crash(value: Any) -> None:
    for candidate in (value, {"BackupPlan": value}, {"BackupPlan": {"BackupPlanName": "p", "Rules": value}}):
        try:
            read_documents([("plan.yaml", candidate)])
        except InvalidInput as error:
            assert error.problems
