"""Amazon Neptune clusters: a manual cluster snapshot per recovery point, restored to a new cluster.

Neptune's management API is RDS's (engine `neptune`): backup, copy (CopyDBClusterSnapshot with the
destination's KMS key, as for Aurora), the cross-account share, restore (RestoreDBClusterFromSnapshot, Engine
neptune, no DB instances: add them once the cluster is available, as after AWS Backup's restore) and delete are
the family's (aurora.py DbClusterAdapter). Cold storage and point-in-time recovery are refused: AWS Backup has
neither for Neptune.
"""

from __future__ import annotations

from collections.abc import Mapping

from coffer.adapters.resources.aurora import DbClusterAdapter
from coffer.domain.resources import ResourceType
from coffer.ports.resources import Capability

REFUSALS: Mapping[Capability, str] = {
    Capability.COLD_STORAGE: "Neptune cluster snapshots have no cold storage tier",
}


class NeptuneAdapter(DbClusterAdapter):
    resource_type = ResourceType.NEPTUNE
    capabilities = frozenset(Capability) - set(REFUSALS)
    refusals = REFUSALS
