"""The vault store and the work area ports, one suite run against the S3 adapters on moto (a bucket with Object Lock)
and against the in-memory fakes (`params=["moto", "memory"]`): put locked, read back, extend a retention and never
shorten it, re-seal for COMPLIANCE, legal holds, copies in, tags, listings.

Where moto lets through what S3 refuses (tests/contract/test_object_lock_contract.py), these tests check Coffer's
side: what the store asks for, and what it then reads back.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from fakes.storage import MemoryBuckets, MemoryVault, MemoryWorkArea
from moto import mock_aws

from coffer.adapters import aws
from coffer.adapters.vault.s3_vault import S3Vault
from coffer.adapters.vault.work_area import S3WorkArea
from coffer.domain.clock import SystemClock
from coffer.domain.errors import AlreadyStored, NotFound
from coffer.domain.object_lock import LockMode
from coffer.domain.vaults import Seal
from coffer.ports.vault import VaultStore
from coffer.ports.work_area import WorkArea
from coffer_twin.environment import fake_aws_environment

REGION, VAULT, WORK = "eu-west-1", "vault", "work"


@dataclass
class Stores:
    vault: VaultStore
    work: WorkArea
    #: DeleteObject without a VersionId (a delete marker on top), as someone with s3:DeleteObject would
    mark_deleted: Callable[[str], None]


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    with fake_aws_environment(REGION), mock_aws():
        client = aws.client("s3", REGION, boto3.Session())
        where = {"CreateBucketConfiguration": {"LocationConstraint": REGION}}
        client.create_bucket(Bucket=VAULT, ObjectLockEnabledForBucket=True, **where)
        client.create_bucket(Bucket=WORK, **where)
        yield client


@pytest.fixture(params=["moto", "memory"])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "moto":
        client = request.getfixturevalue("s3")
        return Stores(S3Vault(client, VAULT, "GOVERNANCE", SystemClock()), S3WorkArea(client, WORK),
                      lambda name: client.delete_object(Bucket=VAULT, Key=name))
    buckets = MemoryBuckets(SystemClock())
    return Stores(MemoryVault(buckets, VAULT, "GOVERNANCE"), MemoryWorkArea(buckets, WORK),
                  lambda name: buckets.mark_deleted(VAULT, name))


def key(prefix: str = "blob") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


def later(days: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def test_an_object_is_written_locked_and_read_back_with_its_sha256(stores: Stores) -> None:
    name, body, until = key(), b"the bytes of a recovery point", later(10)
    sha = stores.vault.put_locked(name, body, until)
    assert sha == hashlib.sha256(body).hexdigest() and stores.vault.get_bytes(name) == body
    lock = stores.vault.lock_of(name)
    assert (lock[0], lock[1], lock.mode, lock.legal_hold) == (True, until, LockMode.GOVERNANCE, False)
    assert lock.version_id


def test_a_json_document_is_written_as_sorted_json_in_the_seals_mode(stores: Stores) -> None:
    name = key("manifest")
    seal = Seal(vault="V", mode=LockMode.COMPLIANCE, retain_until=later(1), kms_key_arn=None)
    sha = stores.vault.put_json_locked(name, {"b": 1, "a": [2]}, seal.retain_until, seal)
    stored = stores.vault.get_bytes(name)
    assert stored == b'{"a": [2], "b": 1}' and sha == hashlib.sha256(stored).hexdigest()
    assert stores.vault.get_json(name) == {"a": [2], "b": 1} and stores.vault.lock_of(name).mode is LockMode.COMPLIANCE


def test_a_missing_object_is_not_found_and_has_no_lock(stores: Stores) -> None:
    name = key()
    with pytest.raises(NotFound):
        stores.vault.get_bytes(name)
    assert stores.vault.lock_of(name) == (False, None) and stores.vault.checksum_of(name) is None


def test_a_create_only_write_finds_the_key_taken(stores: Stores) -> None:
    name = key("audit")
    stores.vault.put_locked(name, b"record 1", later(1), create_only=True)
    with pytest.raises(AlreadyStored):
        stores.vault.put_locked(name, b"another record 1", later(1), create_only=True)
    assert stores.vault.get_bytes(name) == b"record 1"


def test_a_retention_is_extended_and_never_shortened(stores: Stores) -> None:
    name, longer = key(), later(20)
    stores.vault.put_locked(name, b"data", later(5))
    assert stores.vault.extend_retention(name, longer) is True
    assert stores.vault.lock_of(name)[1] == longer
    assert stores.vault.extend_retention(name, later(8)) is False  # asked to shorten: nothing asked of S3
    assert stores.vault.extend_retention(name, longer) is False
    assert stores.vault.lock_of(name)[1] == longer


def test_a_governance_object_sealed_for_compliance_becomes_a_new_compliance_version(stores: Stores) -> None:
    name, until = key(), later(30)
    stores.vault.put_locked(name, b"shared blob", until)
    seal = Seal(vault="V", mode=LockMode.COMPLIANCE, retain_until=later(10), kms_key_arn=None)
    lock = stores.vault.secure(name, seal)
    assert lock.mode is LockMode.COMPLIANCE and lock[1] == until  # never shorter than it was
    assert len(list(stores.vault.versions(name))) == 2  # the GOVERNANCE version stays, locked, underneath
    assert stores.vault.get_bytes(name) == b"shared blob"


def test_securing_a_blob_extends_its_lock_to_the_seal(stores: Stores) -> None:
    name, until = key(), later(40)
    stores.vault.put_locked(name, b"shared blob", later(3))
    lock = stores.vault.secure(name, Seal(vault="V", mode=LockMode.GOVERNANCE, retain_until=until, kms_key_arn=None))
    read = stores.vault.lock_of(name)
    assert (lock.mode, lock[1]) == (LockMode.GOVERNANCE, until) == (read.mode, read[1])
    with pytest.raises(NotFound):
        stores.vault.secure(key(), Seal(vault="V", mode=LockMode.GOVERNANCE, retain_until=later(1), kms_key_arn=None))


def test_a_legal_hold_is_set_and_released_on_one_version(stores: Stores) -> None:
    name = key()
    stores.vault.put_locked(name, b"held", later(1))
    version = stores.vault.lock_of(name).version_id or ""
    stores.vault.set_legal_hold(name, version, on=True)
    assert stores.vault.lock_of(name).legal_hold is True
    stores.vault.set_legal_hold(name, version, on=False)
    assert stores.vault.lock_of(name).legal_hold is False


def test_a_copy_into_the_vault_is_locked_tagged_and_its_sha256_is_the_bytes(stores: Stores) -> None:
    staged, blob, until = key("staging"), key("blobs"), later(7)
    stores.work.write_json(staged, {"object": 1})
    body = json.dumps({"object": 1}).encode()
    sha = stores.vault.copy_in(WORK, staged, blob, until, tags={"coffer:warm-until": "2027-01-01"})
    assert sha == hashlib.sha256(body).hexdigest() and stores.vault.get_bytes(blob) == body
    assert stores.vault.lock_of(blob)[1] == until
    assert stores.vault.tags_of(blob) == {"coffer:warm-until": "2027-01-01"}
    stores.vault.set_tags(blob, {"coffer:tier": "cold"})
    assert stores.vault.tags_of(blob) == {"coffer:tier": "cold"}


def test_what_s3_stored_and_what_the_bytes_hash_to_agree(stores: Stores) -> None:
    name, body = key(), b"x" * 1000
    stores.vault.put_locked(name, body, later(1))
    expected = (hashlib.sha256(body).hexdigest(), 1000)
    assert stores.vault.checksum_of(name) == expected and stores.vault.stream_sha256(name) == expected


def test_a_listing_names_the_objects_and_groups_by_delimiter(stores: Stores) -> None:
    root = key("listing") + "/"
    for name, body in (("a/1", b"1"), ("a/2", b"22"), ("b/1", b"333"), ("top", b"4444")):
        stores.vault.put_locked(root + name, body, later(1))
    objects, prefixes, token = stores.vault.list_page(root, None, delimiter="/")
    assert ([o.key for o in objects], prefixes, token) == ([root + "top"], [root + "a/", root + "b/"], None)
    assert [(o.key, o.size) for o in stores.vault.keys(root + "a/")] == [(root + "a/1", 1), (root + "a/2", 2)]
    first, _, token = stores.vault.list_page(root, None, max_keys=2)
    rest, _, end = stores.vault.list_page(root, token, max_keys=2)
    assert [o.key for o in first + rest] == [root + n for n in ("a/1", "a/2", "b/1", "top")] and end is None


def test_the_work_area_keeps_a_jobs_files_until_they_are_deleted(stores: Stores) -> None:
    prefix = key("jobs") + "/"
    for n in (2, 0, 1):
        stores.work.write_json(f"{prefix}batches/{n:08d}.json", {"items": list(range(n))})
    assert stores.work.read_json(f"{prefix}batches/00000002.json") == {"items": [0, 1]}
    assert stores.work.first_key(prefix) == f"{prefix}batches/00000000.json"
    listed = stores.work.listing(prefix)
    assert [item["key"] for item in listed] == [f"{prefix}batches/{n:08d}.json" for n in range(3)]
    assert [item["size"] for item in listed] == [stores.work.size_of(item["key"]) for item in listed]
    stores.work.delete(f"{prefix}batches/00000000.json")
    assert stores.work.first_key(prefix) == f"{prefix}batches/00000001.json"
    assert stores.work.first_key(key("nothing")) is None


# ---- pinned versions (DESIGN invariant 6): what a recovery point pins is what is read ----------------------------
def test_a_write_returns_the_version_id_s3_gave_it(stores: Stores) -> None:
    name = key()
    written = stores.vault.put_locked(name, b"first", later(1))
    assert written.version_id and written.version_id == stores.vault.lock_of(name).version_id
    assert written == written.sha256 == hashlib.sha256(b"first").hexdigest()  # still the checksum to old callers
    document = stores.vault.put_json_locked(key("manifest"), {"a": 1}, later(1))
    assert document.version_id and document.version_id != written.version_id


def test_a_pinned_read_returns_the_pinned_bytes_after_a_newer_version_is_written_over_them(stores: Stores) -> None:
    name, until = key(), later(5)  # one date: two calls of later() may fall either side of a second
    pinned = stores.vault.put_json_locked(name, {"delete_at": "2030-01-01"}, until)
    stores.vault.put_json_locked(name, {"delete_at": "2020-01-01"}, later(1))  # the attacker's newer version
    assert stores.vault.get_json(name) == {"delete_at": "2020-01-01"}  # the unpinned read is fooled
    assert stores.vault.get_json_version(name, pinned.version_id or "") == {"delete_at": "2030-01-01"}
    assert stores.vault.get_bytes_version(name, pinned.version_id or "") == b'{"delete_at": "2030-01-01"}'
    lock = stores.vault.lock_of_version(name, pinned.version_id or "")
    assert (lock[0], lock[1], lock.version_id) == (True, until, pinned.version_id)
    assert stores.vault.checksum_of(name, pinned.version_id) == (pinned.sha256, len(b'{"delete_at": "2030-01-01"}'))
    assert stores.vault.stream_sha256(name, version_id=pinned.version_id) == stores.vault.checksum_of(
        name, pinned.version_id)


def test_a_pinned_read_is_not_hidden_by_a_delete_marker_and_the_history_shows_both(stores: Stores) -> None:
    name = key()
    pinned = stores.vault.put_locked(name, b"kept", later(1))
    stores.mark_deleted(name)
    with pytest.raises(NotFound):
        stores.vault.get_bytes(name)
    assert stores.vault.get_bytes_version(name, pinned.version_id or "") == b"kept"
    history = stores.vault.history(name)
    assert [(v.delete_marker, v.latest) for v in history] == [(True, True), (False, False)]
    assert history[1].version_id == pinned.version_id and history[1].key == name


def test_the_history_of_a_key_is_its_versions_newest_first_and_no_other_keys(stores: Stores) -> None:
    name = key()
    first = stores.vault.put_locked(name, b"1", later(1))
    second = stores.vault.put_locked(name, b"2", later(1))
    stores.vault.put_locked(name + "-other", b"3", later(1))  # a longer key under the same prefix is not this key
    assert [v.version_id for v in stores.vault.history(name)] == [second.version_id, first.version_id]
    assert stores.vault.history(key()) == []


def test_a_version_that_is_not_there_is_not_found(stores: Stores) -> None:
    name = key()
    written = stores.vault.put_locked(name, b"x", later(1))
    other = stores.vault.put_locked(key(), b"y", later(1))  # a real version id, of another key
    with pytest.raises(NotFound):
        stores.vault.get_bytes_version(name, other.version_id or "")
    assert stores.vault.lock_of_version(name, other.version_id or "") == (False, None)
    assert stores.vault.checksum_of(name, other.version_id) is None
    with pytest.raises(ValueError, match="version_id"):
        stores.vault.get_bytes_version(name, "")
    assert stores.vault.get_bytes_version(name, written.version_id or "") == b"x"


def test_a_copy_reads_the_pinned_source_version_not_the_newest(stores: Stores) -> None:
    source, target = key("blobs"), key("copies")
    pinned = stores.vault.put_locked(source, b"the backed-up bytes", later(3))
    stores.vault.put_locked(source, b"an attacker's bytes", later(3))
    copied = stores.vault.copy_in(VAULT, source, target, later(2), source_version=pinned.version_id)
    assert copied == hashlib.sha256(b"the backed-up bytes").hexdigest()
    assert copied.version_id and stores.vault.get_bytes_version(target, copied.version_id) == b"the backed-up bytes"


def test_the_lock_names_s3s_checksum_so_a_blob_written_over_is_not_relied_on(stores: Stores) -> None:
    """A backup reusing a blob relies on the version HeadObject names (no GET): its checksum, from the same call,
    must be the content address, or the blob is stored again (object_batches, large_objects, continuous)."""
    content = f"backed-up content {uuid.uuid4()}".encode()
    address = hashlib.sha256(content).hexdigest()
    blob = f"vaults/V/blobs/sha256/{address}"
    stores.vault.put_locked(blob, content, later(1))
    assert stores.vault.lock_of(blob).checksum == address and stores.vault.lock_of(blob).holds(blob)
    stores.vault.put_locked(blob, b"someone else's bytes", later(1))  # a new version over the blob
    assert not stores.vault.lock_of(blob).holds(blob)
    assert not stores.vault.lock_of(key()).holds(blob)  # nothing there: nothing to rely on
