"""A failure for good at any call of any step: the job ends with its cause, never COMPLETED on partial data, and
nothing is left behind.

Each (caller, service, operation) of a clean run (see test_transient_faults) is made to answer access denied
from its first attempt on, for good — and, for a write a step makes more than once, from its last attempt on
(e.g. StartBackupJob's second catalog write, after the backup has been started). Access denied is not retried
by botocore nor by the ASL, so each case ends at once; retryable failures for good are covered in
test_retry_paths. Expected, per case:

- the request is refused before any job exists (nothing in the catalog), or
- the job ends FAILED with the cause in its reason, or PARTIAL with the failed keys (an object or a batch
  that could not be copied), and its recovery point is DELETING (FAILED) or PARTIAL, never COMPLETED;
- a call made after the job ended (recording the audit event, releasing a restore's hold) fails the execution,
  not the job (its hold is released by FailJob);
- a call listed in OPTIONAL (an optimisation, or a best-effort step with a fallback) may fail without failing
  anything: the job completes without it, with the right result (checked);
- a restore whose Map children all failed ends FAILED saying what it could not restore (the children's own
  errors are in the Map run's results in the work bucket, not in the job's reason);
- nothing is left behind (conftest), and an S3 backup of the same bucket afterwards uses every blob the
  failed one copied into the vault: blobs are content-addressed, not orphaned.
"""

from __future__ import annotations

import pytest

from coffer.domain.errors import NotFound
from coffer.domain.jobs import JobState
from coffer_twin.calls import ENGINE, CallRecorder
from coffer_twin.faults import FaultKind

from .conftest import WORKFLOWS, World

_WRITES_MADE_TWICE_MATTER = ("Transact", "Put", "Create", "Update", "Delete", "Restore", "Copy", "Tag")
_MAP_CHILDREN = {"CopyBatchFunction", "RestoreBatchFunction"}
#: calls a job may do without, each with what stands in for it; the job must still complete with the right result
OPTIONAL = {
    ("ListBatchesFunction", "s3", "ListBucketInventoryConfigurations"):
        "S3 Inventory only saves listing the bucket (adapters/s3_inventory.py): without it the bucket is listed",
    ("CompleteBackupFunction", "dynamodb", "Query"):
        "waking the job queued behind this one (adapters/catalog_turns.py) is best effort: a queued job also asks "
        "again when its WaitForTurn task times out",
}


def _cases(world: World) -> list[tuple[str, str, str, int]]:
    cases = []
    for (caller, service, operation), attempts in sorted(world.attempts.items()):
        if caller == ENGINE or caller == "FailJobFunction":
            continue
        cases.append((caller, service, operation, 0))
        if attempts > 1 and caller not in _MAP_CHILDREN and operation.startswith(_WRITES_MADE_TWICE_MATTER):
            cases.append((caller, service, operation, attempts - 1))
    return cases


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_a_failure_for_good_ends_the_job_with_its_cause_and_leaves_nothing_behind(world: World,
                                                                                  workflow: str) -> None:
    world.steps(workflow)
    after_the_end = world.states_after_the_end(workflow)
    problems: list[str] = []
    cases = _cases(world)
    for caller, service, operation, skip in cases:
        blobs_before = world.blobs()
        fault = world.faults.fail(FaultKind.ACCESS_DENIED, service, operation, caller=caller, times=None, skip=skip)
        run = world.run(workflow)
        world.faults.remove(fault)
        what = fault.describe() + (f" from attempt {skip + 1}" if skip else "")
        if not fault.injected:
            problems.append(f"{what}: never injected")
            continue
        try:
            job = world.job(run.job_id)
        except NotFound:
            if run.result["error"] != "RequestRefused":
                problems.append(f"{what}: no job, yet the execution ended {run.status} {run.result['error']}")
            continue
        if job.state is JobState.COMPLETED and (caller, service, operation) in OPTIONAL:
            # an optional call: the job does without it, and its result must still be right
            try:
                run.check()
            except AssertionError as error:
                problems.append(f"{what}: job COMPLETED without {operation} ({OPTIONAL[caller, service, operation]}), "
                                f"but wrong: {error}")
        elif job.state is JobState.COMPLETED:
            # only a call made after the job's end may fail without failing the job (the execution fails)
            ended = job.history[-1].at
            if run.status != "FAILED" or (caller not in after_the_end and fault.calls[0].at < ended):
                problems.append(f"{what}: job COMPLETED ({run.status})")
        elif job.state is JobState.PARTIAL:
            if not job.progress.failed_keys:
                problems.append(f"{what}: PARTIAL without failed keys")
        elif job.state is JobState.FAILED:
            reason = job.status_message or ""
            # A Map child's error stays in the map run's results; the job says what it left undone.
            named = "AccessDenied" in reason or "403" in reason or (caller in _MAP_CHILDREN and reason)
            if not named:
                problems.append(f"{what}: FAILED without the cause: {reason!r}")
        else:
            problems.append(f"{what}: job ended {job.state}")
        problems += [f"{what}: {left}" for left in world.left_behind()]
        copied = world.blobs() - blobs_before
        if workflow == "s3-backup" and copied and job.state is not JobState.COMPLETED:
            again = world.s3_backup(run.details["bucket"])
            unused = copied - world.manifest_blobs(world.job(again.job_id).recovery_point_id)
            if again.status != "SUCCEEDED" or unused:
                problems.append(f"{what}: the next backup ({again.status}) did not use blobs {sorted(unused)}")
    assert len(cases) >= 10
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_fail_job_itself_absorbs_a_failure_of_each_of_its_calls(world: World, workflow: str) -> None:
    """The Catch path is a step too: its calls fail once while it ends a job whose last step failed for good."""
    world.steps(workflow)
    ending = "CompleteRestoreFunction" if workflow.endswith("restore") else "CompleteBackupFunction"
    world.faults.fail(FaultKind.ACCESS_DENIED, "dynamodb", "GetItem", caller=ending, times=None)
    # a first run finds the calls FailJob makes; then each fails once
    with CallRecorder() as calls:
        probe = world.run(workflow)
    assert world.job(probe.job_id).state is JobState.FAILED
    fail_job_calls = sorted({(c.service, c.operation) for c in calls.select(caller="FailJobFunction")})
    assert fail_job_calls, "FailJob made no AWS call"
    for service, operation in fail_job_calls:
        kind = FaultKind.THROTTLING if operation.startswith(("Get", "Query")) else FaultKind.TIMEOUT
        world.faults.fail(kind, service, operation, caller="FailJobFunction", times=1)
    run = world.run(workflow)
    world.faults.clear()
    job = world.job(run.job_id)
    assert run.result["error"] == "JobFailed" and job.state is JobState.FAILED, (run.result, job.status_message)
    assert "AccessDenied" in (job.status_message or "")
    assert world.left_behind() == []
