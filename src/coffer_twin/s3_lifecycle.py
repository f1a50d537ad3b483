"""S3 lifecycle transitions on the twin: what S3 does about once a day, done when the caller says a day passed.

moto stores a bucket's lifecycle rules (the fix-ups put the template's) but never runs them. For cold storage
Coffer relies on one rule: blobs tagged ``coffer:tier=cold`` move to the archive class in place. ``run_transitions``
applies every enabled rule's ``Transitions`` to the current versions they match (prefix and tags) and that are old
enough, by changing the version's storage class where moto keeps it - the same version, the same Object Lock
retention, as S3 does. Expirations are left alone (Coffer's buckets expire only scratch files).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

__all__ = ["run_transitions"]


def _matches(rule: dict[str, Any], key: str, tags: dict[str, str]) -> bool:
    filter_ = rule.get("Filter", {})
    scope = filter_.get("And", filter_)
    wanted = scope.get("Tags", []) + ([filter_["Tag"]] if "Tag" in filter_ else [])
    prefix = scope.get("Prefix", rule.get("Prefix", ""))
    return key.startswith(prefix) and all(tags.get(t["Key"]) == t["Value"] for t in wanted)


def _needs_tags(rule: dict[str, Any]) -> bool:
    filter_ = rule.get("Filter", {})
    return "Tag" in filter_ or bool(filter_.get("And", {}).get("Tags"))


def run_transitions(session: Any, account_id: str, now: datetime) -> dict[str, int]:
    """Apply the transition rules of every bucket as of `now`; objects moved per bucket."""
    from moto.s3.models import s3_backends

    s3 = session.client("s3")
    backend = s3_backends[account_id]["aws"]
    moved: dict[str, int] = {}
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        try:
            rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        except ClientError:
            continue  # no lifecycle configuration
        rules = [r for r in rules if r.get("Status") == "Enabled" and r.get("Transitions")]
        if not rules:
            continue
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                key = item["Key"]
                tags: dict[str, str] = {}
                if any(_needs_tags(r) for r in rules):
                    tag_set = s3.get_object_tagging(Bucket=name, Key=key).get("TagSet", [])
                    tags = {t["Key"]: t["Value"] for t in tag_set}
                # moto dates objects by the wall clock, the caller's `now` may be an injected one behind it
                age = max(now.astimezone(UTC) - item["LastModified"].astimezone(UTC), timedelta(0))
                for rule in rules:
                    if not _matches(rule, key, tags):
                        continue
                    for transition in rule["Transitions"]:
                        if age >= timedelta(days=int(transition.get("Days", 0))) and \
                                item.get("StorageClass") != transition["StorageClass"]:
                            version = backend.get_object(name, key)
                            if version is None:
                                continue
                            version.set_storage_class(transition["StorageClass"])  # in place: same version
                            moved[name] = moved.get(name, 0) + 1
    return moved
