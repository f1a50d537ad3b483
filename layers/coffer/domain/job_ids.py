"""Job and recovery point ids: derived, not drawn, so a repeated request names the same job before the catalog
answers, and a retried step writes the same recovery point."""

from __future__ import annotations

import uuid

_IDS = uuid.UUID("6c6f6666-6572-4a6f-6273-000000000001")


def job_id_for(idempotency_token: str) -> str:
    """Job ids derive from the idempotency token, so a repeated request names the same job even before
    the catalog answers, and sample events can refer to the jobs that earlier sample events made."""
    return str(uuid.uuid5(_IDS, f"job:{idempotency_token}"))


def recovery_point_id_for(job_id: str) -> str:
    return str(uuid.uuid5(_IDS, f"recovery-point:{job_id}"))


def copy_recovery_point_id(source_account: str, job_id: str) -> str:
    """A copy's recovery point at its destination: prefixed with the source account, which is all the member
    template's IAM can scope a source's writes by (`RP#<account>-*`; no backup's id looks like that)."""
    return f"{source_account}-{recovery_point_id_for(job_id)}"
