"""Operator alert metrics in the embedded metric format (Powertools' `single_metric`: one EMF line in the
function's log per data point, no API call), as job_metrics.py prints job metrics.

| metric | unit | dimensions (each with `service`) | when |
|---|---|---|---|
| `MissedSchedules` | Count | (none); Plan, Vault | a settled page's late resources; the daily watch's silent rules |
| `OldestRecoveryPointAgeHours` | None | Vault | the page's oldest newest-completed age (dashboard) |
| `ExpiryBlocked` | Count | (none); Vault | due recovery points a sweep batch could not delete (alarm) |
| `AuditChainBroken` | Count | (none) | a Verify run found the audit chain broken (alarm) |

The alarms watch the metrics without a dimension of their own (an alarm names exact dimension values; a plan or
vault made later would escape one per value); the dashboard shows them per plan and vault. No metric has a
per-resource dimension: each dimension value is its own metric, and CloudWatch charges for each (bench/README.md).
"""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled


class EmfAlertMetrics:
    """ports/alert_metrics.py AlertMetrics."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace

    def put(self, name: str, value: float, unit: str, at: datetime, **dimensions: str) -> None:
        # POWERTOOLS_METRICS_DISABLED (as Powertools' own Metrics): the twin's in-process functions print no EMF
        if is_metrics_disabled():
            return
        with single_metric(name=name, unit=MetricUnit(unit), value=value, namespace=self._namespace) as metric:
            for key, dimension in dimensions.items():
                metric.add_dimension(name=key, value=dimension)
            metric.set_timestamp(at)
