"""Objects copied in parts: part planning, S3's composite SHA-256, content addresses, settings (pure, no AWS)."""

from __future__ import annotations

import base64
import hashlib
from types import SimpleNamespace

import pytest

from coffer.domain.errors import InvalidInput
from coffer.domain.jobs import JobProgress
from coffer.domain.manifest import ObjectEntry, VaultLayout
from coffer.domain.multipart import (
    GIB,
    MAX_PARTS,
    MIB,
    composite_of_stream,
    composite_sha256,
    part_count,
    part_ranges,
    part_size_for,
    split_composite,
)
from coffer.services.backup_jobs import BackupJobs
from coffer.services.large_objects import fanout_seq, large_seq
from coffer.services.restore_jobs import failed_keys
from coffer.settings import Settings

ENV = {"CATALOG_TABLE": "t", "VAULT_BUCKET": "v", "WORK_BUCKET": "w", "VAULT_KEY_ARN": "k", "AWS_REGION": "eu-west-1"}
ENTRY = {"key": "k", "size": 11, "etag": "e", "last_modified": "2026-11-26T00:00:00+00:00", "sha256": "ab" * 32}


def test_parts_cover_the_object_exactly_with_a_short_last_part() -> None:
    ranges = list(part_ranges(11 * MIB + 4, 5 * MIB))
    assert [(r.number, r.first, r.last) for r in ranges] == [
        (1, 0, 5 * MIB - 1), (2, 5 * MIB, 10 * MIB - 1), (3, 10 * MIB, 11 * MIB + 3)]
    assert ranges[2].copy_source_range == f"bytes={10 * MIB}-{11 * MIB + 3}"
    assert [r.number for r in part_ranges(11 * MIB, 5 * MIB, first_part=2, last_part=3)] == [2, 3]
    assert part_count(10 * MIB, 5 * MIB) == 2 and part_count(1, 5 * MIB) == 1


def test_the_part_size_is_the_configured_one_unless_the_object_needs_over_10000_parts() -> None:
    assert part_size_for(6 * GIB, 512 * MIB) == 512 * MIB
    five_tib = 5 * 1024 * GIB
    size = part_size_for(five_tib, 512 * MIB)  # 5 TiB in 512 MiB parts would be 10,240 parts
    assert size % MIB == 0 and part_count(five_tib, size) <= MAX_PARTS < part_count(five_tib, size - MIB)
    assert part_size_for(five_tib, size) == size  # deterministic: the same size always gets the same parts


def test_the_composite_checksum_is_s3s_checksum_of_the_part_checksums() -> None:
    body = bytes(range(256)) * 1000 + b"end"
    parts = [body[i:i + 100_000] for i in range(0, len(body), 100_000)]
    expected = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).hexdigest()
    assert composite_sha256([hashlib.sha256(p).digest() for p in parts]) == expected
    # re-hashing a stream in any chunking gives the same composite (deep verify)
    chunks = iter([body[i:i + 7777] for i in range(0, len(body), 7777)])
    assert composite_of_stream(chunks, 100_000) == (expected, 3, len(body))
    assert composite_of_stream(iter([]), 100_000)[1:] == (1, 0)
    reported = base64.b64encode(bytes.fromhex(expected)).decode() + "-3"  # as S3 reports it
    assert split_composite(reported) == (reported[:-2], 3)
    with pytest.raises(ValueError, match="not a composite checksum"):
        split_composite("abc=")


def test_large_blobs_are_addressed_apart_and_small_entries_are_unchanged() -> None:
    small = ObjectEntry.model_validate(ENTRY)
    assert VaultLayout.blob_of("V", small) == VaultLayout.blob("V", "ab" * 32) == f"vaults/V/blobs/sha256/{'ab' * 32}"
    assert set(small.model_dump(mode="json")) == set(ENTRY) | {
        "version_id", "blob_version_id", "content_type", "cache_control", "content_disposition", "content_encoding",
        "content_language", "metadata", "tags"}  # no multipart fields: manifests of small objects read as before
    # (blob_version_id: its blob's pinned vault version; null in entries written before versions were pinned)
    large = ObjectEntry.model_validate({**ENTRY, "checksum_type": "COMPOSITE", "parts": 3, "part_size": 5 * MIB})
    assert VaultLayout.blob_of("V", large) == f"vaults/V/blobs/sha256-composite/{'ab' * 32}-3"
    assert ObjectEntry.model_validate_json(large.model_dump_json()) == large
    assert large.model_dump()["checksum_type"] == "COMPOSITE"


def test_multipart_settings_default_to_s3s_limits_and_bad_values_name_their_variable() -> None:
    settings = Settings.from_env(ENV)
    assert (settings.multipart_threshold_bytes, settings.part_size_bytes, settings.parts_per_invocation) == (
        5 * GIB, 512 * MIB, 10)
    with pytest.raises(InvalidInput) as refused:
        Settings.from_env({**ENV, "PART_SIZE_BYTES": str(MIB), "MULTIPART_THRESHOLD_BYTES": str(6 * GIB),
                           "PARTS_PER_INVOCATION": "many"})
    assert refused.value.problems == [
        f"environment: MULTIPART_THRESHOLD_BYTES: {6 * GIB} is not between 1 and {5 * GIB}",
        f"environment: PART_SIZE_BYTES: {MIB} is not between {5 * MIB} and {5 * GIB}",
        "environment: PARTS_PER_INVOCATION: 'many' is not a whole number"]


def test_a_deferred_object_whose_copy_never_finished_is_a_failed_key() -> None:
    """A batch names the objects it deferred to the part-range fan-out; without the object's own result record
    (its finish step failed for good) CompleteBackup lists it failed, so the job is PARTIAL, never COMPLETED."""
    part = {"seq": 0, "key": "vaults/V/recovery-points/rp/parts/00000000.json", "sha256": "0" * 64, "objects": 1,
            "bytes": 1}
    records = [
        {"seq": 0, "part": part, "copied": 1, "reused": 0, "bytes_copied": 1, "failed": [],
         "deferred": [{"key": "big/done.bin", "seq": large_seq(0, 1)},
                      {"key": "big/lost.bin", "seq": large_seq(0, 2)}]},
        {"seq": large_seq(0, 1), "part": {**part, "seq": large_seq(0, 1)}, "copied": 1, "reused": 0,
         "bytes_copied": 1, "failed": []},
    ]
    jobs = BackupJobs.__new__(BackupJobs)
    jobs._catalog = SimpleNamespace(list_parts=lambda job_id: iter(records))  # type: ignore[assignment]
    job = SimpleNamespace(job_id="j", progress=JobProgress(batches_total=1))
    parts, progress, failed = jobs._collect_parts(job)  # type: ignore[arg-type]
    assert failed == ["big/lost.bin (large object copy did not finish)"]
    assert [p.seq for p in parts] == [0, large_seq(0, 1)] and progress.objects == 2


def test_a_restores_deferred_objects_are_restored_failed_or_named_failed_without_a_result() -> None:
    """A restore's part names the blobs it deferred to the part-range fan-out; each finish writes its own result
    (restored, or failed with its reason); one without a result (its finish failed for good) is a failed key."""
    records = [
        {"seq": 0, "restored": 3, "failed": [{"key": "a.txt", "reason": "AccessDenied"}],
         "deferred": [{"key": "big/done.bin", "seq": fanout_seq(0, 4)}, {"key": "big/bad.bin", "seq": fanout_seq(0, 5)},
                      {"key": "big/lost.bin", "seq": fanout_seq(0, 6)}]},
        {"seq": fanout_seq(0, 4), "fanout": "big/done.bin", "restored": 1, "planned": 0, "failed": []},
        {"seq": fanout_seq(0, 5), "fanout": "big/bad.bin", "restored": 0, "planned": 0,
         "failed": [{"key": "big/bad.bin", "reason": "IntegrityError: parts [3] of 3 were not copied"}]},
    ]
    assert failed_keys(records) == ["a.txt (AccessDenied)", "big/bad.bin (IntegrityError: parts [3] of 3 were not "
                                    "copied)", "big/lost.bin (its copy in parts did not finish)"]
    assert sum(r["restored"] for r in records) == 4


def test_fanout_results_are_numbered_apart_from_every_manifest_part() -> None:
    """Result records of restores' and copies' deferred blobs share the job's records with the manifest parts'
    (whose seqs are batch seqs, or large_seq of a backup's deferred object): they never collide."""
    assert fanout_seq(0, 0) > large_seq(10**9, 99_999)
    seen = {fanout_seq(part, index) for part in (0, 1, large_seq(0, 0), large_seq(0, 1)) for index in (0, 1, 99_999)}
    assert len(seen) == 12
