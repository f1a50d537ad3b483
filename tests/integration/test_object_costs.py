"""What an S3 backup pays per object (issue 16): tags read only where S3's tag events or the rolling refresh say
so (domain/tag_freshness.py), a new object in at most 3 calls, staging copies left to a lifecycle rule.

Counted on the twin at botocore's send (coffer_twin.calls.CallRecorder), as bench/ counts them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from twins import Twins

from coffer.domain.clock import FixedClock
from coffer.domain.manifest import Manifest, ManifestPart, ObjectEntry, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint
from coffer.domain.tag_freshness import is_refresh_day
from coffer_cli.local.session import LocalCoffer
from coffer_twin.calls import CallRecorder

START = (datetime.now(UTC) - timedelta(days=300)).replace(hour=1, minute=0, second=0, microsecond=0)
REFRESH = 3  # TagRefreshDays: a lost tag event is caught within this many days
KEYS = [f"k{n:02d}" for n in range(12)]
#: the calls S3 makes per object (listing, the vault's manifest parts and the work bucket's batch files aside)
PER_OBJECT = ("HeadObject", "GetObject", "GetObjectTagging", "CopyObject", "DeleteObject", "PutObjectRetention",
              "GetObjectRetention", "PutObjectTagging")
#: HashInLambdaMaxBytes here: objects of at most this many bytes are read and hashed in Lambda, larger ones staged
HASHED_UP_TO = 64


@pytest.fixture(scope="module")
def twin(twins: Twins) -> Iterator[tuple[LocalCoffer, FixedClock]]:
    clock = FixedClock(START)
    with twins.fresh({"LockSlackDays": "14", "TagRefreshDays": str(REFRESH),
                      "HashInLambdaMaxBytes": str(HASHED_UP_TO)}, clock=clock) as coffer:
        yield coffer, clock


def backup(coffer: LocalCoffer, bucket: str, token: str) -> tuple[RecoveryPoint, CallRecorder, dict[str, Any]]:
    coffer.twin.wait_for_async()  # tag events reach RecordObjectChange asynchronously, as EventBridge invokes it
    with CallRecorder() as calls:
        result = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": token,
                                      "Lifecycle": {"DeleteAfterDays": 35}})
    assert result["status"] == "SUCCEEDED", result
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    return coffer.deps.catalog.get_recovery_point(job.recovery_point_id), calls, job.progress.model_dump()


def source_calls(calls: CallRecorder, bucket: str, operation: str) -> list[str]:
    """The keys of `bucket` that `operation` touched."""
    return sorted(str(c.bucket_and_key[1]) for c in calls.select(service="s3", operation=operation)
                  if c.bucket_and_key[0] == bucket)


def entries(coffer: LocalCoffer, rp: RecoveryPoint) -> dict[str, ObjectEntry]:
    vault = coffer.deps.vault
    manifest = Manifest.model_validate_json(vault.get_bytes(rp.manifest_key or ""))
    return {e.key: e for part in manifest.parts for e in ManifestPart.model_validate(vault.get_json(part.key)).entries}


def with_events(coffer: LocalCoffer, bucket: str) -> None:
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    for n, key in enumerate(KEYS):
        s3.put_object(Bucket=bucket, Key=key, Body=f"object {n} of {bucket}".encode(),
                      **({"Tagging": f"team=t{n}"} if n % 2 else {}))


def tag_rule(coffer: LocalCoffer) -> str:
    rules = coffer.client("events").list_rules()["Rules"]
    return next(r["Name"] for r in rules if "ObjectChange" in r["Name"])


def test_an_unchanged_object_costs_no_s3_call_unless_its_tags_changed_or_its_refresh_day_came(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    coffer, clock = twin
    s3 = coffer.client("s3")
    with_events(coffer, "tags-evented")
    clock.set(START)
    backup(coffer, "tags-evented", "evented-0")

    # day 1: k03's tags change (its event arrives); nothing else does
    s3.put_object_tagging(Bucket="tags-evented", Key="k03", Tagging={"TagSet": [{"Key": "team", "Value": "new"}]})
    day = START + timedelta(days=1)
    clock.set(day)
    rp, calls, progress = backup(coffer, "tags-evented", "evented-1")
    due = sorted({"k03"} | {k for k in KEYS if is_refresh_day(k, day.date(), REFRESH)})
    assert source_calls(calls, "tags-evented", "GetObjectTagging") == due  # exactly these keys' tags re-read
    for operation in PER_OBJECT:
        if operation != "GetObjectTagging":
            assert source_calls(calls, "tags-evented", operation) == [], operation
    assert entries(coffer, rp)["k03"].tags == {"team": "new"}  # the next recovery point carries the new tags
    assert progress["tag_events"] is True and progress["warnings"] == []
    # every key not due cost no S3 call at all; each recovery point still names every object with its tags
    assert {k: e.tags for k, e in entries(coffer, rp).items()} == {
        k: ({"team": "new"} if k == "k03" else {"team": f"t{n}"} if n % 2 else {}) for n, k in enumerate(KEYS)}


def test_a_tag_change_whose_event_is_lost_is_recorded_within_the_refresh_bound(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    """The attack: tags changed while their event is suppressed (the rule off) must not stay recorded stale for
    more than TagRefreshDays days."""
    coffer, clock = twin
    s3, events = coffer.client("s3"), coffer.client("events")
    with_events(coffer, "tags-lost")
    base = START + timedelta(days=20)
    clock.set(base)
    backup(coffer, "tags-lost", "lost-0")
    rule = tag_rule(coffer)
    events.disable_rule(Name=rule)
    try:
        for key in KEYS:
            s3.put_object_tagging(Bucket="tags-lost", Key=key, Tagging={"TagSet": [{"Key": "secret", "Value": "1"}]})
        coffer.twin.wait_for_async()
    finally:
        events.enable_rule(Name=rule)
    caught: dict[str, int] = {}
    for offset in range(1, REFRESH + 1):
        day = base + timedelta(days=offset)
        clock.set(day)
        rp, calls, _ = backup(coffer, "tags-lost", f"lost-{offset}")
        read = source_calls(calls, "tags-lost", "GetObjectTagging")
        assert read == sorted(k for k in KEYS if is_refresh_day(k, day.date(), REFRESH))  # ~1/N a day, no spike
        for key, entry in entries(coffer, rp).items():
            if entry.tags == {"secret": "1"}:
                caught.setdefault(key, offset)
            else:
                assert key not in caught, f"{key}'s new tags were recorded, then lost again"
    # the bound: every key's new tags are recorded within REFRESH days of a lost event
    assert sorted(caught) == KEYS and max(caught.values()) <= REFRESH, caught


def test_a_new_object_costs_at_most_three_calls_and_a_tagged_one_one_more(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    coffer, clock = twin
    s3 = coffer.client("s3")
    with_events(coffer, "tags-new")
    clock.set(START + timedelta(days=40))
    backup(coffer, "tags-new", "new-0")
    s3.put_object(Bucket="tags-new", Key="plain", Body=b"a new untagged object")
    s3.put_object(Bucket="tags-new", Key="tagged", Body=b"a new tagged object", Tagging="a=1")
    larger = b"a new untagged object larger than HashInLambdaMaxBytes: S3 hashes its staging copy" * 2
    assert len(larger) > HASHED_UP_TO
    s3.put_object(Bucket="tags-new", Key="huge", Body=larger)
    s3.put_object(Bucket="tags-new", Key="wide-tagged", Body=larger + b"!", Tagging="a=2")
    s3.put_object(Bucket="tags-new", Key="summed", Body=b"a new object with S3's SHA-256", ChecksumAlgorithm="SHA256")
    s3.put_object(Bucket="tags-new", Key="copy-of-k01", Body=b"object 1 of tags-new",  # content the vault holds
                  ChecksumAlgorithm="SHA256")
    day = START + timedelta(days=41)
    clock.set(day)
    rp, calls, _ = backup(coffer, "tags-new", "new-1")
    s3_calls = [c for c in calls.select(service="s3") if c.operation in PER_OBJECT]

    def cost(key: str) -> list[str]:
        """The S3 calls made for one new object: on the source, its staging copy and its vault blob."""
        entry = entries(coffer, rp)[key]
        blob = VaultLayout.blob_of(rp.vault_name, entry)
        made = []
        for call in s3_calls:
            bucket, name = call.bucket_and_key
            copied_from = call.headers.get("x-amz-copy-source", "")
            if (bucket, name) == ("tags-new", key) or name == blob \
                    or (name and name.startswith("staging/") and f"tags-new/{key}" in unquote(copied_from)):
                made.append(call.operation)
        return sorted(made)

    # untagged, no checksum yet, small: one GetObject (headers, and the bytes hashed in Lambda), the vault CopyObject
    assert cost("plain") == ["CopyObject", "GetObject"]
    # tagged: one GetObjectTagging more (GetObject's TagCount says it has tags) - 3 calls
    assert cost("tagged") == ["CopyObject", "GetObject", "GetObjectTagging"]
    # larger than HashInLambdaMaxBytes: HeadObject, a staging CopyObject (S3 computes the SHA-256), the vault copy
    assert cost("huge") == ["CopyObject", "CopyObject", "HeadObject"]
    assert cost("wide-tagged") == ["CopyObject", "CopyObject", "GetObjectTagging", "HeadObject"]
    # S3 has its SHA-256 already: its GetObject's body is left unread, straight into the vault
    assert cost("summed") == ["CopyObject", "GetObject"]
    # the vault copies were pinned to what was read and checked against the address (an IntegrityError otherwise)
    for key in ("plain", "tagged", "huge"):
        assert entries(coffer, rp)[key].sha256 == hashlib.sha256(
            s3.get_object(Bucket="tags-new", Key=key)["Body"].read()).hexdigest()
    # content the catalog's blob records know: one GetObject and nothing else (no HeadObject of the vault)
    # (its blob, shared with k01, is also extended on its own day in every LockSlackDays: that is the blob's, not
    # this object's - tests/integration/test_lock_slack.py)
    shared = VaultLayout.blob_of(rp.vault_name, entries(coffer, rp)["copy-of-k01"])
    rolling = ["PutObjectRetention"] if is_refresh_day(shared, day.date(), 14) else []
    on_source = [c.operation for c in s3_calls if c.bucket_and_key == ("tags-new", "copy-of-k01")]
    on_blob = sorted({c.operation for c in s3_calls if c.bucket_and_key[1] == shared})
    assert on_source == ["GetObject"] and on_blob == rolling, (on_source, on_blob)
    assert all(c.operation != "DeleteObject" for c in s3_calls)  # staging copies go by lifecycle rule
    assert entries(coffer, rp)["tagged"].tags == {"a": "1"}


def test_a_staging_copy_is_never_restorable_and_expires_by_the_work_buckets_lifecycle_rule(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    coffer, clock = twin
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket="staged")
    s3.put_object(Bucket="staged", Key="a", Body=b"staged content, more bytes than HashInLambdaMaxBytes says to read"
                  b" and hash in Lambda")
    clock.set(START + timedelta(days=60))
    rp, _, progress = backup(coffer, "staged", "staged-0")
    # a bucket without EventBridge notifications: tags read every backup, and the job says so
    assert progress["tag_events"] is False and "EventBridge" in progress["warnings"][0]
    work = coffer.settings.work_bucket
    staged = [o["Key"] for o in s3.list_objects_v2(Bucket=work, Prefix="staging/").get("Contents", [])]
    assert staged, "the staging copy is left to the lifecycle rule"
    # never what a recovery point restores from: the manifest points at the vault's blob
    entry = entries(coffer, rp)["a"]
    assert VaultLayout.blob_of(rp.vault_name, entry).startswith("vaults/")
    rules = s3.get_bucket_lifecycle_configuration(Bucket=work)["Rules"]
    staging = [r for r in rules if (r.get("Prefix") or r.get("Filter", {}).get("Prefix")) == "staging/"]
    assert staging and staging[0]["Status"] == "Enabled" and staging[0]["Expiration"]["Days"] == 1


def unquote(text: str) -> str:
    from urllib.parse import unquote as decode

    return decode(text)


def test_a_bucket_in_another_region_is_not_taken_for_one_whose_tag_events_reach_the_stack(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    """S3 puts a bucket's events on its own region's bus; the stack's rule listens in the stack's region. A bucket
    elsewhere with EventBridge notifications on sends Coffer no tag event: its tags are read every backup and the
    job says why - never trusted to events that cannot arrive."""
    coffer, _ = twin
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket="far-away", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_notification_configuration(Bucket="far-away",
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    s3.put_object(Bucket="far-away", Key="k", Body=b"far", Tagging="team=t")
    for day in ("far-0", "far-1"):
        rp, calls, progress = backup(coffer, "far-away", day)
        assert progress["tag_events"] is False and "it is in eu-west-1" in progress["warnings"][0], progress
        assert source_calls(calls, "far-away", "GetObjectTagging") == ["k"]  # read at every backup
        assert entries(coffer, rp)["k"].tags == {"team": "t"}


def test_a_batchs_index_is_one_query_of_its_range_and_deleted_objects_records_are_forgotten(
        twin: tuple[LocalCoffer, FixedClock]) -> None:
    coffer, clock = twin
    s3 = coffer.client("s3")
    bucket = "range-source"
    with_events(coffer, bucket)
    clock.set(START + timedelta(days=120))
    backup(coffer, bucket, "range-0")
    for gone in ("k03", "k04", "k09"):  # deleted from the source since their last backup
        s3.delete_object(Bucket=bucket, Key=gone)
    clock.set(START + timedelta(days=121))
    rp, calls, _ = backup(coffer, bucket, "range-1")
    index_reads = [c for c in calls.select(service="dynamodb") if b"OBJIDX#" in c.body
                   and c.operation in ("Query", "BatchGetItem", "GetItem")]
    # 9 keys in one listing batch: their records read as their range in one Query, none key by key
    assert [c.operation for c in index_reads] == ["Query"]
    # the three deleted keys' records were in that range: forgotten, so no later backup reads them again
    deletes = [c for c in calls.select(service="dynamodb", operation="BatchWriteItem")
               if b"OBJIDX#" in c.body and b"DeleteRequest" in c.body]
    assert len(deletes) == 1 and deletes[0].body.count(b"DeleteRequest") == 3
    vault = rp.vault_name
    assert coffer.deps.catalog.get_objects(vault, bucket, KEYS).keys() == set(KEYS) - {"k03", "k04", "k09"}
    assert sorted(entries(coffer, rp)) == sorted(set(KEYS) - {"k03", "k04", "k09"})
    # a later backup's range holds no record of them: nothing more to forget
    clock.set(START + timedelta(days=122))
    _, calls, _ = backup(coffer, bucket, "range-2")
    assert not [c for c in calls.select(service="dynamodb", operation="BatchWriteItem")
                if b"OBJIDX#" in c.body and b"DeleteRequest" in c.body]
    # a deleted object put back is backed up as new content would be (described once), its record written again
    s3.put_object(Bucket=bucket, Key="k04", Body=b"object 4 of range-source")
    clock.set(START + timedelta(days=123))
    rp, calls, _ = backup(coffer, bucket, "range-3")
    assert source_calls(calls, bucket, "GetObject") == ["k04"] and source_calls(calls, bucket, "HeadObject") == []
    assert "k04" in entries(coffer, rp) and "k04" in coffer.deps.catalog.get_objects(vault, bucket, ["k04"])


@pytest.mark.parametrize("versioned", [True, False], ids=["versioned", "unversioned"])
def test_an_object_replaced_between_its_read_and_its_vault_copy_never_lands_under_the_wrong_address(
        twin: tuple[LocalCoffer, FixedClock], versioned: bool) -> None:
    """A small object is hashed from the bytes CopyBatch read; its vault copy is pinned to the version read (or, in
    an unversioned bucket, to its ETag) and S3's SHA-256 of the copy must equal the address. Replaced in between -
    by its owner or by someone racing the backup - the vault never holds the new bytes under the old bytes' address."""
    from coffer_twin.calls import AwsCall, intercepting

    coffer, clock = twin
    s3, vault_bucket = coffer.client("s3"), coffer.deps.vault.bucket
    bucket = f"raced-{'v' if versioned else 'u'}"
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    # content of this bucket's own: content the vault holds already would need no vault copy to race
    original, forged = f"id,amount\n1,10\n# {bucket}\n".encode(), f"id,amount\n1,1000000\n# {bucket}\n".encode()
    s3.put_object(Bucket=bucket, Key="ledger.csv", Body=original)
    swapped: list[str] = []

    def replace_before_the_vault_copy(call: AwsCall, answer: Any) -> None:
        if call.operation == "CopyObject" and call.bucket_and_key[0] == vault_bucket and not swapped \
                and f"{bucket}/ledger.csv" in unquote(call.headers.get("x-amz-copy-source", "")):
            swapped.append("now")
            s3.put_object(Bucket=bucket, Key="ledger.csv", Body=forged)

    clock.set(START + timedelta(days=150))
    with intercepting(replace_before_the_vault_copy):
        coffer.twin.wait_for_async()
        result = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": f"{bucket}-0",
                                      "Lifecycle": {"DeleteAfterDays": 35}})
    assert swapped and result["status"] == "SUCCEEDED", result
    job = coffer.deps.catalog.get_job(result["output"]["job_id"])
    rp = coffer.deps.catalog.get_recovery_point(job.recovery_point_id)
    for entry in entries(coffer, rp).values():
        blob = VaultLayout.blob_of(rp.vault_name, entry)
        stored = s3.get_object(Bucket=vault_bucket, Key=blob, VersionId=entry.blob_version_id)["Body"].read()
        assert hashlib.sha256(stored).hexdigest() == entry.sha256 == blob.rsplit("/", 1)[-1]
    address = VaultLayout.blob(rp.vault_name, hashlib.sha256(original).hexdigest())
    for version in s3.list_object_versions(Bucket=vault_bucket, Prefix=address).get("Versions", []):
        held = s3.get_object(Bucket=vault_bucket, Key=address, VersionId=version["VersionId"])["Body"].read()
        assert held == original  # no version of the original's address holds the replacement's bytes
    if versioned:  # the version read is the version copied: the recovery point holds what was read
        assert job.state.value == "COMPLETED"
        assert entries(coffer, rp)["ledger.csv"].sha256 == hashlib.sha256(original).hexdigest()
    else:  # the ETag read is no longer the source's: S3 refused the copy, that object alone failed in this job
        assert job.state.value == "PARTIAL" and job.progress.failed_keys == ["ledger.csv (SourceChanged)"]
        assert "ledger.csv" not in entries(coffer, rp)
        clock.set(START + timedelta(days=151))  # and the next backup takes what the source holds now
        again = coffer.start_backup({"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": f"{bucket}-1",
                                     "Lifecycle": {"DeleteAfterDays": 35}})
        rp = coffer.deps.catalog.get_recovery_point(
            coffer.deps.catalog.get_job(again["output"]["job_id"]).recovery_point_id)
        assert entries(coffer, rp)["ledger.csv"].sha256 == hashlib.sha256(forged).hexdigest()
