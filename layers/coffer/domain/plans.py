"""Backup plans and selections: AWS Backup's own documents, read, checked by AWS Backup's rules and written back.

The models carry botocore's ``backup`` field names and casing (``BackupPlanInput``, ``BackupRuleInput``,
``BackupSelection``...). Every field is optional where AWS's model has it optional and unset fields stay
unset, so a document read and exported again is the document that was read (``CreatorRequestId``, an API
call's token rather than part of the plan, is the one field not kept).

A Coffer plan file (YAML or JSON) is a ``CreateBackupPlan`` input plus the plan's selections::

    BackupPlan: {BackupPlanName: ..., Rules: [...]}      # CreateBackupPlan's BackupPlan, unchanged
    BackupPlanTags: {...}                                 # optional, as in CreateBackupPlan
    Selections: [{SelectionName: ..., Conditions: ...}]   # CreateBackupSelection's BackupSelection, unchanged

:func:`read_documents` also takes AWS's documents as they are: a ``CreateBackupPlan`` input, a bare
``BackupPlan`` body, ``CreateBackupSelection`` inputs and bare ``BackupSelection`` bodies, one per file.

Checking happens in two passes, both naming the field (``BackupPlan.Rules[1].Lifecycle``): the models (types,
unknown fields, AWS's patterns) and then the rules that span fields (schedules, windows, continuous
backup, copy actions, unique names, tags).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_pascal

from coffer.domain.errors import InvalidInput
from coffer.domain.input_rules.arns import length_problem, protected_type, resource_arn_problems
from coffer.domain.input_rules.scalars import Flag, WholeNumber
from coffer.domain.input_rules.schedules import schedule_problems
from coffer.domain.input_rules.tags import tag_problems
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.schedules import DEFAULT_SCHEDULE, RateSchedule, Schedule, ScheduleError, parse_schedule

_AWS = ConfigDict(frozen=True, alias_generator=to_pascal, populate_by_name=True, extra="forbid")

NAME_PATTERN = r"^[a-zA-Z0-9\-\_\.]{1,50}$"
VAULT_NAME_PATTERN = r"^[a-zA-Z0-9\-\_]{2,50}$"
#: AWS Backup: both windows at most 100 years
MAX_WINDOW_MINUTES = 52_560_000
DEFAULT_START_WINDOW_MINUTES = 60  # DESIGN.md (AWS Backup's console proposes 480)
DEFAULT_COMPLETION_WINDOW_MINUTES = 10_080  # AWS Backup's default: 7 days
CONTINUOUS_RETENTION_DAYS = (1, 35)
_VAULT_ARN = re.compile(r"^arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:backup-vault:[a-zA-Z0-9\-\_]{2,50}$")
_AIR_GAPPED_ARN = _VAULT_ARN
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
TAG_KEY_PREFIX = "aws:ResourceTag/"
_IDS = uuid.UUID("6c6f6666-6572-4a6f-6273-000000000004")


# ---- the documents -------------------------------------------------------------------------------
class ConditionParameter(BaseModel):
    model_config = _AWS

    condition_key: str = Field(min_length=1)
    condition_value: str


class Conditions(BaseModel):
    """Tag conditions, all of which must hold (AND)."""

    model_config = _AWS

    string_equals: list[ConditionParameter] | None = None
    string_not_equals: list[ConditionParameter] | None = None
    string_like: list[ConditionParameter] | None = None
    string_not_like: list[ConditionParameter] | None = None


class TagCondition(BaseModel):
    """One entry of ListOfTags (AWS: only STRINGEQUALS); any one of them selects a resource (OR)."""

    model_config = _AWS

    condition_type: Literal["STRINGEQUALS"]
    condition_key: str = Field(min_length=1)
    condition_value: str


class BackupSelection(BaseModel):
    model_config = _AWS

    selection_name: str = Field(pattern=NAME_PATTERN)
    #: AWS requires it (the role AWS Backup assumes); Coffer's functions use their own roles and keep it as given
    iam_role_arn: str | None = None
    resources: list[str] | None = None
    list_of_tags: list[TagCondition] | None = None
    not_resources: list[str] | None = None
    conditions: Conditions | None = None


class CopyAction(BaseModel):
    model_config = _AWS

    lifecycle: Lifecycle | None = None
    destination_backup_vault_arn: str


class IndexAction(BaseModel):
    model_config = _AWS

    resource_types: list[str] | None = None


class ScanAction(BaseModel):
    model_config = _AWS

    malware_scanner: Literal["GUARDDUTY"] | None = None
    scan_mode: Literal["FULL_SCAN", "INCREMENTAL_SCAN"] | None = None


class ScanSetting(BaseModel):
    model_config = _AWS

    malware_scanner: Literal["GUARDDUTY"] | None = None
    resource_types: list[str] | None = None
    scanner_role_arn: str | None = None


class AdvancedBackupSetting(BaseModel):
    model_config = _AWS

    resource_type: str | None = None
    backup_options: dict[str, str] | None = None


class BackupRule(BaseModel):
    """AWS Backup's BackupRuleInput."""

    model_config = _AWS

    rule_name: str = Field(pattern=NAME_PATTERN)
    target_backup_vault_name: str = Field(pattern=VAULT_NAME_PATTERN)
    target_logically_air_gapped_backup_vault_arn: str | None = None
    schedule_expression: str | None = None
    start_window_minutes: WholeNumber | None = None
    completion_window_minutes: WholeNumber | None = None
    lifecycle: Lifecycle | None = None
    recovery_point_tags: dict[str, str] | None = None
    copy_actions: list[CopyAction] | None = None
    enable_continuous_backup: Flag | None = None
    schedule_expression_timezone: str | None = None
    index_actions: list[IndexAction] | None = None
    scan_actions: list[ScanAction] | None = None

    # What the rule means when a field is unset (AWS Backup's defaults).
    @property
    def effective_schedule(self) -> str:
        return self.schedule_expression or DEFAULT_SCHEDULE

    @property
    def effective_start_window(self) -> int:
        return self.start_window_minutes or DEFAULT_START_WINDOW_MINUTES

    @property
    def effective_completion_window(self) -> int:
        return self.completion_window_minutes or DEFAULT_COMPLETION_WINDOW_MINUTES

    @property
    def effective_lifecycle(self) -> Lifecycle:
        return self.lifecycle or Lifecycle()

    def schedule(self) -> Schedule:
        return parse_schedule(self.effective_schedule, self.schedule_expression_timezone)


class BackupPlan(BaseModel):
    """AWS Backup's BackupPlanInput."""

    model_config = _AWS

    backup_plan_name: str = Field(pattern=NAME_PATTERN)
    rules: list[BackupRule] = Field(min_length=1)
    advanced_backup_settings: list[AdvancedBackupSetting] | None = None
    scan_settings: list[ScanSetting] | None = None

    def rule(self, name: str) -> BackupRule | None:
        return next((r for r in self.rules if r.rule_name == name), None)


class PlanDocument(BaseModel):
    """A plan as Coffer keeps it: CreateBackupPlan's input plus the plan's selections."""

    model_config = _AWS

    backup_plan: BackupPlan
    backup_plan_tags: dict[str, str] | None = None
    selections: list[BackupSelection] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return self.backup_plan.backup_plan_name

    @property
    def plan_id(self) -> str:
        return plan_id_for(self.name)

    def selection(self, name: str) -> BackupSelection | None:
        return next((s for s in self.selections if s.selection_name == name), None)

    # ---- export ---------------------------------------------------------------------------------
    def to_document(self) -> dict[str, Any]:
        """The Coffer plan file (YAML/JSON) for this plan."""
        document = self.create_backup_plan_input()
        if self.selections:
            document["Selections"] = [_dump(s) for s in self.selections]
        return document

    def create_backup_plan_input(self) -> dict[str, Any]:
        """AWS Backup's CreateBackupPlan input (`aws backup create-backup-plan --cli-input-json`)."""
        document: dict[str, Any] = {"BackupPlan": _dump(self.backup_plan)}
        if self.backup_plan_tags is not None:
            document["BackupPlanTags"] = dict(self.backup_plan_tags)
        return document

    def create_backup_selection_inputs(self, backup_plan_id: str | None = None) -> list[dict[str, Any]]:
        """AWS Backup's CreateBackupSelection inputs, one per selection."""
        plan_id = backup_plan_id or self.plan_id
        return [{"BackupPlanId": plan_id, "BackupSelection": _dump(s)} for s in self.selections]

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_document(), sort_keys=True).encode()).hexdigest()


def _dump(model: BaseModel) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def plan_id_for(plan_name: str) -> str:
    """Coffer's BackupPlanId: stable per name, so a plan applied twice keeps its id."""
    return str(uuid.uuid5(_IDS, f"plan:{plan_name}"))


# ---- reading ---------------------------------------------------------------------------------------
def _path(loc: Sequence[int | str], prefix: str = "") -> str:
    """('BackupPlan', 'Rules', 1, 'Lifecycle') -> 'BackupPlan.Rules[1].Lifecycle', after `prefix`."""
    label, _, base = prefix.rpartition(": ")
    text = base
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return f"{label}: {text or '(document)'}" if label else text or "(document)"


def _problems(error: ValidationError, prefix: str) -> list[str]:
    problems = []
    for item in error.errors():
        loc = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "is not a field AWS Backup knows here (check its spelling and casing)"
        elif item["type"] == "string_pattern_mismatch":
            message = f"'{item.get('input')}' does not match {item['ctx']['pattern']}"
        problems.append(f"{_path(loc, prefix)}: {message}")
    return problems


def _parse(model: type[BaseModel], data: Any, prefix: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(_problems(error, prefix)) from None


_PLAN_KEYS = {"BackupPlan", "BackupPlanTags", "CreatorRequestId", "Selections"}
_SELECTION_INPUT_KEYS = {"BackupPlanId", "BackupSelection", "CreatorRequestId"}


def read_documents(documents: Iterable[tuple[str, Any]], now: datetime | None = None) -> PlanDocument:
    """One plan from (label, parsed YAML/JSON) pairs: exactly one plan document and any number of selection
    documents, in any of the shapes the module docstring lists. Raises InvalidInput naming every bad field
    (prefixed with the document's label); checks AWS Backup's rules as well (:func:`check_plan`; given `now`,
    that every schedule fires again after it)."""
    plan: PlanDocument | None = None
    plan_label = ""
    selections: list[tuple[str, BackupSelection]] = []
    problems: list[str] = []
    for label, data in documents:
        try:
            kind = _kind(label, data)
            if kind in ("plan", "plan-body"):
                if plan is not None:
                    raise InvalidInput([f"{label}: a second backup plan ({_name_in(data)}); apply one plan at a time"])
                body = data if kind == "plan" else {"BackupPlan": data}
                fields = {k: v for k, v in body.items() if k != "CreatorRequestId"}
                plan, plan_label = _parse(PlanDocument, fields, f"{label}: "), label
            else:
                where = f"{label}: BackupSelection" if kind == "selection-input" else f"{label}: "
                body = data["BackupSelection"] if kind == "selection-input" else data
                selections.append((where, _parse(BackupSelection, body, where)))
        except InvalidInput as error:
            problems.extend(error.problems)
    if problems:
        raise InvalidInput(problems)
    if plan is None:
        raise InvalidInput(["BackupPlan: no backup plan among the documents (a plan file, a CreateBackupPlan "
                            "input or a BackupPlan body is needed)"])
    paths = {n: f"Selections[{n}]" for n in range(len(plan.selections))}
    if selections:
        paths.update({len(plan.selections) + n: where for n, (where, _) in enumerate(selections)})
        plan = plan.model_copy(update={"selections": [*plan.selections, *(s for _, s in selections)]})
    try:
        check_plan(plan, paths, now)
    except InvalidInput as error:
        raise InvalidInput([f"{plan_label}: {p}" if p.startswith(("BackupPlan", "Selections[")) else p
                            for p in error.problems]) from None
    return plan


def _kind(label: str, data: Any) -> str:
    if not isinstance(data, dict):
        raise InvalidInput([f"{label}: a plan or selection document is a mapping (JSON object), "
                            f"not {type(data).__name__}"])
    keys = set(data)
    if "BackupPlan" in keys:
        unknown = sorted(keys - _PLAN_KEYS)
        if unknown:
            raise InvalidInput([f"{label}: {k}: is not a field of a plan document" for k in unknown])
        return "plan"
    if "BackupPlanName" in keys:
        return "plan-body"
    if "BackupSelection" in keys:
        unknown = sorted(keys - _SELECTION_INPUT_KEYS)
        if unknown:
            raise InvalidInput([f"{label}: {k}: is not a field of CreateBackupSelection's input" for k in unknown])
        return "selection-input"
    if "SelectionName" in keys:
        return "selection"
    raise InvalidInput([f"{label}: neither a backup plan (BackupPlan / BackupPlanName) nor a selection "
                        f"(BackupSelection / SelectionName): found {', '.join(sorted(keys)) or 'nothing'}"])


def _name_in(data: dict[str, Any]) -> str:
    body = data.get("BackupPlan", data)
    return str(body.get("BackupPlanName", "?")) if isinstance(body, dict) else "?"


# ---- AWS Backup's rules ---------------------------------------------------------------------------
def _rule_problems(rule: BackupRule, path: str) -> list[str]:
    problems: list[str] = []
    try:
        rule.schedule()
    except ScheduleError as error:
        field = "ScheduleExpressionTimezone" if "time zone" in str(error) else "ScheduleExpression"
        problems.append(f"{path}.{field}: {error}")
    start, completion = rule.start_window_minutes, rule.completion_window_minutes
    if start is not None and not 60 <= start <= MAX_WINDOW_MINUTES:
        problems.append(f"{path}.StartWindowMinutes: {start}; must be at least 60 (and at most {MAX_WINDOW_MINUTES})")
    if completion is not None:
        floor = rule.effective_start_window + 60
        if not floor <= completion <= MAX_WINDOW_MINUTES:
            problems.append(f"{path}.CompletionWindowMinutes: {completion}; must be at least 60 minutes more than "
                            f"the start window ({rule.effective_start_window}), i.e. at least {floor}")
    lifecycle = rule.lifecycle
    if rule.enable_continuous_backup:
        low, high = CONTINUOUS_RETENTION_DAYS
        days = lifecycle.delete_after_days if lifecycle else None
        if days is not None and not low <= days <= high:
            problems.append(f"{path}.Lifecycle.DeleteAfterDays: {days}; continuous backups are kept {low} to "
                            f"{high} days")
        if lifecycle and lifecycle.move_to_cold_storage_after_days is not None:
            problems.append(f"{path}.Lifecycle.MoveToColdStorageAfterDays: continuous backups do not go to "
                            "cold storage")
    arn = rule.target_logically_air_gapped_backup_vault_arn
    if arn is not None and not _AIR_GAPPED_ARN.match(arn):
        problems.append(f"{path}.TargetLogicallyAirGappedBackupVaultArn: '{arn}' is not a backup vault ARN")
    for n, action in enumerate(rule.copy_actions or []):
        destination = action.destination_backup_vault_arn
        if not _VAULT_ARN.match(destination):
            problems.append(f"{path}.CopyActions[{n}].DestinationBackupVaultArn: '{destination}' is not a backup "
                            "vault ARN (arn:aws:backup:<region>:<account>:backup-vault:<name>)")
    problems.extend(tag_problems(rule.recovery_point_tags, f"{path}.RecoveryPointTags"))
    return problems


def _condition_key_problem(key: str, where: str) -> str | None:
    if key.startswith("aws:") and not key.startswith(TAG_KEY_PREFIX):
        return f"{where}: '{key}': only tag conditions ({TAG_KEY_PREFIX}<key>) select resources"
    if key == TAG_KEY_PREFIX:
        return f"{where}: '{key}' names no tag key"
    return None


def _pattern_problem(pattern: str, where: str) -> str | None:
    """'*', an ARN pattern, or an ARN: one of a type Coffer protects is held to that service's rules (AWS's plan
    documents may list types Coffer does not protect; those are kept, as plan_notes says)."""
    too_long = length_problem(where, pattern)
    if too_long:
        return too_long
    if pattern == "*":
        return None
    if pattern.startswith("arn:"):
        if "*" in pattern or protected_type(pattern) is None:
            return None
        problems = resource_arn_problems(pattern, where)
        return problems[0] if problems else None
    return f"{where}: '{pattern}' is neither '*' nor an ARN (wildcards '*' allowed)"


def _field(path: str, name: str) -> str:
    return f"{path}{name}" if path.endswith(": ") else f"{path}.{name}"


def _selection_problems(selection: BackupSelection, path: str) -> list[str]:
    problems: list[str] = []
    if selection.iam_role_arn is not None and not _ROLE_ARN.match(selection.iam_role_arn):
        problems.append(f"{_field(path, 'IamRoleArn')}: '{selection.iam_role_arn}' is not an IAM role ARN")
    for field, patterns in (("Resources", selection.resources), ("NotResources", selection.not_resources)):
        for n, pattern in enumerate(patterns or []):
            if (problem := _pattern_problem(pattern, f"{_field(path, field)}[{n}]")) is not None:
                problems.append(problem)
    for n, tag in enumerate(selection.list_of_tags or []):
        where = f"{_field(path, 'ListOfTags')}[{n}].ConditionKey"
        if (problem := _condition_key_problem(tag.condition_key, where)) is not None:
            problems.append(problem)
    conditions = selection.conditions
    if conditions is not None:
        for operator in ("StringEquals", "StringNotEquals", "StringLike", "StringNotLike"):
            for n, parameter in enumerate(getattr(conditions, _snake(operator)) or []):
                where = f"{_field(path, 'Conditions')}.{operator}[{n}].ConditionKey"
                if (problem := _condition_key_problem(parameter.condition_key, where)) is not None:
                    problems.append(problem)
    return problems


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def check_plan(plan: PlanDocument, selection_paths: dict[int, str] | None = None,
               now: datetime | None = None) -> None:
    """AWS Backup's rules over a parsed plan; InvalidInput lists every broken one, each naming its field
    (`selection_paths`: where each selection came from, when not from the plan document itself; `now`: also
    refuse a schedule that never fires again after it)."""
    problems: list[str] = schedule_problems(plan.backup_plan.rules, now)
    seen: set[str] = set()
    for n, rule in enumerate(plan.backup_plan.rules):
        path = f"BackupPlan.Rules[{n}]"
        if rule.rule_name in seen:
            problems.append(f"{path}.RuleName: '{rule.rule_name}' is used by another rule; rule names are unique "
                            "in a plan")
        seen.add(rule.rule_name)
        problems.extend(_rule_problems(rule, path))
    problems.extend(tag_problems(plan.backup_plan_tags, "BackupPlanTags"))
    names: set[str] = set()
    for n, selection in enumerate(plan.selections):
        path = (selection_paths or {}).get(n, f"Selections[{n}]")
        if selection.selection_name in names:
            problems.append(f"{_field(path, 'SelectionName')}: '{selection.selection_name}' is used by another "
                            "selection")
        names.add(selection.selection_name)
        problems.extend(_selection_problems(selection, path))
    if problems:
        raise InvalidInput(problems)


def plan_notes(plan: PlanDocument) -> list[str]:
    """What Coffer keeps and exports but does not act on (yet), so nobody mistakes it for protection."""
    notes: list[str] = []
    for n, rule in enumerate(plan.backup_plan.rules):
        path = f"BackupPlan.Rules[{n}]"
        if isinstance(rule.schedule(), RateSchedule):
            notes.append(f"{path}.ScheduleExpression: rate() runs on Coffer; AWS Backup itself accepts cron() only")
        if rule.enable_continuous_backup:
            notes.append(f"{path}.EnableContinuousBackup: S3, DynamoDB and RDS resources are backed up "
                         "continuously (point-in-time recovery); other types get a snapshot backup on schedule")
        if rule.lifecycle and rule.lifecycle.move_to_cold_storage_after_days is not None:
            notes.append(f"{path}.Lifecycle.MoveToColdStorageAfterDays: the daily lifecycle sweep moves the "
                         "recovery points of types with a cold tier (EBS); others stay warm (`coffer sweep show`)")
        for field in ("index_actions", "scan_actions", "target_logically_air_gapped_backup_vault_arn"):
            if getattr(rule, field) is not None:
                notes.append(f"{path}.{to_pascal(field)}: kept, not acted on by Coffer")
    for field in ("advanced_backup_settings", "scan_settings"):
        if getattr(plan.backup_plan, field) is not None:
            notes.append(f"BackupPlan.{to_pascal(field)}: kept, not acted on by Coffer")
    for n, selection in enumerate(plan.selections):
        if selection.iam_role_arn is None:
            notes.append(f"Selections[{n}].IamRoleArn: not set; AWS Backup requires it, Coffer does not")
    return notes


# ---- schedules of a plan --------------------------------------------------------------------------
#: the Scheduler context attribute the target input carries (AWS substitutes it at each invocation)
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


def schedule_name(plan_name: str, rule_name: str) -> str:
    """The EventBridge Scheduler schedule of one rule (names: 1-64 of [0-9a-zA-Z-_.])."""
    digest = hashlib.sha256(f"{plan_name}/{rule_name}".encode()).hexdigest()[:10]
    return f"{plan_name[:25]}.{rule_name[:25]}.{digest}"


def schedule_input(plan_name: str, rule_name: str) -> str:
    """The PlanRun workflow's input, as the schedule's target sends it."""
    return json.dumps({"plan_name": plan_name, "rule_name": rule_name, "scheduled_time": SCHEDULED_TIME},
                      sort_keys=True)


def schedule_definition(plan: PlanDocument, rule: BackupRule, group: str, target_arn: str,
                        role_arn: str) -> dict[str, Any]:
    """CreateSchedule/UpdateSchedule's parameters for one rule (Scheduler's own field names)."""
    definition: dict[str, Any] = {
        "Name": schedule_name(plan.name, rule.rule_name),
        "GroupName": group,
        "ScheduleExpression": rule.effective_schedule,
        "ScheduleExpressionTimezone": rule.schedule_expression_timezone or "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Description": f"Coffer plan {plan.name}, rule {rule.rule_name}"[:512],
        "Target": {
            "Arn": target_arn,
            "RoleArn": role_arn,
            "Input": schedule_input(plan.name, rule.rule_name),
            # A run missed for longer than its start window would only make EXPIRED jobs.
            "RetryPolicy": {"MaximumEventAgeInSeconds": min(86400, max(60, rule.effective_start_window * 60)),
                            "MaximumRetryAttempts": 185},
        },
    }
    return definition
