"""Every events/*.json parses as its function's input and succeeds on the twin (the twin of `sam local invoke`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coffer.domain.steps import BatchResult, JobSummary, ListBatchesResult, PollResult, StartResult
from coffer.entrypoints.events import StartBackupJobInvocation, StartRestoreJobInvocation
from coffer.local.sample_events import BUS, invoke_sample, load_index

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
INDEX = load_index(EVENTS)

#: function -> (model its event must parse as, or None; model its result must parse as)
CONTRACTS: dict[str, tuple[type | None, type]] = {
    "StartBackupJobFunction": (StartBackupJobInvocation, StartResult),
    "StartRestoreJobFunction": (StartRestoreJobInvocation, StartResult),
    "ListBatchesFunction": (None, ListBatchesResult),
    "CopyBatchFunction": (None, BatchResult),
    "RestoreBatchFunction": (None, BatchResult),
    "CheckBackupFunction": (None, PollResult),
    "CheckRestoreFunction": (None, PollResult),
    "CompleteBackupFunction": (None, JobSummary),
    "CompleteRestoreFunction": (None, JobSummary),
    "FailJobFunction": (None, JobSummary),
}


def test_every_event_file_is_indexed_and_every_function_has_one() -> None:
    files = {p.name for p in EVENTS.glob("*.json")}
    assert files == set(INDEX)
    functions = {e.function for e in INDEX.values()}
    assert set(CONTRACTS) <= functions


@pytest.mark.parametrize("name", sorted(INDEX))
def test_sample_event_succeeds_on_the_twin(name: str) -> None:
    event = INDEX[name]
    result: Any = invoke_sample(ROOT, EVENTS / name)
    if event.function == BUS:
        assert [r["status"] for r in result] == ["SUCCEEDED"]
        return
    event_model, result_model = CONTRACTS[event.function]
    if event_model is not None:
        event_model.model_validate(event.body)
    parsed = result_model.model_validate(result)
    if isinstance(parsed, StartResult):
        assert not parsed.duplicate and parsed.next in ("objects", "native")
    if isinstance(parsed, JobSummary):
        expected = "FAILED" if event.function == "FailJobFunction" else "COMPLETED"
        assert parsed.state == expected, parsed.status_message
    if isinstance(parsed, BatchResult):
        assert parsed.objects > 0 and parsed.failed == 0
