"""The fault matrix over the native types' other workflows: the backup, restore and copy (to another region) of
an EC2 instance, an RDS instance and an Aurora cluster, and the copy of a DynamoDB recovery point (an export of
the table into the destination's vault). EBS's, S3's and DynamoDB's backups and restores are in
test_workflow_matrix.py and test_transient_faults.py; the harness is theirs (conftest.py).

As there: every AWS call of every step of a clean run fails once in ONE run, which must succeed with the right
result and leave nothing behind (conftest's left_behind: here also AMIs and DB / cluster snapshots that carry a
recovery point id no recovery point of that region owns); then a failure for good at a representative step of
each (sampled: after the workflow made something that must not be left behind, or while it polls), which ends
the job FAILED naming the cause and leaves nothing behind (what a failed backup or copy made is recorded as a
DELETING recovery point for that region's sweeper).

Its own twin (a module of its own), so that it runs beside test_workflow_matrix.py on the other core.
"""

from __future__ import annotations

import pytest

from .conftest import NATIVE_WORKFLOWS, World
from .test_workflow_matrix import every_call_failing_once_is_absorbed, failures_for_good_end_the_run_with_their_cause

#: (workflow, caller, service, operation): a representative step of each failing for good
FOR_GOOD = [
    ("ec2-backup", "CheckBackupFunction", "ec2", "DescribeImages"),
    # (RDS and Aurora wait on AWS's end events: the start's own look finds the twin's snapshot complete, no
    # CheckBackup runs; Complete reads the snapshot's size, after the snapshot exists)
    ("rds-backup", "CompleteBackupFunction", "rds", "DescribeDBSnapshots"),
    ("aurora-backup", "CompleteBackupFunction", "rds", "DescribeDBClusterSnapshots"),
    ("ec2-restore", "StartRestoreJobFunction", "ec2", "RunInstances"),
    # (RDS and Aurora restores wait on AWS's creation events: the start's own look finds the twin's database there,
    # no CheckRestore runs; Complete reads it to check it against the manifest, after it exists)
    ("rds-restore", "CompleteRestoreFunction", "rds", "DescribeDBInstances"),
    ("aurora-restore", "CompleteRestoreFunction", "rds", "DescribeDBClusters"),
    ("ec2-copy", "CheckCopyFunction", "ec2", "DescribeImages"),
    ("rds-copy", "StartCopyJobFunction", "rds", "CopyDBSnapshot"),
    ("aurora-copy", "CheckCopyFunction", "rds", "DescribeDBClusterSnapshots"),
    ("ddb-copy", "CheckCopyFunction", "dynamodb", "DescribeExport"),
]


#: the slowest runs (copies poll two regions, about twice a backup's calls): marked slow, so that a quick pass
#: (`-m "not slow"`) keeps the matrix's added wall time near a minute on two cores; the full run takes them all
SLOWEST = {"ddb-copy", "ec2-copy", "aurora-copy"}


def _marked(workflows: list[str]) -> list[object]:
    return [pytest.param(w, marks=pytest.mark.slow) if w in SLOWEST else w for w in workflows]


@pytest.mark.parametrize("workflow", _marked(list(NATIVE_WORKFLOWS)))
def test_one_failure_at_every_call_of_every_native_step_in_one_run_is_absorbed(world: World, workflow: str) -> None:
    every_call_failing_once_is_absorbed(world, workflow)


@pytest.mark.parametrize("workflow", _marked([case[0] for case in FOR_GOOD]))
def test_a_native_workflow_failing_for_good_at_a_representative_step_ends_with_its_cause_and_leaves_nothing(
        world: World, workflow: str) -> None:
    failures_for_good_end_the_run_with_their_cause(world, workflow, FOR_GOOD)
