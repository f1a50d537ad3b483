"""The RDS family's clusters with IAM enforced: the function roles' least-privilege rights carry a DocumentDB and
a Neptune backup and restore (the engine looked up by StartBackupJob's DescribeDBClusters) and an Aurora
point-in-time protection and restore (ModifyDBCluster, RestoreDBClusterToPointInTime) - nothing of it refused.
A right missing from template.yaml would show here as a denied decision naming the action."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from twins import Twins

from coffer.domain.jobs import JobState
from coffer.domain.resources import ResourceType
from coffer_cli.local.samples import (
    create_sample_cluster,
    create_sample_documentdb_cluster,
    create_sample_neptune_cluster,
)
from coffer_cli.local.session import LocalCoffer


@pytest.fixture(scope="module")
def enforced(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh(enforce_iam=True) as coffer:
        yield coffer


def denied(coffer: LocalCoffer, mark: int) -> list[str]:
    iam = coffer.twin.iam
    assert iam is not None
    return [json.dumps(d.__dict__, default=str)[:400] for d in iam.decisions[mark:] if not d.allowed]


def decisions(coffer: LocalCoffer) -> int:
    assert coffer.twin.iam is not None
    return len(coffer.twin.iam.decisions)


def evaluated(coffer: LocalCoffer, mark: int) -> set[str]:
    """The actions the twin evaluated since `mark` (each allowed, or `denied` says otherwise)."""
    assert coffer.twin.iam is not None
    return {d.action for d in coffer.twin.iam.decisions[mark:]}


@pytest.mark.parametrize(("kind", "make"), [(ResourceType.DOCUMENTDB, create_sample_documentdb_cluster),
                                            (ResourceType.NEPTUNE, create_sample_neptune_cluster)],
                         ids=["DocumentDB", "Neptune"])
def test_a_cluster_backup_and_restore_pass_with_iam_enforced(enforced: LocalCoffer, kind: ResourceType,
                                                             make: object) -> None:
    coffer, name = enforced, f"enforced-{kind.value.lower()}"
    arn = make(coffer.client("rds"), coffer.client("ec2"), name)  # type: ignore[operator]
    mark = decisions(coffer)
    backup = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": name})
    assert backup["status"] == "SUCCEEDED", denied(coffer, mark)
    job = coffer.deps.catalog.get_job(backup["output"]["job_id"])
    assert (job.state, job.resource_type) == (JobState.COMPLETED, kind), job.status_message
    restore = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": f"{name}-r",
                                    "Metadata": {"DBClusterIdentifier": f"{name}-restored"}})
    assert restore["status"] == "SUCCEEDED", denied(coffer, mark)
    assert denied(coffer, mark) == [], "a least-privilege role lacks a right the cluster's backup or restore uses"
    assert {"rds:DescribeDBClusters", "rds:CreateDBClusterSnapshot",
            "rds:RestoreDBClusterFromSnapshot"} <= evaluated(coffer, mark)


def test_aurora_point_in_time_protection_and_restore_pass_with_iam_enforced(enforced: LocalCoffer) -> None:
    coffer = enforced
    arn = create_sample_cluster(coffer.client("rds"), coffer.client("ec2"), "enforced-pitr")
    mark = decisions(coffer)
    enabled = coffer.start_backup({"ResourceArn": arn, "IdempotencyToken": "enforced-pitr",
                                   "EnableContinuousBackup": True, "Lifecycle": {"DeleteAfterDays": 7}})
    assert enabled["status"] == "SUCCEEDED", denied(coffer, mark)
    job = coffer.deps.catalog.get_job(enabled["output"]["job_id"])
    assert job.state is JobState.COMPLETED and job.continuous, job.status_message
    restore = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": "enforced-pitr-r",
                                    "Metadata": {"DBClusterIdentifier": "enforced-pitr-latest",
                                                 "UseLatestRestorableTime": "true"}})
    assert restore["status"] == "SUCCEEDED", denied(coffer, mark)
    assert denied(coffer, mark) == [], "a least-privilege role lacks a right Aurora's point-in-time recovery uses"
    assert {"rds:ModifyDBCluster", "rds:RestoreDBClusterToPointInTime"} <= evaluated(coffer, mark)
