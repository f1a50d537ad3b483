"""Where operator alerts are counted: CloudWatch metrics (adapters/aws_services/alert_metrics.py, EMF)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class AlertMetrics(Protocol):
    def put(self, name: str, value: float, unit: str, at: datetime, **dimensions: str) -> None:
        """One data point of metric `name` (unit: a CloudWatch unit, "Count" / "None" ...) at `at`, with exactly
        these dimensions (an alarm matches the whole set)."""
        ...
