"""S3 Inventory rules (domain/inventory.py) and the EBS snapshot quota (domain/snapshot_quota.py): pure code."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from coffer.domain.inventory import (
    InvalidInventory,
    decode_token,
    encode_token,
    parse_manifest,
    rows_to_items,
    unusable_because,
)
from coffer.domain.resources import ResourceType
from coffer.domain.snapshot_quota import snapshot_limit, snapshot_quota_key, volume_of, volumes_snapshotted
from coffer.settings import Settings

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag"


def _manifest(created: datetime, schema: str = SCHEMA, file_format: str = "CSV", source: str = "b") -> bytes:
    return json.dumps({"sourceBucket": source, "destinationBucket": "arn:aws:s3:::inv", "version": "2016-11-30",
                       "creationTimestamp": str(int(created.timestamp() * 1000)), "fileFormat": file_format,
                       "fileSchema": schema, "files": [{"key": "d/1.csv.gz", "size": 10, "MD5checksum": "x"}]}).encode()


def test_rows_are_url_decoded_current_objects_with_the_listings_facts() -> None:
    lines = ['"b","dir+1/a%2Bb.txt","v1","true","false","12","2026-11-25T10:00:00.123Z","""abc"""',
             '"b","old.txt","v0","false","false","3","2026-11-20T10:00:00.000Z","def"',
             '"b","gone.txt","v2","true","true","0","2026-11-25T10:00:00.000Z",""']
    items = list(rows_to_items(lines, [c.strip() for c in SCHEMA.split(",")]))
    assert items == [{"key": "dir 1/a+b.txt", "size": 12, "etag": 'abc', "last_modified":
                      "2026-11-25T10:00:00.123000+00:00"}]


def test_a_row_that_does_not_fit_the_schema_is_refused() -> None:
    with pytest.raises(InvalidInventory):
        list(rows_to_items(['"b","k"'], [c.strip() for c in SCHEMA.split(",")]))


def test_a_manifest_must_match_its_checksum() -> None:
    raw = _manifest(NOW)
    assert parse_manifest(raw, hashlib.md5(raw).hexdigest().encode()).created_at == NOW
    with pytest.raises(InvalidInventory):
        parse_manifest(raw, b"0" * 32)


@pytest.mark.parametrize(("manifest", "listed_before", "why"), [
    (_manifest(NOW - timedelta(hours=47)), None, None),
    (_manifest(NOW - timedelta(hours=49)), None, "is older than 48 h"),
    (_manifest(NOW - timedelta(hours=2)), NOW - timedelta(hours=1), "older than the bucket's previous backup"),
    (_manifest(NOW - timedelta(hours=2), file_format="Parquet"), None, "its format is Parquet"),
    (_manifest(NOW, schema="Bucket, Key, Size"), None, "lacks the fields LastModifiedDate, ETag"),
    (_manifest(NOW, source="other"), None, "inventory of bucket other"),
])
def test_an_inventory_stands_in_for_the_listing_only_when_recent_complete_and_not_older_than_the_last_backup(
        manifest: bytes, listed_before: datetime | None, why: str | None) -> None:
    found = unusable_because(parse_manifest(manifest), "b", NOW, timedelta(hours=48), listed_before)
    assert (found is None) if why is None else (found is not None and why in found), found


def test_an_inventory_token_never_looks_like_a_listing_token_and_round_trips() -> None:
    token = encode_token("inv", "p/b/daily/2026-11-26T00-00Z/manifest.json", 3, 1200)
    assert token.startswith("inventory|")
    assert decode_token(token) == ("inv", "p/b/daily/2026-11-26T00-00Z/manifest.json", 3, 1200)


def test_the_snapshot_quota_is_five_per_volume_and_one_for_hdd_volumes_by_default() -> None:
    env = {"CATALOG_TABLE": "t", "VAULT_BUCKET": "v", "WORK_BUCKET": "w", "VAULT_KEY_ARN": "k",
           "AWS_REGION": "eu-west-1"}
    settings = Settings.from_env(env)
    assert (settings.ebs_snapshots_per_volume, settings.ebs_hdd_snapshots_per_volume) == (5, 1)
    assert settings.inventory_max_age_hours == 48
    limits = {t: snapshot_limit(t, settings.ebs_snapshots_per_volume, settings.ebs_hdd_snapshots_per_volume)
              for t in ("gp2", "gp3", "io1", "io2", "standard", "st1", "sc1", None)}
    assert limits == {"gp2": 5, "gp3": 5, "io1": 5, "io2": 5, "standard": 5, "st1": 1, "sc1": 1, None: 5}
    tuned = Settings.from_env({**env, "EBS_SNAPSHOTS_PER_VOLUME": "3", "EBS_HDD_SNAPSHOTS_PER_VOLUME": "2"})
    assert (tuned.ebs_snapshots_per_volume, tuned.ebs_hdd_snapshots_per_volume) == (3, 2)


def test_an_instance_backup_snapshots_each_of_its_volumes_and_a_volume_backup_its_volume() -> None:
    instance = "arn:aws:ec2:eu-west-1:111122223333:instance/i-1"
    source = {"volumes": [{"device": "/dev/sdf", "volume_id": "vol-b"}, {"device": "/dev/xvda", "volume_id": "vol-a"}]}
    assert volumes_snapshotted(ResourceType.EC2, instance, source) == [
        "arn:aws:ec2:eu-west-1:111122223333:volume/vol-a", "arn:aws:ec2:eu-west-1:111122223333:volume/vol-b"]
    volume = "arn:aws:ec2:eu-west-1:111122223333:volume/vol-a"
    assert volumes_snapshotted(ResourceType.EBS, volume, {}) == [volume]
    assert volumes_snapshotted(ResourceType.S3, "arn:aws:s3:::b", {}) == []
    assert volume_of(snapshot_quota_key(volume)) == volume
    assert volume_of("EBS_SNAPSHOT_COPIES#111122223333#eu-west-1") is None
