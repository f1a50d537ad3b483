"""Job events on EventBridge (ports/job_events.py): PutEvents, up to ten entries a call, the entries EventBridge
refused put again.

botocore's standard retries cover a throttled or failed request; PutEvents can also succeed as a request and refuse
single entries (`FailedEntryCount`, an `ErrorCode` per entry: InternalFailure, ThrottlingException ...), which no
SDK retries. Those are put again, alone, with jittered exponential backoff, up to `attempts` times; what is still
refused then raises JobEventsUndelivered, naming each entry and its error.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from coffer.domain.input_rules.arns import Home
from coffer.domain.job_events import SOURCE, Change, render
from coffer.ports.job_events import JobEventsUndelivered

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

#: PutEvents takes at most ten entries a call
_BATCH = 10


class EventBridgeJobEvents:
    """`bus`: the event bus's name or ARN ("default": the account's default bus, where AWS Backup's events go)."""

    def __init__(self, client: EventBridgeClient, bus: str, home: Home, attempts: int = 5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._events = client
        self._bus = bus
        self._home = home
        self._attempts = attempts
        self._sleep = sleep
        #: PutEvents calls made (bench/ counts them)
        self.calls = 0

    def entry(self, change: Change) -> PutEventsRequestEntryTypeDef:
        event = render(change, self._home)
        entry: PutEventsRequestEntryTypeDef = {
            "Source": SOURCE, "DetailType": event.detail_type, "Detail": json.dumps(event.detail, sort_keys=True),
            "Resources": list(event.resources), "EventBusName": self._bus}
        if event.time is not None:
            entry["Time"] = event.time
        return entry

    def publish(self, changes: Sequence[Change]) -> None:
        pending = [self.entry(change) for change in changes]
        refused: list[tuple[PutEventsRequestEntryTypeDef, str]] = []
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(min(20.0, 0.2 * 2 ** attempt) * random.uniform(0.5, 1.0))
            refused = []
            for start in range(0, len(pending), _BATCH):
                refused.extend(self._put(pending[start:start + _BATCH]))
            if not refused:
                return
            pending = [entry for entry, _ in refused]
        named = "; ".join(f"{entry['DetailType']} {_subject(entry)}: {why}" for entry, why in refused)
        raise JobEventsUndelivered(f"EventBridge refused {len(refused)} job event(s) after {self._attempts} "
                                   f"attempts: {named}")

    def _put(self, batch: list[PutEventsRequestEntryTypeDef]) -> list[tuple[PutEventsRequestEntryTypeDef, str]]:
        self.calls += 1
        answer = self._events.put_events(Entries=batch)
        if not answer.get("FailedEntryCount"):
            return []
        # answers come in the order of the entries; a refused one carries an ErrorCode and no EventId
        return [(entry, f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}")
                for entry, result in zip(batch, answer["Entries"], strict=False) if result.get("ErrorCode")]


def _subject(entry: PutEventsRequestEntryTypeDef) -> str:
    detail: dict[str, Any] = json.loads(entry["Detail"])
    for key in ("backupJobId", "copyJobId", "restoreJobId", "recoveryPointArn"):
        if key in detail:
            return f"{detail[key]} ({detail.get('state') or detail.get('status')})"
    return "?"
