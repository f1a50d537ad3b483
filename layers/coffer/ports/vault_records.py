"""The catalog's vault records: vaults, legal holds, the audit chain head, verify runs (adapters/catalog/vaults.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from coffer.domain.audit import ChainHead
from coffer.domain.legal_holds import LegalHold
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.vaults import Vault

#: where the next page of a paged read starts: the store's own marker, opaque to its callers
PageStart = dict[str, Any]


class VaultRecords(Protocol):
    # ---- vaults -------------------------------------------------------------------------------------
    def get_vault(self, name: str) -> Vault | None: ...

    def put_vault(self, vault: Vault) -> Vault:
        """Create (version 0: AlreadyExists if the name is taken) or change it from the version read
        (ConcurrentUpdate otherwise); the vault as stored."""
        ...

    def delete_vault(self, vault: Vault) -> None:
        """Delete only the version whose emptiness the caller checked (ConcurrentUpdate otherwise)."""
        ...

    def list_vaults(self) -> Iterator[Vault]: ...

    def any_recovery_point(self, vault_name: str) -> str | None:
        """The id of one recovery point of the vault, or None when it holds none."""
        ...

    def recovery_points_created(self, vault_name: str, start: datetime, end: datetime) -> Iterator[RecoveryPoint]: ...

    def recovery_point_page(self, vault_name: str, start: PageStart | None,
                            limit: int) -> tuple[list[RecoveryPoint], PageStart | None]: ...

    # ---- legal holds --------------------------------------------------------------------------------
    def put_hold(self, hold: LegalHold) -> LegalHold:
        """Create (version 0) or change it from the version read; ConcurrentUpdate otherwise."""
        ...

    def get_hold(self, hold_id: str) -> LegalHold | None: ...

    def list_holds(self) -> Iterator[LegalHold]:
        """Newest first."""
        ...

    def add_hold_members(self, hold_id: str, recovery_point_id: str, objects: Iterable[tuple[str, str]]) -> None:
        """Record that the hold covers the recovery point and these (key, version id) objects (idempotent)."""
        ...

    def hold_objects(self, hold_id: str) -> Iterator[tuple[str, str, str]]:
        """(key, version id, recovery point id) of every object version the hold covers."""
        ...

    def drop_object_member(self, hold_id: str, key: str, version: str) -> None: ...

    def object_holders(self, key: str, version: str) -> list[str]: ...

    def drop_recovery_point_member(self, hold_id: str, recovery_point_id: str) -> None: ...

    def holds_on(self, recovery_point_id: str) -> list[str]:
        """Ids of the legal holds covering the recovery point."""
        ...

    # ---- the audit chain head -----------------------------------------------------------------------
    def audit_head(self) -> ChainHead | None: ...

    def move_audit_head(self, expected: ChainHead, new: ChainHead, idempotency_key: str | None = None) -> bool:
        """Move the head from `expected` to `new` (and record the key once); False if another append moved it
        first or the key was used."""
        ...

    def restore_audit_head(self, head: ChainHead) -> bool:
        """Put a head back after the table was lost, only if there is none."""
        ...

    def audit_seq_for(self, idempotency_key: str) -> int | None: ...

    def audit_seq_and_head(self, idempotency_key: str) -> tuple[int | None, ChainHead | None]:
        """`audit_seq_for` and `audit_head` as one read (an append's first look: has this key a record, and where is
        the head), both as of one moment."""
        ...

    # ---- verify runs --------------------------------------------------------------------------------
    def put_verify_result(self, run_id: str, seq: int, doc: dict[str, Any]) -> None: ...

    def verify_results(self, run_id: str) -> Iterator[dict[str, Any]]: ...

    def put_verify_run(self, run_id: str, doc: dict[str, Any]) -> None: ...

    def get_verify_run(self, run_id: str) -> dict[str, Any] | None: ...
