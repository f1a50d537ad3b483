"""The tamper-evident audit log on the twin: every control-plane change (vault, lock, restore) is a
hash-chained, Object-Locked record; a removed, altered or hidden record is caught by `coffer audit verify`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from twins import Twins

from coffer.domain.audit import audit_key
from coffer_cli.cli import main
from coffer_cli.commands.vault_context import vault_context
from coffer_cli.local.samples import create_sample_bucket
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
STACK = ["--stack", "coffer-twin"]
BUCKET = "audited-source"


@pytest.fixture
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed:
        create_sample_bucket(deployed.client("s3"), BUCKET)
        yield deployed


def test_audit_verify_catches_a_removed_and_an_altered_record(coffer: LocalCoffer,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    result = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{BUCKET}", "IdempotencyToken": "audited"})
    rp_id = coffer.deps.catalog.get_job(result["output"]["job_id"]).recovery_point_id
    for argv in (["vault", "create", "Audited"], ["vault", "lock", "Audited", "--min-retention-days", "3"],
                 ["vault", "unlock", "Audited"], ["vault", "delete", "Audited"]):
        assert main([*argv, *STACK]) == 0
    restore = coffer.start_restore({"RecoveryPointArn": rp_id, "IdempotencyToken": "audited-r",
                                    "Metadata": {"DestinationBucketName": "audited-restored", "NewBucket": "true"}})
    assert restore["status"] == "SUCCEEDED"
    capsys.readouterr()
    assert main(["audit", "verify", *STACK]) == 0
    assert "6 audit records, head 6: chain intact" in capsys.readouterr().out
    audit = vault_context(argparse.Namespace(stack="coffer-twin", region=None)).audit
    assert [r.action for r in audit.records()] == [  # the backup's own record first (pinned versions)
        "backup.complete", "vault.create", "vault.lock.put", "vault.lock.delete", "vault.delete", "restore.start"]

    # A compromised operator with the governance bypass removes record 3 (the lock)...
    s3, bucket = coffer.client("s3"), coffer.settings.vault_bucket
    version = s3.head_object(Bucket=bucket, Key=audit_key(3))["VersionId"]
    s3.delete_object(Bucket=bucket, Key=audit_key(3), VersionId=version, BypassGovernanceRetention=True)
    assert main(["audit", "verify", *STACK]) == 1
    assert "PROBLEM: record(s) 3 missing" in capsys.readouterr().out
    # ...and rewrites record 5 as a new version on top.
    forged = json.loads(s3.get_object(Bucket=bucket, Key=audit_key(5))["Body"].read())
    forged["record"]["action"] = "vault.lock.put"
    s3.put_object(Bucket=bucket, Key=audit_key(5), Body=json.dumps(forged).encode(), ChecksumAlgorithm="SHA256")
    assert main(["audit", "verify", *STACK]) == 1
    out = capsys.readouterr().out
    assert "record 5 (audit/000000000005.json) altered" in out and "TAMPERED" in out
    # Hiding the newest record behind a delete marker is caught by the chain head in the catalog.
    s3.delete_object(Bucket=bucket, Key=audit_key(6))
    assert main(["audit", "verify", *STACK]) == 1
    assert "record(s) 6..6 missing" in capsys.readouterr().out


def test_concurrent_appends_are_serialised_into_one_unbroken_chain(coffer: LocalCoffer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    audit = vault_context(argparse.Namespace(stack="coffer-twin", region=None)).audit
    with ThreadPoolExecutor(max_workers=6) as pool:
        records = list(pool.map(lambda n: audit.append("plan.update", f"plan-{n % 3}", {"n": n}), range(18)))
    assert sorted(r.seq for r in records) == list(range(1, 19))  # each append got its own sequence number
    report = audit.verify()
    assert report.ok and report.records == 18 and report.head is not None and report.head.seq == 18


def test_an_append_that_died_before_moving_the_head_is_adopted_not_lost(coffer: LocalCoffer) -> None:
    from coffer.domain.audit import ChainHead, next_record, stored_form

    audit = vault_context(argparse.Namespace(stack="coffer-twin", region=None)).audit
    first = audit.append("vault.create", "A", {})
    # A writer puts record 2 into the vault, then dies before it moves the chain head.
    orphan = next_record(ChainHead(1, first.digest()), first.at, "a dying writer", "vault.lock.put", "A", {})
    coffer.deps.vault.put_locked(audit_key(2), stored_form(orphan), first.at.replace(year=first.at.year + 1))
    assert audit.verify().ok  # a record past the head is an append in flight, not tampering
    third = audit.append("vault.delete", "A", {})
    assert third.seq == 3 and third.prev_hash == orphan.digest()
    assert [r.action for r in audit.records()] == ["vault.create", "vault.lock.put", "vault.delete"]
    assert audit.verify().ok
