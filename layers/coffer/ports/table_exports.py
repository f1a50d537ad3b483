"""DynamoDB copies go through an export of the table as it was (adapters/resources/dynamodb.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from coffer.domain.recovery_points import RecoveryPoint
from coffer.ports.resources import OperationStatus


class TableExports(Protocol):
    def start_export(self, recovery_point: RecoveryPoint, bucket: str, prefix: str, client_token: str,
                     now: datetime, bucket_owner: str | None = None) -> str:
        """Export the table as it was at the recovery point's time; the export's ARN. UnsupportedOperation naming the
        table and the fix when point-in-time recovery is off or the time is outside its window."""
        ...

    def export_status(self, export_arn: str) -> OperationStatus: ...
