"""S3 Object Lock's rules for one object version, as the S3 User Guide documents them.

Pure functions of (the version's lock, the request, now). Two users:

- the vault adapter checks every retention change against them *before* calling S3, so Coffer never even
  attempts a change S3 would refuse (moto 5.2 would accept some of them: shortening a COMPLIANCE
  retention and COMPLIANCE -> GOVERNANCE; see tests/contract/test_object_lock_contract.py);
- the strict stand-in for S3 in the tests (tests/contract/strict_s3.py), which a shared suite runs
  side by side with moto.

The rules (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html):
- COMPLIANCE: while it lasts, nobody (root included) can delete the version, shorten or remove its
  retention, or change its mode. The retain-until date can only be extended.
- GOVERNANCE: the same, except for a principal with s3:BypassGovernanceRetention who sends
  x-amz-bypass-governance-retention: true. Extending the date needs no bypass. Changing the mode to
  COMPLIANCE is treated here as a change that needs the bypass (the conservative reading, as MinIO
  implements it); Coffer never needs it, it re-seals a blob with a new COMPLIANCE version instead.
- A legal hold blocks deletion whatever the retention says, bypass or not, until it is released.
- Once the retain-until date has passed, the version is unprotected (a legal hold still applies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class LockMode(StrEnum):
    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


def stricter(a: LockMode, b: LockMode) -> LockMode:
    return LockMode.COMPLIANCE if LockMode.COMPLIANCE in (a, b) else LockMode.GOVERNANCE


@dataclass(frozen=True)
class VersionLock:
    """The Object Lock state of one object version."""

    mode: LockMode | None = None
    retain_until: datetime | None = None
    legal_hold: bool = False

    def retention_active(self, now: datetime) -> bool:
        return self.mode is not None and self.retain_until is not None and self.retain_until > now


def retention_change_refusal(current: VersionLock, mode: LockMode | None, retain_until: datetime | None,
                             now: datetime, bypass: bool = False) -> str | None:
    """Why S3 refuses PutObjectRetention(mode, retain_until) on this version, or None if it allows it.

    `mode`/`retain_until` None means removing the retention. `bypass` means the request carries the
    bypass header *and* the caller holds s3:BypassGovernanceRetention.
    """
    if not current.retention_active(now):
        return None
    assert current.retain_until is not None  # retention_active says so
    removing = mode is None or retain_until is None
    shortening = removing or (retain_until is not None and retain_until < current.retain_until)
    if current.mode is LockMode.COMPLIANCE:
        if removing:
            return "a COMPLIANCE retention cannot be removed before it ends"
        if mode is not LockMode.COMPLIANCE:
            return "a COMPLIANCE retention cannot be changed to another mode"
        if shortening:
            return "a COMPLIANCE retention cannot be shortened"
        return None
    if bypass:
        return None
    if shortening:
        return "shortening or removing a GOVERNANCE retention needs s3:BypassGovernanceRetention"
    if mode is not LockMode.GOVERNANCE:
        return "changing the mode of a GOVERNANCE retention needs s3:BypassGovernanceRetention"
    return None


def deletion_refusal(current: VersionLock, now: datetime, bypass: bool = False) -> str | None:
    """Why S3 refuses DeleteObject(VersionId) on this version, or None if it allows it."""
    if current.legal_hold:
        return "the version is under a legal hold"
    if not current.retention_active(now):
        return None
    if current.mode is LockMode.COMPLIANCE:
        return f"the version is locked in COMPLIANCE mode until {current.retain_until}"
    if not bypass:
        return f"the version is locked in GOVERNANCE mode until {current.retain_until} (bypass needed)"
    return None
