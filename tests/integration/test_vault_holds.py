"""Legal holds and the governance bypass on the twin.

A hold puts S3 legal holds on the manifest, the parts and every blob of its recovery points; blobs are
shared, so releasing one hold leaves held what another hold covers; expiry and the bypass skip held
recovery points. The bypass itself is explicit and audited before it deletes anything.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from twins import Twins

from coffer.domain.legal_holds import CreateLegalHoldRequest
from coffer.domain.manifest import Manifest, ManifestPart, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.validation import parse_model
from coffer.services.retention_guard import RetentionGuard
from coffer_cli.cli import main
from coffer_cli.commands.vault_context import VaultContext, vault_context
from coffer_cli.local.samples import create_sample_bucket
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
STACK = ["--stack", "coffer-twin"]
BUCKET = "held-source"


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    """One twin for the module: each test makes its own recovery points (its own tokens)."""
    with twins.fresh() as deployed:
        create_sample_bucket(deployed.client("s3"), BUCKET)
        yield deployed


def context() -> VaultContext:
    return vault_context(argparse.Namespace(stack="coffer-twin", region=None))


def backup(coffer: LocalCoffer, token: str, bucket: str = BUCKET) -> RecoveryPoint:
    result = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": token,
                                  "Lifecycle": {"DeleteAfterDays": 7}})
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    return coffer.deps.catalog.get_recovery_point(job.recovery_point_id)


def held(coffer: LocalCoffer, key: str) -> bool:
    s3 = coffer.client("s3")
    version = s3.head_object(Bucket=coffer.settings.vault_bucket, Key=key)["VersionId"]
    status = s3.get_object_legal_hold(Bucket=coffer.settings.vault_bucket, Key=key, VersionId=version)
    return bool(status["LegalHold"]["Status"] == "ON")


def keys_of(coffer: LocalCoffer, rp: RecoveryPoint) -> tuple[set[str], set[str]]:
    """(manifest and parts, blobs) of a recovery point."""
    manifest = Manifest.model_validate_json(coffer.deps.vault.get_bytes(rp.manifest_key or ""))
    own = {rp.manifest_key or "", *(p.key for p in manifest.parts)}
    blobs = {VaultLayout.blob(rp.vault_name, e.sha256) for p in manifest.parts
             for e in ManifestPart.model_validate(coffer.deps.vault.get_json(p.key)).entries}
    return own, blobs


def test_legal_holds_cover_every_object_and_releasing_one_keeps_what_another_covers(coffer: LocalCoffer) -> None:
    create_sample_bucket(coffer.client("s3"), "evidence")
    first = backup(coffer, "held-1", "evidence")
    coffer.client("s3").put_object(Bucket="evidence", Key="logs/day-03.log", Body=b"evidence changed\n")
    second = backup(coffer, "held-2", "evidence")
    (own1, blobs1), (own2, blobs2) = keys_of(coffer, first), keys_of(coffer, second)
    shared, only1, only2 = blobs1 & blobs2, blobs1 - blobs2, blobs2 - blobs1
    assert len(shared) == 14 and len(only1) == len(only2) == 1

    holds = context().holds()
    by_id = holds.create(parse_model(CreateLegalHoldRequest, {
        "Title": "case 1", "RecoveryPointSelection": {"RecoveryPointIds": [first.recovery_point_id]}}))
    by_range = holds.create(parse_model(CreateLegalHoldRequest, {
        "Title": "case 2", "RecoveryPointSelection": {"VaultNames": ["Default"], "DateRange": {
            "FromDate": second.creation_date.isoformat(), "ToDate": second.creation_date.isoformat()}}}))
    assert by_range.recovery_point_ids == (second.recovery_point_id,)
    assert by_id.objects_held == len(own1) + len(blobs1) and by_range.status.value == "ACTIVE"
    assert all(held(coffer, key) for key in own1 | own2 | blobs1 | blobs2)

    guard = RetentionGuard(holds._holds, context().vaults)  # the check the lifecycle sweeper calls
    after_everything = first.retain_until + timedelta(days=365)
    assert not guard.may_expire(first, after_everything) and not guard.may_expire(second, after_everything)

    holds.release(by_id.legal_hold_id, "case 1 closed")
    assert not any(held(coffer, key) for key in own1 | only1)  # only case 1 covered these
    assert all(held(coffer, key) for key in own2 | shared | only2)  # case 2 still covers these
    assert guard.may_expire(first, after_everything) and not guard.may_expire(second, after_everything)

    holds.release(by_range.legal_hold_id, "case 2 closed")
    assert not any(held(coffer, key) for key in own2 | blobs2)
    ours = {by_id.legal_hold_id, by_range.legal_hold_id}
    assert [h.status.value for h in holds.list() if h.legal_hold_id in ours] == ["CANCELED", "CANCELED"]
    actions = [r.action for r in context().audit.records() if r.target in ours]
    assert actions == ["legalhold.create", "legalhold.create", "legalhold.release", "legalhold.release"]


def test_a_held_recovery_point_is_refused_by_the_governance_bypass_and_by_s3(
        coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    rp = backup(coffer, "bypass")
    assert main(["legalhold", "create", "--title", "audit", "--recovery-point", rp.recovery_point_id, *STACK]) == 0
    hold_id = json.loads(capsys.readouterr().out)["legal_hold_id"]
    with pytest.raises(SystemExit, match="UnderLegalHold"):
        main(["vault", "bypass-governance", "--recovery-point", rp.recovery_point_id, "--reason",
              "testing the bypass", "--confirm", rp.recovery_point_id, *STACK])
    s3, bucket = coffer.client("s3"), coffer.settings.vault_bucket
    version = s3.head_object(Bucket=bucket, Key=rp.manifest_key)["VersionId"]
    with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=bucket, Key=rp.manifest_key, VersionId=version, BypassGovernanceRetention=True)
    assert main(["legalhold", "release", hold_id, "--reason", "done", *STACK]) == 0


def test_the_governance_bypass_is_explicit_audited_first_and_deletes_the_recovery_point(
        coffer: LocalCoffer) -> None:
    rp = backup(coffer, "to-bypass")
    with pytest.raises(SystemExit, match="--confirm"):
        main(["vault", "bypass-governance", "--recovery-point", rp.recovery_point_id, "--reason", "x" * 12,
              "--confirm", "something-else", *STACK])
    with pytest.raises(SystemExit, match="--reason: say why"):
        main(["vault", "bypass-governance", "--recovery-point", rp.recovery_point_id, "--reason", "because",
              "--confirm", rp.recovery_point_id, *STACK])
    assert main(["vault", "bypass-governance", "--recovery-point", rp.recovery_point_id, "--reason",
                 "ticket 42: data must go", "--confirm", rp.recovery_point_id, *STACK]) == 0
    assert coffer.deps.catalog.get_recovery_point(rp.recovery_point_id).status.value == "EXPIRED"
    assert coffer.client("s3").list_object_versions(Bucket=coffer.settings.vault_bucket,
                                                    Prefix=rp.manifest_key).get("Versions", []) == []
    [record] = [r for r in context().audit.records() if r.action == "governance.bypass"]
    assert record.target == rp.recovery_point_id and record.details["reason"] == "ticket 42: data must go"
