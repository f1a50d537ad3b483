"""What each lifecycle sweep run did, page by page or batch by batch (adapters/catalog/sweeps.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from coffer.ports.vault_records import PageStart


class SweepStore(Protocol):
    def put_page(self, run_id: str, vault: str, seq: int, doc: dict[str, Any]) -> None: ...

    def pages(self, run_id: str) -> Iterator[dict[str, Any]]: ...

    def start_run(self, run_id: str, started_at: str) -> None:
        """Record the run once (its start time, the blob collection's cutoff, never moves)."""
        ...

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run's record as plain values; NotFound if there is none."""
        ...

    def list_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest runs first."""
        ...

    def set_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        """Change fields of a started run (a run never started is not created by a late retry)."""
        ...

    def record_batch(self, run_id: str, kind: str, seq: int, doc: dict[str, Any], totals: Mapping[str, int],
                     blocked_vaults: set[str] | None = None) -> dict[str, Any]:
        """Record one batch and add its counts to the run's totals, once: a retry returns the recorded document."""
        ...

    def batches(self, run_id: str, kind: str = "BATCH") -> Iterator[dict[str, Any]]: ...

    def expect_renewal(self, run_id: str, recovery_point_id: str, items: int, until: str) -> None:
        """This run renews the recovery point's locks (to `until`) in `items` renewal items (written again by a
        retried batch: the same facts)."""
        ...

    def renewal_done(self, run_id: str, recovery_point_id: str, seq: int) -> bool:
        """Item `seq` of the recovery point's renewal is done (idempotent); True once every expected item is."""
        ...

    def live_recovery_point_ids(self, vault: str, start: PageStart | None,
                                limit: int = 1000) -> tuple[list[str], PageStart | None]:
        """One page of the vault's recovery points that are not EXPIRED (ids, oldest first) and the next start."""
        ...
