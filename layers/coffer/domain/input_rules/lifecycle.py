"""Lifecycle options by resource type: cold storage only where Coffer has a cold tier.

Coffer moves S3 recovery points (their blobs, to S3's archive classes) and EBS snapshots (the archive tier) to
cold storage. DynamoDB on-demand backups, RDS, Aurora, DocumentDB and Neptune snapshots and AMIs have no cold tier.
AWS Backup ignores MoveToColdStorageAfterDays for such types; a request for one resource that asks for it is refused
here instead, naming the field, so nobody believes in a cold tier that is not there. A plan's rule applies to every
type it selects, so requests a plan makes (BackupPlanId set) and copies of their recovery points keep AWS's
reading: the option applies to the types that have a cold tier, and the others stay warm.
"""

from __future__ import annotations

from coffer.domain.input_rules.text import problem
from coffer.domain.lifecycle import Lifecycle
from coffer.domain.resources import ResourceType

COLD_TIER_TYPES = frozenset({ResourceType.S3, ResourceType.EBS})
_NO_COLD_TIER = {
    ResourceType.DYNAMODB: "DynamoDB on-demand backups have no cold storage tier",
    ResourceType.RDS: "RDS snapshots have no cold storage tier",
    ResourceType.AURORA: "Aurora cluster snapshots have no cold storage tier",
    ResourceType.DOCUMENTDB: "DocumentDB cluster snapshots have no cold storage tier",
    ResourceType.NEPTUNE: "Neptune cluster snapshots have no cold storage tier",
    ResourceType.EC2: "an AMI has no cold storage tier",
}


def cold_storage_problem(lifecycle: Lifecycle | None, resource_type: ResourceType, path: str) -> str | None:
    days = lifecycle.move_to_cold_storage_after_days if lifecycle else None
    if days is None or resource_type in COLD_TIER_TYPES:
        return None
    kinds = " and ".join(sorted(t.value for t in COLD_TIER_TYPES))
    return problem(f"{path}.MoveToColdStorageAfterDays", days,
                   f"asks for cold storage of a {resource_type.value} resource: {_NO_COLD_TIER[resource_type]}",
                   f"remove MoveToColdStorageAfterDays; cold storage applies to {kinds} recovery points")
