"""Invoke a function of the template on the twin with an event: the twin of `sam local invoke`.

Any event works: a file anywhere, or stdin. `events/index.yaml` says which function each sample event of
`events/` is for and which events must have run before it (a workflow step works on the job an earlier step
made): for a listed sample those are replayed first; any other event runs alone, on a fresh twin with the
sample resources. The function `bus` puts the event on EventBridge (`{"Source", "DetailType", "Detail"}`)
and waits for the workflows it starts. Sample events are dated at SAMPLE_EPOCH, so the handlers read a clock
stopped just after it.

`--env-vars` takes SAM's JSON (`{"FunctionLogicalId": {"VAR": "value"}, "Parameters": {"VAR": "value"}}`):
as `sam local invoke` does, it overrides only variables the template declares for a function (a function's
own values win over `Parameters`); the others are ignored, each said in one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from coffer.domain.clock import FixedClock
from coffer.domain.errors import InvalidInput
from coffer.domain.job_ids import job_id_for
from coffer_cli.local.copy_destinations import COPY_FUNCTIONS, prepare_copy_destination
from coffer_cli.local.sample_plans import apply_sample_plan
from coffer_cli.local.samples import create_sample_bucket, create_sample_table, create_sample_versioned_bucket
from coffer_cli.local.session import LocalCoffer, local_twin

#: functions whose samples run verify: the bucket-wide checks read the bucket policy back
VERIFY_FUNCTIONS = {"ListVerifyItemsFunction", "VerifyBatchFunction", "CompleteVerifyFunction"}
#: the RenewLocks sample renews the sample S3 backup's locks (its IdempotencyToken: events/start_backup_job.json)
SAMPLE_RENEWAL_TOKEN = "sample-s3-backup"
SAMPLE_RENEWAL_DAYS = 400

SAMPLE_EPOCH = datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)
BUS = "bus"
_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


@dataclass(frozen=True)
class SampleEvent:
    name: str
    function: str
    after: tuple[str, ...]
    body: Any


def load_index(events_dir: Path) -> dict[str, SampleEvent]:
    index = yaml.safe_load((events_dir / "index.yaml").read_text())
    return {
        name: SampleEvent(name, entry["function"], tuple(entry.get("after", [])),
                          json.loads((events_dir / name).read_text()))
        for name, entry in index.items()
    }


def template_functions(project_root: Path) -> list[str]:
    """Logical ids of the template's functions."""
    from coffer_twin.cfn_yaml import load_template

    resources = load_template(project_root / "template.yaml").get("Resources", {})
    return sorted(name for name, resource in resources.items() if resource.get("Type") in _FUNCTION_TYPES)


@dataclass(frozen=True)
class Invocation:
    """What to run: the function, its event, the sample events replayed first, and what was noted choosing."""

    function: str
    body: Any
    replays: tuple[SampleEvent, ...] = ()
    notes: tuple[str, ...] = ()


def plan_invocation(project_root: Path, function: str | None, body: Any, event_file: Path | None,
                    source_name: str) -> Invocation:
    """The invocation for an event (`event_file`, or None for stdin). InvalidInput names what is wrong."""
    functions = template_functions(project_root)
    events_dir = project_root / "events"
    index = load_index(events_dir) if (events_dir / "index.yaml").is_file() else {}
    sample = None
    if event_file is not None and event_file.resolve().parent == events_dir.resolve():
        sample = index.get(event_file.name)
    if function is not None and function != BUS and function not in functions:
        raise InvalidInput([f"FUNCTION: {function} is not a function of template.yaml (one of: "
                            f"{', '.join(functions)}, or {BUS})"])
    if sample is not None:
        if function and function != sample.function:
            raise InvalidInput([f"--event: {sample.name} is an event for {sample.function}, not {function}"])
        replays = tuple(index[name] for name in sample.after)
        return Invocation(sample.function, body, replays)
    if function is None:
        raise InvalidInput([f"FUNCTION: name the function to invoke with {source_name} (one of: "
                            f"{', '.join(functions)}, or {BUS})"])
    note = (f"{source_name} is not a sample listed in events/index.yaml: no events replayed first (a job or "
            "recovery point it names must already exist; the sample bucket and table do)")
    return Invocation(function, body, (), (note,))


@dataclass(frozen=True)
class EnvVars:
    """SAM's --env-vars document: per-function variables and `Parameters` for every function."""

    functions: dict[str, dict[str, str]] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, document: Any, option: str = "--env-vars") -> EnvVars:
        if not isinstance(document, dict):
            raise InvalidInput([f"{option}: a JSON object is expected ({{\"FunctionLogicalId\": {{\"VAR\": "
                                "\"value\"}}, \"Parameters\": {...}})"])
        problems: list[str] = []
        sections: dict[str, dict[str, str]] = {}
        for name, variables in document.items():
            if not isinstance(variables, dict):
                problems.append(f"{option}: {name}: an object of VAR: value is expected")
                continue
            for variable, value in variables.items():
                if isinstance(value, dict | list) or value is None:
                    problems.append(f"{option}: {name}.{variable}: a string, number or boolean is expected")
            sections[name] = {str(k): _env_value(v) for k, v in variables.items()
                              if not (isinstance(v, dict | list) or v is None)}
        if problems:
            raise InvalidInput(problems)
        parameters = sections.pop("Parameters", {})
        return cls(sections, parameters)

    def overrides(self, function: str, declared: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        """(the variables to set for `function`, the ones ignored because the template does not declare them)."""
        wanted = {**self.parameters, **self.functions.get(function, {})}
        ignored = [name for name in self.functions.get(function, {}) if name not in declared]
        return {k: v for k, v in wanted.items() if k in declared}, ignored


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def apply_env_vars(coffer: LocalCoffer, env_vars: EnvVars) -> list[str]:
    """Set the overrides on the twin's functions (UpdateFunctionConfiguration, as a deploy would); notes."""
    lam = coffer.client("lambda")
    functions = [name for name, r in coffer.twin.template.get("Resources", {}).items()
                 if r.get("Type") == "AWS::Lambda::Function"]
    notes = [f"--env-vars: {name} is not a function of template.yaml: ignored"
             for name in env_vars.functions if name not in functions]
    declared_anywhere: set[str] = set()
    for name in functions:
        declared = coffer.twin.function_env(name)
        declared_anywhere.update(declared)
        overrides, ignored = env_vars.overrides(name, declared)
        notes += [f"--env-vars: {variable} is not declared for {name} in template.yaml: ignored (as sam local "
                  "invoke does)" for variable in ignored]
        if overrides and any(declared.get(k) != v for k, v in overrides.items()):
            lam.update_function_configuration(FunctionName=coffer.twin.physical_id(name),
                                              Environment={"Variables": {**declared, **overrides}})
    notes += [f"--env-vars: Parameters.{variable} is declared by no function in template.yaml: ignored"
              for variable in env_vars.parameters if variable not in declared_anywhere]
    return notes


def deliver(coffer: LocalCoffer, function: str, body: Any) -> Any:
    """Invoke the function (or put the event on the bus and wait for the workflows it starts)."""
    if function == BUS:
        if not isinstance(body, dict) or not {"Source", "DetailType", "Detail"} <= set(body):
            raise InvalidInput([f"--event: an event for {BUS} needs Source, DetailType and Detail"])
        executions = coffer.twin.put_event(body["Source"], body["DetailType"], body["Detail"])
        return [dict(coffer.twin.wait(arn, timeout=120)) for arn in executions]
    return coffer.twin.invoke(function, body)


def prepare(coffer: LocalCoffer) -> None:
    create_sample_bucket(coffer.client("s3"))
    create_sample_table(coffer.client("dynamodb"))
    create_sample_versioned_bucket(coffer.client("s3"))  # the continuous backup samples protect it
    apply_sample_plan(coffer)  # the PlanRun functions' samples run the sample plan


def run_invocation(project_root: Path, invocation: Invocation, env_vars: EnvVars | None = None,
                   around_target: Callable[[], AbstractContextManager[Any]] = nullcontext,
                   notes: Callable[[str], None] = lambda _: None) -> Any:
    """Fresh twin, sample resources, --env-vars, the replayed events, then the event itself (inside
    `around_target`: where the caller captures the function's logs). Returns its result; a function error
    raises TwinInvokeError."""
    with local_twin(project_root, clock=FixedClock(SAMPLE_EPOCH)) as coffer, ExitStack() as stack:
        prepare(coffer)
        for note in apply_env_vars(coffer, env_vars) if env_vars else []:
            notes(note)
        functions = {invocation.function, *(event.function for event in invocation.replays)}
        if functions & COPY_FUNCTIONS:
            prepare_copy_destination(coffer, project_root)  # only the copy samples pay for a second region
        if functions & VERIFY_FUNCTIONS:
            # verify compares the bucket policy with the template's: stored as a deploy puts it (not evaluated),
            # the vaults' statements applied as `coffer vault apply-policies` does after every deploy
            stack.enter_context(coffer.twin.bucket_policies_stored())
            coffer.deps.vault_admin(coffer.twin.stack_name, None, "coffer local invoke").apply_policies()
        for event in invocation.replays:
            notes(f"replayed first: {event.name} ({event.function})")
            deliver(coffer, event.function, event.body)
        if invocation.function == "RenewLocksFunction":
            plan_sample_renewal(coffer, invocation.body)
        with around_target():
            return deliver(coffer, invocation.function, invocation.body)


def plan_sample_renewal(coffer: LocalCoffer, body: dict[str, Any]) -> None:
    """The sweep run, and what SweepBatch writes for a kept-forever recovery point whose lock is due for renewal
    (LockRenewals.plan):
    the sample backup's renewal items to a date SAMPLE_RENEWAL_DAYS ahead. A sample chain cannot make a lock come
    due (its locks are fresh), so the planning step is run here, as the sweep runs it."""
    job = coffer.deps.catalog.get_job(job_id_for(SAMPLE_RENEWAL_TOKEN))
    point = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
    run_id, now = str(body.get("run_id", "")), coffer.clock.now()
    coffer.deps.sweeps.start_run(run_id, now.isoformat())  # as the sweep's first listing step does
    coffer.deps.lock_renewals.plan(run_id, 0, point, now + timedelta(days=SAMPLE_RENEWAL_DAYS))


def invoke_sample(project_root: Path, event_file: Path, function: str | None = None) -> Any:
    """Fresh twin, sample resources, the events this one depends on, then this one. Returns its result."""
    body = json.loads(event_file.read_text())
    return run_invocation(project_root, plan_invocation(project_root, function, body, event_file, event_file.name))
