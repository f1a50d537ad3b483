"""Verify's read-only ports in memory: a version's lock, hold and checksum (delete markers included), the bucket's
rules and policy over `MemoryBuckets` (ports/vault_inspection.py), KMS keys (ports/key_inspection.py) and a deployed
stack (ports/stack_template.py). Each counts the calls an adapter would make, so tests can hold the cost per object."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from coffer.domain.cfn_template import DeployedStack
from coffer.ports.key_inspection import KEY_GONE
from coffer.ports.vault_inspection import BucketRules, VersionState
from fakes.storage import MemoryBuckets, Version


class MemoryVaultInspection:
    def __init__(self, buckets: MemoryBuckets, bucket: str) -> None:
        self._s3 = buckets
        self.bucket = bucket
        self.bucket_rules = BucketRules(versioning="Enabled", object_lock=True, default_mode="GOVERNANCE",
                                        default_days=1)
        self.bucket_policy: dict[str, Any] | None = None
        #: HeadObject and bucket-rule calls, as the S3 adapter would make them (the vault port's reads: MemoryVault)
        self.calls: Counter[str] = Counter()

    def _state(self, key: str, version: Version) -> VersionState:
        sha = hashlib.sha256(version.body).hexdigest()
        return VersionState(key, version.id, sha256=sha, checksum=sha, size=len(version.body), lock=version.lock,
                            last_modified=version.modified)

    def head(self, key: str, version_id: str | None = None) -> VersionState | None:
        self.calls["HeadObject"] += 1
        versions = self._s3.buckets.get(self.bucket, {}).get(key, [])
        if version_id is None:
            if versions and versions[-1].delete_marker:
                return VersionState(key, versions[-1].id, delete_marker=True)
            return self._state(key, versions[-1]) if versions else None
        found = self._s3.version(self.bucket, key, version_id)
        return None if found is None else self._state(key, found)

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
