"""S3 backups on a twin with a simulated clock, counted as bench/ counts them (coffer_twin.calls.CallRecorder): what
the lock-slack and one-call-extension tests share."""

from __future__ import annotations

from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry
from coffer.domain.recovery_points import RecoveryPoint
from coffer_cli.local.session import LocalCoffer
from coffer_twin.calls import CallRecorder


def backup(coffer: LocalCoffer, bucket: str, token: str) -> tuple[RecoveryPoint, CallRecorder]:
    """One backup of `bucket` kept 35 days, run to its end; its recovery point and every call it made."""
    with CallRecorder() as calls:
        result = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": token,
                                      "Lifecycle": {"DeleteAfterDays": 35}})
    assert result["status"] == "SUCCEEDED", result
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    return coffer.deps.catalog.get_recovery_point(job.recovery_point_id), calls


def entries(coffer: LocalCoffer, rp: RecoveryPoint) -> dict[str, ObjectEntry]:
    """The recovery point's manifest entries by key, read from the vault."""
    vault = coffer.deps.vault
    manifest = Manifest.model_validate_json(vault.get_bytes(rp.manifest_key or ""))
    return {e.key: e for part in manifest.parts for e in ManifestPart.model_validate(vault.get_json(part.key)).entries}
