"""Objects too large for one CopyObject: copied server-side in parts (UploadPartCopy), S3 computing checksums.

S3's limits: CopyObject copies at most 5 GiB; a multipart upload has at most 10,000 parts of 5 MiB to 5 GiB
(the last part may be smaller). With a SHA-256 upload S3 gives a COMPOSITE checksum: the SHA-256 of the
concatenated part SHA-256s, reported as `<base64>-<parts>`. It is a function of the bytes *and* the part size,
so Coffer cuts every object into parts of one fixed size (`part_size_for`): the same content always gets the
same composite checksum, and so the same content address in the vault.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

MIB = 1024**2
GIB = 1024**3
MAX_SINGLE_COPY = 5 * GIB
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * GIB
MAX_PARTS = 10_000


def part_size_for(size: int, configured: int) -> int:
    """The part size an object of `size` bytes is copied with: the configured one, or (for an object that would
    need more than 10,000 parts) the smallest whole number of MiB that fits it in 10,000 parts."""
    needed = -(-size // MAX_PARTS)
    if needed <= configured:
        return configured
    return -(-needed // MIB) * MIB


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


@dataclass(frozen=True)
class PartRange:
    """Part `number` (1-based) is bytes first..last (inclusive) of the source, as CopySourceRange wants them."""

    number: int
    first: int
    last: int

    @property
    def copy_source_range(self) -> str:
        return f"bytes={self.first}-{self.last}"


def part_ranges(size: int, part_size: int, first_part: int = 1, last_part: int | None = None) -> Iterator[PartRange]:
    """The byte ranges of parts first_part..last_part (default: to the last part) of an object."""
    last_part = part_count(size, part_size) if last_part is None else last_part
    for number in range(first_part, last_part + 1):
        start = (number - 1) * part_size
        yield PartRange(number, start, min(start + part_size, size) - 1)


def composite_sha256(part_digests: list[bytes]) -> str:
    """S3's composite SHA-256 (hex, without the part count) of parts with these SHA-256 digests."""
    return hashlib.sha256(b"".join(part_digests)).hexdigest()


def split_composite(value: str) -> tuple[str, int]:
    """`<checksum>-<parts>` as S3 reports a composite checksum -> (checksum, parts)."""
    checksum, _, parts = value.rpartition("-")
    if not checksum or not parts.isdigit():
        raise ValueError(f"{value!r} is not a composite checksum (<checksum>-<parts>)")
    return checksum, int(parts)


def composite_of_stream(chunks: Iterator[bytes], part_size: int) -> tuple[str, int, int]:
    """Re-hash bytes as S3 would for parts of `part_size`: (composite SHA-256 hex, parts, size)."""
    digests: list[bytes] = []
    current, filled, size = hashlib.sha256(), 0, 0
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            take = min(len(view), part_size - filled)
            current.update(view[:take])
            filled += take
            size += take
            view = view[take:]
            if filled == part_size:
                digests.append(current.digest())
                current, filled = hashlib.sha256(), 0
    if filled or not digests:
        digests.append(current.digest())
    return composite_sha256(digests), len(digests), size
