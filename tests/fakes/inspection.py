"""Verify's read-only ports in memory: the vault bucket's versions, delete markers, rules and policy over
`MemoryBuckets` (ports/vault_inspection.py), KMS keys (ports/key_inspection.py) and a deployed stack
(ports/stack_template.py). Each counts the calls an adapter would make, so tests can hold the cost per object."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coffer.domain.cfn_template import DeployedStack
from coffer.domain.errors import NotFound
from coffer.ports.key_inspection import KEY_GONE
from coffer.ports.vault_inspection import BucketRules, VersionState
from fakes.storage import MemoryBuckets, Version

_MARKERS = itertools.count(1)


class MemoryVaultInspection:
    def __init__(self, buckets: MemoryBuckets, bucket: str) -> None:
        self._s3 = buckets
        self.bucket = bucket
        #: key -> (marker id, when): a delete marker on top of the key's versions (as DeleteObject without a version)
        self.markers: dict[str, tuple[str, datetime]] = {}
        self.bucket_rules = BucketRules(versioning="Enabled", object_lock=True, default_mode="GOVERNANCE",
                                        default_days=1)
        self.bucket_policy: dict[str, Any] | None = None
        #: HeadObject / ListObjectVersions / GetObject calls, as the S3 adapter would make them
        self.calls: Counter[str] = Counter()

    def hide(self, key: str) -> str:
        """A delete marker on top of `key` (what a principal with s3:DeleteObject makes)."""
        marker = f"marker-{next(_MARKERS)}"
        self.markers[key] = (marker, self._s3.clock.now())
        return marker

    def _state(self, key: str, version: Version) -> VersionState:
        return VersionState(key, version.id, sha256=hashlib.sha256(version.body).hexdigest(), size=len(version.body),
                            lock=version.lock, last_modified=version.modified)

    def head(self, key: str, version_id: str | None = None) -> VersionState | None:
        self.calls["HeadObject"] += 1
        versions = self._s3.buckets.get(self.bucket, {}).get(key, [])
        if version_id is None:
            if key in self.markers:
                return VersionState(key, self.markers[key][0], delete_marker=True)
            return self._state(key, versions[-1]) if versions else None
        found = next((v for v in versions if v.id == version_id), None)
        return None if found is None else self._state(key, found)

    def versions_of(self, key: str) -> list[VersionState]:
        self.calls["ListObjectVersions"] += 1
        listed = [VersionState(key, v.id, size=len(v.body), last_modified=v.modified)
                  for v in reversed(self._s3.buckets.get(self.bucket, {}).get(key, []))]
        if key in self.markers:
            listed.insert(0, VersionState(key, self.markers[key][0], delete_marker=True,
                                          last_modified=self.markers[key][1]))
        return listed

    def read_version(self, key: str, version_id: str) -> bytes:
        self.calls["GetObject"] += 1
        for version in self._s3.buckets.get(self.bucket, {}).get(key, []):
            if version.id == version_id:
                return version.body
        raise NotFound(f"s3://{self.bucket}/{key} version {version_id} not found")

    def rules(self) -> BucketRules:
        self.calls["GetBucketRules"] += 1
        return self.bucket_rules

    def policy(self) -> dict[str, Any] | None:
        self.calls["GetBucketPolicy"] += 1
        return self.bucket_policy


@dataclass
class MemoryKeys:
    states: dict[str, str] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def state(self, key_arn: str) -> str:
        return self.states.get(key_arn, KEY_GONE)

    def policy(self, key_arn: str) -> dict[str, Any] | None:
        return self.policies.get(key_arn)


@dataclass
class FixedStack:
    stack: DeployedStack

    def deployed(self) -> DeployedStack:
        return self.stack
