"""Vault verification (scrub): what is checked and what a check can find.

Work items come from two sources so that nothing escapes: the catalog's recovery points of a vault (is
each one's manifest there and intact, are the manifest's parts?) and the vault's own listing of manifests
and parts (is each one known to the catalog and to its manifest, are the blobs a part references there
and intact?). Blobs no manifest references are orphans; finding them needs every part of the vault, so
`coffer vault verify` reports them and the scheduled workflow (bounded work per invocation) does not.

A finding is reported, never repaired: a scrub that "fixes" what it finds would hide the evidence.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: A part younger than this without its manifest may belong to a job still running (complete window).
UNFINISHED_GRACE = timedelta(days=8)
#: At most this many findings are kept per work item file / in a run summary (the counts are exact).
FINDINGS_KEPT = 100


class FindingKind(StrEnum):
    MISSING = "MISSING"
    ALTERED = "ALTERED"
    ORPHANED = "ORPHANED"
    #: not a problem: a part of a job that may still be running
    UNFINISHED = "UNFINISHED"


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    key: str
    detail: str
    recovery_point_id: str | None = None

    @property
    def problem(self) -> bool:
        return self.kind is not FindingKind.UNFINISHED


class VerifyItem(BaseModel):
    """One unit of verification work."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["recovery_point", "manifest", "part"]
    vault: str
    #: recovery point id (kind recovery_point) or object key (manifest, part)
    ref: str
    last_modified: str | None = None


class VerifyTally(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: int = 0
    objects_checked: int = 0
    bytes_read: int = 0
    problems: int = 0
    findings: tuple[Finding, ...] = Field(default_factory=tuple)

    def plus(self, other: VerifyTally) -> VerifyTally:
        return VerifyTally(items=self.items + other.items, objects_checked=self.objects_checked + other.objects_checked,
                           bytes_read=self.bytes_read + other.bytes_read, problems=self.problems + other.problems,
                           findings=(*self.findings, *other.findings)[:FINDINGS_KEPT])


# ---- the scheduled Verify workflow's payloads ------------------------------------------------------
class _Step(BaseModel):
    # Step Functions adds fields (errors, map results) to the state; a step reads only what it needs.
    model_config = ConfigDict(extra="ignore")


class ListVerifyItemsStep(_Step):
    run_id: str = Field(min_length=1)
    vaults: list[str] = Field(default_factory=list)
    deep: bool = False
    token: str | None = None
    next_seq: int = Field(default=0, ge=0)


class ListVerifyItemsResult(BaseModel):
    run_id: str
    vaults: list[str]
    deep: bool
    token: str | None
    next_seq: int
    more: bool
    items_prefix: str


class VerifyBatchStep(_Step):
    run_id: str = Field(min_length=1)
    batch_key: str = Field(min_length=1)


class VerifyBatchResult(BaseModel):
    run_id: str
    seq: int
    items: int
    objects_checked: int
    problems: int


class CompleteVerifyStep(_Step):
    run_id: str = Field(min_length=1)


class VerifySummary(BaseModel):
    run_id: str
    vaults: list[str]
    deep: bool
    items: int
    objects_checked: int
    bytes_read: int
    problems: int
    findings: list[Finding]
