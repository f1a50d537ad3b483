"""What an S3 restore puts back on each object besides its bytes: every header S3 keeps (the manifest entry's),
its user metadata, its tags and its storage class. One place for CopyObject (adapters/resources/s3.py) and
CreateMultipartUpload (services/large_objects.py), so a small and a large object are restored alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from coffer.domain.manifest import ObjectEntry

#: HeadObject field -> ObjectEntry field for the headers kept as strings (CopyObject and CreateMultipartUpload take
#: the same names). Expires (a timestamp) and StorageClass are recorded apart: `recorded_headers`.
STRING_HEADERS = {
    "ContentType": "content_type",
    "CacheControl": "cache_control",
    "ContentDisposition": "content_disposition",
    "ContentEncoding": "content_encoding",
    "ContentLanguage": "content_language",
    "WebsiteRedirectLocation": "website_redirect_location",
}


def recorded_headers(head: dict[str, Any]) -> dict[str, Any]:
    """ObjectEntry fields from a HeadObject response: the string headers, Expires as ISO 8601 (botocore parses it;
    an Expires S3 kept but botocore could not parse is not recorded) and StorageClass (absent: STANDARD)."""
    facts: dict[str, Any] = {field: head[header] for header, field in STRING_HEADERS.items() if head.get(header)}
    expires = head.get("Expires")
    if isinstance(expires, datetime):
        facts["expires"] = expires.isoformat()
    if head.get("StorageClass"):
        facts["storage_class"] = head["StorageClass"]
    return facts


def restore_args(entry: ObjectEntry) -> dict[str, Any]:
    """CopyObject / CreateMultipartUpload parameters that restore an object's headers, user metadata, tags and
    storage class (STANDARD unless the entry records another: the object's original class)."""
    args: dict[str, Any] = {"Metadata": dict(entry.metadata), "Tagging": urlencode(entry.tags)}
    for header, field in STRING_HEADERS.items():
        value = getattr(entry, field)
        if value:
            args[header] = value
    if entry.expires:
        args["Expires"] = datetime.fromisoformat(entry.expires)
    if entry.storage_class:
        args["StorageClass"] = entry.storage_class
    return args
