"""The fault matrix over the other workflows: an EBS backup and restore (a native type, polled with Wait states),
copies of an S3 and of an EBS recovery point to another region, a plan run (its backups nested executions of
the Backup workflow), the vault scrub (Verify), the lifecycle sweep (an EBS recovery point moved to the archive
tier, another expired) and the ColdStorage workflow of an S3 recovery point.

What can fail is derived as in test_transient_faults: the Task states from the ASL (a plan run's nested Backup
workflow included) and every (caller, service, operation) of a clean run. Here every one of them fails once in
ONE run of the workflow (one run per workflow keeps the suite inside its time budget; each failure is injected
exactly once, which the test checks), with the kinds test_transient_faults uses. The run must end SUCCEEDED
with the right result and leave nothing behind (conftest: for copies also the destination's vault, catalog and
snapshots, and every copy quota slot).

Then a failure for good at representative steps of each: the job ends FAILED naming the cause (a plan run whose
own step failed ends FAILED saying why; one whose nested backup failed completes, counting that backup failed
with its cause; the scrub's execution fails VerifyNotCompleted naming the failed map run), its recovery point is
never COMPLETED, and nothing is left behind: what a failed copy may have written in the destination (manifest
parts, a snapshot copy) is recorded there as a DELETING recovery point for the destination's sweeper, as a failed
backup's leftovers are in the source.
"""

from __future__ import annotations

import itertools

import pytest

from coffer.adapters.catalog.sweeps import SweepRecords
from coffer.domain.jobs import JobState
from coffer.domain.recovery_points import RecoveryPointStatus
from coffer_twin.calls import ENGINE
from coffer_twin.faults import Fault, FaultKind

from .conftest import OTHER_WORKFLOWS, World
from .test_transient_faults import _kind_for

#: calls the twin makes that AWS does not: a ``.sync`` task's polling of its child (twin/nested_executions.py;
#: Step Functions follows a nested execution by events, no API call of the caller's that could fail)
NOT_AWS_CALLS = {(ENGINE, "sfn", "DescribeExecution")}


@pytest.mark.parametrize("workflow", OTHER_WORKFLOWS)
def test_one_failure_at_every_call_of_every_step_in_one_run_is_absorbed(world: World, workflow: str) -> None:
    every_call_failing_once_is_absorbed(world, workflow)


def every_call_failing_once_is_absorbed(world: World, workflow: str) -> None:
    """Every AWS call of every step of `workflow` fails once in one run: it still succeeds, leaving nothing."""
    visited, recorded = world.steps(workflow, cold=True)
    operations = [call for call in recorded if call not in NOT_AWS_CALLS]
    refusals = itertools.cycle([FaultKind.THROTTLING, FaultKind.SERVER_ERROR, FaultKind.CONNECTION])
    faults = [Fault(_kind_for(ENGINE, "Invoke", refusals), "lambda", "Invoke", ENGINE,
                    url_contains=world.physical_name(function)) for function in sorted(set(visited.values()))]
    faults += [Fault(_kind_for(c, o, refusals), s, o, c) for c, s, o in operations if (c, s) != (ENGINE, "lambda")]
    covered = {(f.caller, f.service, f.operation) for f in faults}
    assert covered == set(operations), f"calls no fault accounts for: {set(operations) - covered}"
    world.prepare(workflow)
    world.cold_start()  # as the clean run started
    for fault in faults:
        world.faults.add(fault)
    run = world.run(workflow)
    world.faults.clear()
    problems = [f"{f.describe()} injected {f.injected} times" for f in faults if f.injected != 1]
    if run.status != "SUCCEEDED":
        problems.append(f"execution {run.status} {run.result.get('error')}: {run.result.get('cause')}"
                        + (f" / job: {world.job(run.job_id).status_message}" if run.job_id else "")
                        + "".join(f"\n  {failed}" for failed in world.failed_tasks(str(run.result["arn"]))))
    else:
        try:
            run.check()
        except AssertionError as error:
            problems.append(f"wrong result: {error}" + "".join(
                f"\n  {failed}" for failed in world.failed_tasks(str(run.result["arn"]))))
    problems += world.left_behind()
    assert not problems, f"{len(faults)} faults in one run of {workflow}:\n" + "\n".join(problems)


#: (workflow, caller, service, operation): a representative step of each workflow failing for good, each after
#: the workflow has made something that must not be left behind (a snapshot, a copy's parts or snapshot in the
#: destination, a nested backup's job and lease), or before it could (the copy's start, the scrub's reads)
FOR_GOOD = [
    # (the start's own look finds the twin's snapshot complete: no CheckBackup; Complete reads its size)
    ("ebs-backup", "CompleteBackupFunction", "ec2", "DescribeSnapshots"),
    # (a restore's volume likewise, on its createVolume event: Complete checks the volume it made)
    ("ebs-restore", "CompleteRestoreFunction", "ec2", "DescribeVolumes"),
    ("s3-copy", "CopyPartFunction", "s3", "CopyObject"),
    ("s3-copy", "CompleteCopyFunction", "s3", "PutObject"),
    ("ebs-copy", "StartCopyJobFunction", "ec2", "CopySnapshot"),
    ("ebs-copy", "CheckCopyFunction", "ec2", "DescribeSnapshots"),
    ("plan-run", "SelectResourcesFunction", "s3", "PutObject"),
    # (a DynamoDB backup CreateBackup answers AVAILABLE goes straight to CompleteBackup: its DescribeBackup is the look)
    ("plan-run", "CompleteBackupFunction", "dynamodb", "DescribeBackup"),
    ("verify", "VerifyBatchFunction", "s3", "HeadObject"),
    ("sweep", "SweepBatchFunction", "ec2", "DeleteSnapshot"),
]
MAP_CHILDREN = {"CopyPartFunction", "VerifyBatchFunction"}
#: how each service says access denied (twin/faults.py answers in the service's own protocol)
DENIED = ("AccessDenied", "UnauthorizedOperation", "403")


def _named(text: str | None) -> bool:
    return any(code in (text or "") for code in DENIED)


@pytest.mark.parametrize("workflow", sorted({case[0] for case in FOR_GOOD}))
def test_a_failure_for_good_at_a_representative_step_ends_the_run_with_its_cause_and_leaves_nothing_behind(
        world: World, workflow: str) -> None:
    failures_for_good_end_the_run_with_their_cause(world, workflow, FOR_GOOD)


def failures_for_good_end_the_run_with_their_cause(world: World, workflow: str,
                                                   cases: list[tuple[str, str, str, str]]) -> None:
    """Each case's call fails for good in its own run of `workflow`: the run ends saying why, nothing left."""
    problems: list[str] = []
    for _, caller, service, operation in [case for case in cases if case[0] == workflow]:
        world.prepare(workflow)
        fault = world.faults.fail(FaultKind.ACCESS_DENIED, service, operation, caller=caller, times=None)
        run = world.run(workflow)
        world.faults.remove(fault)
        what = fault.describe()
        if not fault.injected:
            problems.append(f"{what}: never injected")
            continue
        failed_tasks = world.failed_tasks(str(run.result["arn"]))
        if workflow == "verify":
            # the scrub is no job: its execution fails saying the vault was not fully checked, and which map run
            # failed (a Distributed Map child's own error is the map run's, not in the parent's history)
            if run.result["error"] != "VerifyNotCompleted" or not any("MapRunFailed" in t for t in failed_tasks):
                problems.append(f"{what}: scrub ended {run.status} {run.result['error']}: {failed_tasks}")
        elif workflow == "sweep":
            # an expiry refused for good: the run completes, the recovery point stays DELETING with its snapshot
            # (nothing lost), skipped with the cause in the run's record; a later run finishes it
            _, due_gone = run.details["prepared"]
            rp = world.coffer.deps.catalog.get_recovery_point(due_gone.recovery_point_id)
            run_id = str(run.result["arn"]).rsplit(":", 1)[-1]
            records = SweepRecords(world.db, world.coffer.settings.catalog_table)
            skipped = {k: v for b in records.batches(run_id, "BATCH") for k, v in b.get("skipped", {}).items()}
            kept = world.snapshots(world.ec2, recovery_point=rp.recovery_point_id)
            if run.status != "SUCCEEDED" or rp.status is not RecoveryPointStatus.DELETING or not kept or not _named(
                    skipped.get(rp.recovery_point_id)):
                problems.append(f"{what}: run {run.status}, {rp.status}, snapshots {len(kept)}, "
                                f"skipped {skipped.get(rp.recovery_point_id)!r}; run {records.get_run(run_id)}")
            problems += [f"{what}: {left}" for left in world.left_behind()]
            continue
        elif workflow == "plan-run":
            summary = world.plan_runs.get_run(run.details["run_id"])
            if caller == "SelectResourcesFunction":  # the run's own step: the run FAILED, saying why
                if run.result["error"] != "PlanRunFailed" or summary.state.value != "FAILED" or not any(
                        _named(note) for note in summary.notes):
                    problems.append(f"{what}: run {summary.state} {run.result['error']}: {summary.notes}")
            else:  # a nested backup's step: that backup FAILED with its cause, the run says so and completes
                reasons = [f["reason"] for f in summary.failures]
                if run.status != "SUCCEEDED" or summary.counts.failed != 1 or not any(map(_named, reasons)):
                    problems.append(f"{what}: run {summary.state} {summary.counts} {reasons}")
        else:
            job = world.job(run.job_id)
            # (a Distributed Map child's job says that the map failed; the child's own error is the map run's)
            named = _named(job.status_message) or (caller in MAP_CHILDREN and job.status_message)
            # a start step's Catch ends the job it made, and the execution fails as a failed job (not as a
            # refused request: there is a job, and it says why)
            if run.result["error"] != "JobFailed" or job.state is not JobState.FAILED or not named:
                problems.append(f"{what}: job {job.state} ({run.status} {run.result['error']}): "
                                f"{job.status_message!r}")
        problems += [f"{what}: {left}" for left in world.left_behind()]
    assert not problems, "\n".join(problems)
