"""AWS's quota on EBS snapshots in progress per volume, and which volumes a backup snapshots.

EBS allows 5 concurrent snapshots of one volume, 1 for st1 and sc1 (HDD) volumes; a sixth CreateSnapshot (or
CreateImage of the instance the volume is attached to) is refused. Coffer counts its own snapshots against it
with a counting semaphore per volume in the catalog (ports/quotas.py), taken before the snapshot
starts and given back in the same write that ends the job: a backup that would go beyond it waits PENDING
(its workflow parks in WaitForTurn and is woken when a slot frees) instead of failing in EC2.

Which backups snapshot a volume: an EBS backup (its volume) and an EC2 backup (CreateImage snapshots every EBS
volume of the instance). One job per resource at a time (the catalog lease) already keeps a volume's own backups
to one; the quota is what keeps a volume's backup and its instance's backup apart on an st1/sc1 volume.
"""

from __future__ import annotations

from typing import Any

from coffer.domain.resources import ResourceType

#: EBS volume types with a quota of one snapshot in progress
HDD_VOLUME_TYPES = frozenset({"st1", "sc1"})
_PREFIX = "EBS_VOLUME_SNAPSHOTS"


def snapshot_limit(volume_type: str | None, per_volume: int, hdd_per_volume: int) -> int:
    """Snapshots that may be in progress at once for a volume of this type."""
    return hdd_per_volume if (volume_type or "").lower() in HDD_VOLUME_TYPES else per_volume


def snapshot_quota_key(volume_arn: str) -> str:
    """The semaphore of one volume's snapshots in progress."""
    return f"{_PREFIX}#{volume_arn}"


def volume_of(quota_key: str) -> str | None:
    """The volume ARN a semaphore counts for, or None for another kind of semaphore (copy quotas)."""
    kind, _, rest = quota_key.partition("#")
    return rest if kind == _PREFIX and rest else None


def volumes_snapshotted(resource_type: ResourceType, resource_arn: str, source: dict[str, Any]) -> list[str]:
    """ARNs of the EBS volumes a backup of this resource snapshots (sorted: slots are always taken in one order).

    `source` is the adapter's description of the resource (describe_source): an EC2 instance lists its volumes.
    """
    if resource_type is ResourceType.EBS:
        return [resource_arn]
    if resource_type is ResourceType.EC2:
        prefix = resource_arn.rsplit(":", 1)[0]  # arn:aws:ec2:<region>:<account>
        volumes = {f"{prefix}:volume/{v['volume_id']}" for v in source.get("volumes", []) if v.get("volume_id")}
        return sorted(volumes)
    return []
