"""Every events/*.json parses as its function's input and succeeds on the twin (the twin of `sam local invoke`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.domain.audit import RecordAuditResult, RecordAuditStep
from coffer.domain.cold_tier import ColdPartResult, ColdPartStep
from coffer.domain.continuous import S3ObjectEvent
from coffer.domain.copies import CopyPartStep, CopyPollResult, CopyStartResult, CopyStep
from coffer.domain.lock_renewal import RenewBatchResult
from coffer.domain.native_waits import CompletionEvent, ResumeResult
from coffer.domain.plan_steps import (
    ClaimResult,
    CompletePlanRunStep,
    PageStep,
    PlanRunSummary,
    SelectResult,
    SelectStep,
    SettleResult,
    SettleStep,
    StartPlanRunResult,
    StartPlanRunStep,
)
from coffer.domain.steps import (
    AwaitTurnStep,
    BatchResult,
    FindLargeCopiesStep,
    JobStep,
    JobSummary,
    LargeCopiesResult,
    ListBatchesResult,
    ListBatchesStep,
    PollResult,
    StartResult,
)
from coffer.domain.sweep import (
    CollectBlobsResult,
    CompleteSweepStep,
    ListSweepItemsResult,
    ListSweepItemsStep,
    SweepBatchResult,
    SweepBatchStep,
    SweepRunSummary,
)
from coffer.domain.verify import (
    CompleteVerifyStep,
    ListVerifyItemsResult,
    ListVerifyItemsStep,
    VerifyBatchResult,
    VerifyBatchStep,
    VerifySummary,
)
from coffer.entrypoints.copy_events import StartCopyJobInvocation
from coffer.entrypoints.events import StartBackupJobInvocation, StartRestoreJobInvocation
from coffer.services.continuous import ObjectChangeResult
from coffer.services.notifications import NotifyResult
from coffer_cli.local.sample_events import BUS, invoke_sample, load_index

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
INDEX = load_index(EVENTS)

#: function -> (model its event must parse as, or None; model its result must parse as)
CONTRACTS: dict[str, tuple[type | None, type]] = {
    "StartBackupJobFunction": (StartBackupJobInvocation, StartResult),
    "StartRestoreJobFunction": (StartRestoreJobInvocation, StartResult),
    "ListBatchesFunction": (None, ListBatchesResult),
    "CopyBatchFunction": (None, BatchResult),
    "CopyLargeObjectFunction": (FindLargeCopiesStep, LargeCopiesResult),
    "RestoreBatchFunction": (None, BatchResult),
    "CheckBackupFunction": (None, PollResult),
    "AwaitTurnFunction": (AwaitTurnStep, PollResult),
    "CheckRestoreFunction": (None, PollResult),
    "CompleteBackupFunction": (None, JobSummary),
    "CompleteRestoreFunction": (None, JobSummary),
    "FailJobFunction": (None, JobSummary),
    "StartPlanRunFunction": (StartPlanRunStep, StartPlanRunResult),
    "SelectResourcesFunction": (SelectStep, SelectResult),
    "ClaimResourcesFunction": (PageStep, ClaimResult),
    "SettlePageFunction": (SettleStep, SettleResult),
    "CompletePlanRunFunction": (CompletePlanRunStep, PlanRunSummary),
    "RecordAuditFunction": (RecordAuditStep, RecordAuditResult),
    "ListVerifyItemsFunction": (ListVerifyItemsStep, ListVerifyItemsResult),
    "VerifyBatchFunction": (VerifyBatchStep, VerifyBatchResult),
    "CompleteVerifyFunction": (CompleteVerifyStep, VerifySummary),
    "StartCopyJobFunction": (StartCopyJobInvocation, CopyStartResult),
    "CheckCopyFunction": (CopyStep, CopyPollResult),
    "CopyPartFunction": (CopyPartStep, BatchResult),
    "CompleteCopyFunction": (CopyStep, JobSummary),
    "EnableContinuousBackupFunction": (JobStep, StartResult),
    "RecordObjectChangeFunction": (S3ObjectEvent, ObjectChangeResult),
    "ListPitrBatchesFunction": (ListBatchesStep, ListBatchesResult),
    "ListSweepItemsFunction": (ListSweepItemsStep, ListSweepItemsResult),
    "SweepBatchFunction": (SweepBatchStep, SweepBatchResult),
    "CollectBlobsFunction": (SweepBatchStep, CollectBlobsResult),
    "CompleteSweepFunction": (CompleteSweepStep, SweepRunSummary),
    "MovePartToColdFunction": (ColdPartStep, ColdPartResult),
    "RenewLocksFunction": (SweepBatchStep, RenewBatchResult),
    "NotifyFunction": (None, NotifyResult),
    "ResumeNativeFunction": (CompletionEvent, ResumeResult),
}
#: samples of a function's second event shape: the part-range fan-out's steps (an event with `step`)
SAMPLE_CONTRACTS: dict[str, tuple[type | None, type]] = {
    "restore_find_large_copies.json": (FindLargeCopiesStep, LargeCopiesResult),
    "copy_find_large_copies.json": (FindLargeCopiesStep, LargeCopiesResult),
}


def test_every_event_file_is_indexed_and_every_function_has_one() -> None:
    files = {p.name for p in EVENTS.glob("*.json")}
    assert files == set(INDEX)
    functions = {e.function for e in INDEX.values()}
    assert set(CONTRACTS) <= functions


@pytest.mark.parametrize("name", sorted(INDEX))
def test_sample_event_succeeds_on_the_twin(name: str, twins: Twins) -> None:
    twins.release()  # the sample deploys its own twin, as `coffer local invoke` does
    event = INDEX[name]
    result: Any = invoke_sample(ROOT, EVENTS / name)
    if event.function == BUS:
        assert [r["status"] for r in result] == ["SUCCEEDED"]
        return
    event_model, result_model = SAMPLE_CONTRACTS.get(name) or CONTRACTS[event.function]
    if event_model is not None:
        event_model.model_validate(event.body)
    parsed = result_model.model_validate(result)
    if isinstance(parsed, StartResult):
        # A continuous backup request first turns protection on; a point-in-time S3 restore lists its batches.
        # A DynamoDB backup that CreateBackup answered AVAILABLE (moto's always are) goes straight to CompleteBackup.
        expected = {"start_backup_job_continuous.json": ("continuous",), "start_restore_job_pitr.json": ("pitr",),
                    "start_backup_job_dynamodb.json": ("native_done",),
                    "start_backup_job_to_fail.json": ("native_done",)}
        assert not parsed.duplicate and parsed.next in expected.get(name, ("objects", "native"))
    if isinstance(parsed, ObjectChangeResult):  # the sample delete marker is journaled for the protected bucket
        assert parsed.recorded and parsed.kind == "delete-marker" and parsed.recovery_point_id, parsed
    if isinstance(parsed, RenewBatchResult):  # the sample backup's one part and its blobs, locked 400 days now
        assert parsed.seq == 0 and parsed.extended > 1 and parsed.already == 0, parsed
    if isinstance(parsed, ResumeResult):  # AWS's event for a snapshot the account does not have: confirmed, ignored
        assert parsed.outcome == "ignored" and "snap-01234567890abcdef" in (parsed.reason or ""), parsed
    if isinstance(parsed, NotifyResult):  # a FAILED backup of a vault without settings: told to the stack's topic
        assert len(parsed.sent_to) == 1 and parsed.sent_to[0].endswith("-notifications"), parsed
    if name == "list_pitr_batches.json":  # the sample bucket as it is now: its five objects, one batch file
        assert isinstance(parsed, ListBatchesResult) and (parsed.next_seq, parsed.more) == (1, False), parsed
    # The copy steps copy the sample S3 recovery point to the sample destination (us-west-2, Default vault).
    if isinstance(parsed, CopyStartResult | CopyPollResult):
        assert parsed.next == "objects" and parsed.items_prefix, parsed
    if isinstance(parsed, JobSummary):
        expected = "FAILED" if event.function == "FailJobFunction" else "COMPLETED"
        assert parsed.state == expected, parsed.status_message
    if isinstance(parsed, BatchResult):
        assert parsed.objects > 0 and parsed.failed == 0
    if isinstance(parsed, LargeCopiesResult):  # no sample object is over the 5 GiB multipart threshold
        assert (parsed.any, parsed.next_round) == (False, 1) and parsed.uploads_prefix.endswith("/large/0/"), parsed
    # The PlanRun steps run the sample plan over the two sample resources (one page).
    if isinstance(parsed, StartPlanRunResult):
        assert parsed.next == "select" and not parsed.duplicate
    if isinstance(parsed, SelectResult):
        assert parsed.next_seq == 1 and not parsed.more
    if isinstance(parsed, ClaimResult):
        assert len(parsed.backups) == 2 and parsed.joined == 0
    # The vault's steps: the sample restore is audited once, after the sample plan's plan.create record (the
    # preparation applies it) and the sample backup's own backup.complete record; the sample backup verifies clean.
    if isinstance(parsed, RecordAuditResult):
        assert (parsed.seq, parsed.action) == (3, "restore.start")
    if isinstance(parsed, ListVerifyItemsResult):
        assert parsed.next_seq > 0 and not parsed.more
    if isinstance(parsed, VerifyBatchResult | VerifySummary):
        assert parsed.objects_checked > 0 and parsed.problems == 0, parsed
    # The sweep's steps over the sample backups: one batch file, nothing due (kept); the sample S3 backup's blobs
    # are listed but locked, so none is collected; a run over an empty catalog completes with nothing to do.
    if isinstance(parsed, ListSweepItemsResult):
        assert (parsed.next_seq, parsed.more) == (1, False), parsed
    if isinstance(parsed, SweepBatchResult):
        assert (parsed.kept, parsed.moved, parsed.expired, parsed.skipped) == (1, 0, 0, 0), parsed
    if isinstance(parsed, CollectBlobsResult):
        assert parsed.versions > 0 and parsed.deleted == 0 and parsed.kept == parsed.versions, parsed
    if isinstance(parsed, SweepRunSummary):
        assert (parsed.state, parsed.batches, parsed.batches_expected, parsed.kept) == ("COMPLETED", 0, 0, 0), parsed
    if isinstance(parsed, SettleResult | PlanRunSummary):
        assert (parsed.counts.started, parsed.counts.completed, parsed.counts.failed) == (2, 2, 0), parsed
