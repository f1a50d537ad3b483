"""S3 reports SHA-256 checksums base64-encoded; Coffer's manifests use hex."""

from __future__ import annotations

import base64


def b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()
