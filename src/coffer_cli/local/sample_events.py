"""Run the sample events of `events/` on the twin: the twin of `sam local invoke`.

`events/index.yaml` says which function each event is for and which events must have run before it
(a workflow step works on the job an earlier step made). Sample events are dated at SAMPLE_EPOCH, so
the handlers read a clock stopped just after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from coffer.domain.clock import FixedClock
from coffer_cli.local.copy_destinations import COPY_FUNCTIONS, prepare_copy_destination
from coffer_cli.local.sample_plans import apply_sample_plan
from coffer_cli.local.samples import create_sample_bucket, create_sample_table, create_sample_versioned_bucket
from coffer_cli.local.session import LocalCoffer, local_twin

SAMPLE_EPOCH = datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)
BUS = "bus"


@dataclass(frozen=True)
class SampleEvent:
    name: str
    function: str
    after: tuple[str, ...]
    body: Any


def load_index(events_dir: Path) -> dict[str, SampleEvent]:
    index = yaml.safe_load((events_dir / "index.yaml").read_text())
    return {
        name: SampleEvent(name, entry["function"], tuple(entry.get("after", [])),
                          json.loads((events_dir / name).read_text()))
        for name, entry in index.items()
    }


def deliver(coffer: LocalCoffer, event: SampleEvent) -> Any:
    """Invoke the event's function (or put it on the bus and wait for the workflow it starts)."""
    if event.function == BUS:
        body = event.body
        executions = coffer.twin.put_event(body["Source"], body["DetailType"], body["Detail"])
        return [dict(coffer.twin.wait(arn, timeout=120)) for arn in executions]
    return coffer.twin.invoke(event.function, event.body)


def prepare(coffer: LocalCoffer) -> None:
    create_sample_bucket(coffer.client("s3"))
    create_sample_table(coffer.client("dynamodb"))
    create_sample_versioned_bucket(coffer.client("s3"))  # the continuous backup samples protect it
    apply_sample_plan(coffer)  # the PlanRun functions' samples run the sample plan


def invoke_sample(project_root: Path, event_file: Path, function: str | None = None) -> Any:
    """Fresh twin, sample resources, the events this one depends on, then this one. Returns its result."""
    events = load_index(event_file.parent)
    if event_file.name not in events:
        raise KeyError(f"{event_file.name} is not listed in {event_file.parent / 'index.yaml'}")
    target = events[event_file.name]
    if function and function != target.function:
        raise ValueError(f"{event_file.name} is an event for {target.function}, not {function}")
    with local_twin(project_root, clock=FixedClock(SAMPLE_EPOCH)) as coffer:
        prepare(coffer)
        if {target.function, *(events[name].function for name in target.after)} & COPY_FUNCTIONS:
            prepare_copy_destination(coffer, project_root)  # only the copy samples pay for a second region
        for name in target.after:
            deliver(coffer, events[name])
        return deliver(coffer, target)
