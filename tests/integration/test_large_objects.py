"""S3 objects over the multipart threshold, on the twin: copied in parts, addressed by S3's composite SHA-256.

Small thresholds through the template's parameters: objects over 6 MiB are copied in 5 MiB parts (S3's, and
moto's, minimum part size), at most 2 parts per invocation. The sample bucket's 8 MiB object (2 parts) is copied
by its CopyBatch; an 11 MiB object (3 parts) is deferred to the part-range fan-out: the Backup workflow's, and
the Restore and Copy workflows' (no invocation copies more than 2 parts). One twin runs the story: backup,
restore, incremental backup, a part range failing for good (backup, restore, copy), copy to another region,
verify, tampering.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from pathlib import Path

import pytest
from twins import Twins

from coffer.adapters.checksums import b64_to_hex
from coffer.domain.errors import IntegrityError
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobState
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry, VaultLayout, WorkLayout
from coffer.domain.verify import FindingKind
from coffer.entrypoints.bootstrap import bootstrap
from coffer_cli.cli import main
from coffer_cli.commands.common import stack_settings
from coffer_cli.local.copy_destinations import DESTINATION_REGION, prepare_copy_destination, session_in, vault_arn
from coffer_cli.local.samples import BIG_OBJECT_BYTES, bucket_snapshot, create_sample_bucket
from coffer_cli.local.session import LocalCoffer
from coffer_twin.calls import AwsCall, CallRecorder, observing
from coffer_twin.faults import FaultInjector, FaultKind

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "large-source"
MIB = 1024 * 1024
PARAMETERS = {"MultipartThresholdBytes": str(6 * MIB), "PartSizeBytes": str(5 * MIB), "PartsPerInvocation": "2"}
HUGE_KEY = "video/huge.bin"
HUGE = bytes(range(256)) * (11 * MIB // 256) + b"tail"  # 11 MiB + 4 bytes: parts of 5, 5 and 1 MiB


def composite_hex(body: bytes, part_size: int) -> tuple[str, int]:
    digests = [hashlib.sha256(body[i:i + part_size]).digest() for i in range(0, len(body), part_size)]
    return hashlib.sha256(b"".join(digests)).hexdigest(), len(digests)


def entries_of(coffer: LocalCoffer, recovery_point_id: str) -> dict[str, ObjectEntry]:
    rp = coffer.deps.catalog.get_recovery_point(recovery_point_id)
    manifest = Manifest.model_validate_json(coffer.deps.vault.get_bytes(rp.manifest_key or ""))
    return {e.key: e for ref in manifest.parts
            for e in ManifestPart.model_validate(coffer.deps.vault.get_json(ref.key)).entries}


def backup(coffer: LocalCoffer, token: str) -> str:
    result = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{BUCKET}", "IdempotencyToken": token})
    assert result["status"] == "SUCCEEDED", result
    return str(result["output"]["job_id"])


def composite_of(s3: object, bucket: str, key: str) -> tuple[str, int]:
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")  # type: ignore[attr-defined]
    reported, parts = head["ChecksumSHA256"].rsplit("-", 1)  # S3's composite checksum: <base64>-<parts>
    assert head["ChecksumType"] == "COMPOSITE"
    return b64_to_hex(reported), int(parts)


class PartsPerInvocation:
    """UploadPartCopy calls per Lambda invocation. The twin runs a handler in the thread that invoked it, and an
    Invoke is observed once it is over: a thread's part copies since its last Invoke belong to that invocation."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self._open: defaultdict[int, int] = defaultdict(int)
        self._lock = threading.Lock()

    def __call__(self, call: AwsCall) -> None:
        with self._lock:
            if (call.service, call.operation) == ("s3", "UploadPartCopy") and call.status == 200:
                self._open[threading.get_ident()] += 1
            elif (call.service, call.operation) == ("lambda", "Invoke"):
                self.counts.append(self._open.pop(threading.get_ident(), 0))


def manifest_parts(coffer: LocalCoffer, recovery_point_id: str) -> int:
    rp = coffer.deps.catalog.get_recovery_point(recovery_point_id)
    return len(Manifest.model_validate_json(coffer.deps.vault.get_bytes(rp.manifest_key or "")).parts)


def test_large_objects_back_up_in_parts_restore_byte_identical_are_reused_copied_and_verified(twins: Twins) -> None:
    """One twin on purpose (a deploy costs seconds): backup, restore, incremental, copy, verify, tampering."""
    with twins.fresh(PARAMETERS) as coffer:
        s3 = coffer.client("s3")
        create_sample_bucket(s3, BUCKET)
        s3.put_object(Bucket=BUCKET, Key=HUGE_KEY, Body=HUGE, ContentType="video/mp4", Metadata={"camera": "a"},
                      Tagging="retention=long")

        # -- backup: the 8 MiB object in its batch, the 11 MiB one through the part-range fan-out
        job = coffer.deps.catalog.get_job(backup(coffer, "large-1"))
        assert job.state is JobState.COMPLETED, job.status_message
        assert (job.progress.objects, job.progress.objects_copied) == (16, 16)
        # round 0 and round 1: 2 range files (parts 1-2, 3) and 1 finish each; 3 rounds looked for
        assert coffer.twin.invocations["CopyLargeObjectFunction"] == 3 + 2 * (2 + 1)
        entries = entries_of(coffer, job.recovery_point_id)
        huge, big = entries[HUGE_KEY], entries["archive/big.bin"]
        for entry, body in ((huge, HUGE), (big, None)):
            assert entry.checksum_type == "COMPOSITE" and entry.part_size == 5 * MIB
            blob = VaultLayout.blob_of("Default", entry)
            assert blob == f"vaults/Default/blobs/sha256-composite/{entry.sha256}-{entry.parts}"
            assert composite_of(s3, coffer.settings.vault_bucket, blob) == (entry.sha256, entry.parts)
            head = s3.head_object(Bucket=coffer.settings.vault_bucket, Key=blob)
            assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"] >= job.created_at
            if body is not None:
                assert (entry.sha256, entry.parts) == composite_hex(body, 5 * MIB) and entry.parts == 3
        assert big.parts == 2 and big.size == BIG_OBJECT_BYTES
        small = entries["README.txt"]  # small objects keep their full-object address and entry
        assert small.checksum_type == "FULL_OBJECT" and VaultLayout.blob_of("Default", small).split("/")[-2] == "sha256"
        part_doc = next(coffer.deps.vault.get_json(ref.key) for ref in Manifest.model_validate_json(
            coffer.deps.vault.get_bytes(VaultLayout.manifest("Default", job.recovery_point_id))).parts)
        assert all("checksum_type" not in e for e in part_doc["entries"] if e["key"] == "README.txt")
        for bucket in (coffer.settings.work_bucket, coffer.settings.vault_bucket):  # nothing left half-done
            assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        # the objects copied in parts leave no staging copy, nor do those small enough to be hashed in Lambda
        # (HashInLambdaMaxBytes, 1 MiB by default); the other single-CopyObject ones' staging copies are left to the
        # work bucket's expire-staging rule (tests/integration/test_object_costs.py)
        staged = s3.list_objects_v2(Bucket=coffer.settings.work_bucket, Prefix=f"staging/{job.job_id}/")["KeyCount"]
        assert staged == sum(not e.composite and e.size > MIB for e in entries.values())
        assert s3.list_objects_v2(Bucket=coffer.settings.work_bucket,
                                  Prefix=f"jobs/{job.job_id}/staging/")["KeyCount"] == 0  # the parts' own, deleted

        # -- restore: byte-identical, with headers, metadata and tags; S3's composite checksum checked again. The
        # 11 MiB object through the Restore workflow's part-range fan-out, in RestoreBatch: per manifest part one
        # child, then one find, 2 ranges (parts 1-2, 3), 1 finish; no invocation copies more than 2 parts.
        parts = manifest_parts(coffer, job.recovery_point_id)
        before = coffer.twin.invocations["RestoreBatchFunction"]
        copies = PartsPerInvocation()
        with observing(copies), CallRecorder() as calls:
            restored = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": "r-large",
                                             "Metadata": {"DestinationBucketName": "large-restored",
                                                          "DestinationPrefix": "restored/"}})
        assert restored["status"] == "SUCCEEDED", restored
        # a deferred blob is asked back from the archive before its upload starts (here: not archived, readable)
        huge_keys = (VaultLayout.blob_of("Default", huge), f"restored/{HUGE_KEY}")
        thaw_then_upload = ["RestoreObject", "CreateMultipartUpload"]
        assert [c.operation for c in calls.calls if c.caller == "RestoreBatchFunction"
                and c.bucket_and_key[1] in huge_keys and c.operation in thaw_then_upload] == thaw_then_upload
        assert coffer.deps.catalog.get_job(job_id_for("r-large")).state is JobState.COMPLETED
        assert coffer.twin.invocations["RestoreBatchFunction"] == before + parts + 1 + 2 + 1
        assert sum(copies.counts) == 3 + 2 and max(copies.counts) == 2, copies.counts  # huge: 2 + 1; big: 2
        # (into a new bucket: restores never take over the source, which is not versioned here)
        original = bucket_snapshot(s3, BUCKET)
        assert bucket_snapshot(s3, "large-restored", prefix="restored/") == original
        assert original[HUGE_KEY]["metadata"] == {"camera": "a"} and original[HUGE_KEY]["tags"] == {"retention": "long"}
        assert s3.get_object(Bucket="large-restored", Key=f"restored/{HUGE_KEY}")["Body"].read() == HUGE
        assert composite_of(s3, "large-restored", f"restored/{HUGE_KEY}") == (huge.sha256, huge.parts)

        # -- a restore's part range that cannot be copied: the upload is aborted, the restore PARTIAL with the key
        with FaultInjector() as faults:  # part 3 exists only for the 11 MiB object
            faults.fail(FaultKind.ACCESS_DENIED, "s3", "UploadPartCopy", caller="RestoreBatchFunction",
                        url_contains="partNumber=3", times=None)
            partial = coffer.start_restore({"RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": "r-part",
                                            "Metadata": {"DestinationBucketName": "large-partial",
                                                         "DestinationPrefix": "partial/"}})
        assert partial["status"] == "SUCCEEDED", partial
        partial_job = coffer.deps.catalog.get_job(job_id_for("r-part"))
        assert partial_job.state is JobState.PARTIAL, partial_job.status_message
        assert [k.split(" ")[0] for k in partial_job.progress.failed_keys] == [HUGE_KEY]
        assert "were not copied" in partial_job.progress.failed_keys[0]
        assert partial_job.progress.objects == len(original) - 1
        assert s3.list_multipart_uploads(Bucket="large-partial").get("Uploads", []) == []
        left = bucket_snapshot(s3, "large-partial", prefix="partial/")
        assert HUGE_KEY not in left and left == {k: v for k, v in original.items() if k != HUGE_KEY}

        # -- incremental: unchanged large objects are reused, nothing is copied in parts again
        before = coffer.twin.invocations["CopyLargeObjectFunction"]
        again = coffer.deps.catalog.get_job(backup(coffer, "large-2"))
        assert again.state is JobState.COMPLETED
        assert (again.progress.objects_copied, again.progress.objects_reused) == (0, 16)
        assert coffer.twin.invocations["CopyLargeObjectFunction"] == before + 1  # round 0 found nothing deferred
        assert entries_of(coffer, again.recovery_point_id)[HUGE_KEY] == huge

        # -- a part range that cannot be copied: the upload is aborted, the job PARTIAL with the object's key
        s3.put_object(Bucket=BUCKET, Key=HUGE_KEY, Body=HUGE[::-1])
        with FaultInjector() as faults:
            faults.fail(FaultKind.ACCESS_DENIED, "s3", "UploadPartCopy", caller="CopyLargeObjectFunction", times=None)
            failed = coffer.deps.catalog.get_job(backup(coffer, "large-3"))
        assert failed.state is JobState.PARTIAL
        assert [k.split(" ")[0] for k in failed.progress.failed_keys] == [HUGE_KEY], failed.progress.failed_keys
        assert "were not copied" in failed.progress.failed_keys[0]
        assert s3.list_multipart_uploads(Bucket=coffer.settings.work_bucket).get("Uploads", []) == []

        # -- copy to a vault in another region: the blobs copied in the parts they were stored with; the 11 MiB one
        # through the Copy workflow's part-range fan-out, in CopyPart. A copy is all or nothing: a range that
        # cannot be copied fails the job with the key, its upload aborted; the copy asked again completes.
        outputs = prepare_copy_destination(coffer, ROOT)
        destination = bootstrap(stack_settings(outputs, session_in(DESTINATION_REGION)),
                            session=session_in(DESTINATION_REGION))
        target = session_in(DESTINATION_REGION).client("s3")

        def copy(token: str) -> Job:
            [execution] = coffer.twin.put_event("coffer", "StartCopyJob", {
                "RecoveryPointArn": job.recovery_point_id, "IdempotencyToken": token,
                "DestinationBackupVaultArn": vault_arn(DESTINATION_REGION, coffer.twin.account_id)},
                bus=coffer.request_bus)
            coffer.twin.wait(execution, timeout=120)
            return coffer.deps.catalog.get_job(job_id_for(token))

        with FaultInjector() as faults:  # part 3 exists only for the 11 MiB object
            faults.fail(FaultKind.ACCESS_DENIED, "s3", "UploadPartCopy", caller="CopyPartFunction",
                        url_contains="partNumber=3", times=None)
            refused = copy("copy-fails")
        assert refused.state is JobState.FAILED and HUGE_KEY in (refused.status_message or ""), refused.status_message
        assert "were not copied" in (refused.status_message or "")
        assert target.list_multipart_uploads(Bucket=destination.settings.vault_bucket).get("Uploads", []) == []

        before = coffer.twin.invocations["CopyPartFunction"]
        copies = PartsPerInvocation()
        with observing(copies):
            copy_job = copy("copy-large")
        assert copy_job.state is JobState.COMPLETED and copy_job.destination is not None, copy_job.status_message
        # per manifest part one child, then one find, 2 ranges, 1 finish, 1 seal of the part that waited for it; the
        # 8 MiB blob is there from the first try
        assert coffer.twin.invocations["CopyPartFunction"] == before + parts + 1 + 2 + 1 + 1
        assert sum(copies.counts) == 3 and max(copies.counts) == 2, copies.counts
        copied = destination.catalog.get_recovery_point(copy_job.destination.recovery_point_id)
        for entry in (huge, big):
            blob = VaultLayout.blob_of("Default", entry)
            assert composite_of(target, destination.settings.vault_bucket, blob) == (entry.sha256, entry.parts)
            head = target.head_object(Bucket=destination.settings.vault_bucket, Key=blob)
            assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"] >= job.created_at
        assert target.get_object(Bucket=destination.settings.vault_bucket,
                                 Key=VaultLayout.blob_of("Default", huge))["Body"].read() == HUGE
        assert target.list_multipart_uploads(Bucket=destination.settings.vault_bucket).get("Uploads", []) == []
        assert copied.backup_size_bytes == sum(e.size for e in entries.values())
        # every blob of the copy pinned at its destination version, the fanned-out one too (written by its finish)
        bucket = destination.settings.vault_bucket
        manifest = Manifest.model_validate_json(target.get_object(
            Bucket=bucket, Key=copied.manifest_key or "", VersionId=copied.manifest_version_id or "")["Body"].read())
        pins = {e.key: e.blob_version_id for ref in manifest.parts for e in ManifestPart.model_validate_json(
            target.get_object(Bucket=bucket, Key=ref.key, VersionId=ref.version_id or "")["Body"].read()).entries}
        for entry in (huge, big):
            head = target.head_object(Bucket=bucket, Key=VaultLayout.blob_of("Default", entry))
            assert pins[entry.key] == head["VersionId"], (entry.key, pins)
        # the part that waited lives in the work area, not the vault: one rewritten there (another key planted) is
        # refused by the seal, the part as the copy wrote it is not
        work = coffer.settings.work_bucket
        [pending] = [o["Key"] for o in s3.list_objects_v2(
            Bucket=work, Prefix=WorkLayout.pending_parts_prefix(copy_job.job_id)).get("Contents", [])]
        written = json.loads(s3.get_object(Bucket=work, Key=pending)["Body"].read())
        assert coffer.deps.copy_batches.seal_part(copy_job.job_id, pending).failed == 0
        planted = json.loads(json.dumps(written))
        planted["part"]["entries"][0]["key"] = "planted-by-whoever-writes-the-work-bucket"
        s3.put_object(Bucket=work, Key=pending, Body=json.dumps(planted).encode())
        with pytest.raises(IntegrityError, match="is not the pending part copy job"):
            coffer.deps.copy_batches.seal_part(copy_job.job_id, pending)

        # -- verify: clean by S3's stored checksums and by re-reading (deep); a rewritten blob is caught. Verify also
        # compares the bucket policy with the template's: the twin stores it (not evaluated) and the vaults' statements
        # are applied, as after a deploy.
        verifier = coffer.deps.verifier
        with coffer.twin.bucket_policies_stored():
            assert main(["vault", "apply-policies", "--stack", coffer.twin.stack_name]) == 0
            for deep in (False, True):
                tally, findings = verifier.run(["Default"], deep=deep)
                assert tally.problems == 0, findings
            blob = VaultLayout.blob_of("Default", huge)
            # A versioned bucket accepts a new version on top of a locked one; the lock keeps the old one.
            s3.put_object(Bucket=coffer.settings.vault_bucket, Key=blob, Body=HUGE[:-4] + b"TAMP",
                          ChecksumAlgorithm="SHA256")
            for deep in (False, True):
                _, findings = verifier.run(["Default"], deep=deep)
                # the manifest pins the blob's VersionId: the forged version on top is a newer version, the pinned
                # one is intact (and still what a restore reads)
                assert [(f.kind, f.key) for f in findings if f.problem] == [(FindingKind.NEWER_VERSION, blob)], \
                    findings
