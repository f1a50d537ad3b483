"""Reading what a recovery point pins: the manifest, its parts and blobs at the versions it recorded.

A version written over a key later (never Coffer's write: the vault's policy refuses others) is never what a
restore, a copy or a verify reads; a recovery point written before versions were pinned reads the newest, which
its recorded checksum still checks (verify flags it UNPINNED).
"""

from __future__ import annotations

from coffer.domain.errors import IntegrityError
from coffer.domain.manifest import Manifest, sha256_hex
from coffer.domain.recovery_points import RecoveryPoint
from coffer.ports.vault import VaultStore


def read_pinned(vault: VaultStore, key: str, version_id: str | None) -> bytes:
    """The version a recovery point pins, or - without a pin - the newest."""
    return vault.get_bytes_version(key, version_id) if version_id else vault.get_bytes(key)


def pinned_manifest(vault: VaultStore, rp: RecoveryPoint) -> Manifest:
    """The recovery point's manifest as written to the vault, refused if its bytes differ from what the catalog
    recorded."""
    raw = read_pinned(vault, rp.manifest_key or "", rp.manifest_version_id)
    if rp.manifest_sha256 and sha256_hex(raw) != rp.manifest_sha256:
        raise IntegrityError(f"manifest of recovery point {rp.recovery_point_id} does not match its checksum")
    return Manifest.model_validate_json(raw)
