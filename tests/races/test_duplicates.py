"""Every event may arrive twice, or a hundred times at once; two requests for one resource may race.

Deliveries go through the twin's bus: the default bus's rules match the event and the twin's delivery
starts the Backup workflow for each, all at once from as many threads (a barrier releases them together).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer.domain.errors import NotFound
from coffer.domain.job_ids import job_id_for
from coffer.domain.jobs import Job, JobState
from coffer_cli.local.samples import create_sample_table
from coffer_cli.local.session import LocalCoffer

from .concurrency import all_at_once

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed:
        create_sample_table(deployed.client("dynamodb"))
        yield deployed




def _redeliver(coffer: LocalCoffer, event: dict[str, Any]) -> None:
    """What EventBridge does when it delivers an event again: the same event (same id) to the bus's rules."""
    from moto.events.models import events_backends

    bus = events_backends[coffer.twin.account_id][coffer.twin.region].event_buses["default"]
    for rule in list(bus.rules.values()):
        rule.send_to_targets(dict(event))


def _jobs(coffer: LocalCoffer) -> list[Job]:
    items = coffer.client("dynamodb").scan(TableName=coffer.settings.catalog_table)["Items"]
    return [Job.model_validate_json(i["doc"]["S"]) for i in items if i["sk"]["S"] == "JOB"]


def _bucket(coffer: LocalCoffer, name: str) -> str:
    s3 = coffer.client("s3")
    s3.create_bucket(Bucket=name)
    for k in range(3):
        s3.put_object(Bucket=name, Key=f"k{k}", Body=f"{name} {k}".encode())
    return name


def test_a_hundred_deliveries_of_one_event_at_once_make_one_job(coffer: LocalCoffer) -> None:
    bucket = _bucket(coffer, "redelivered")
    event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "StartBackupJob", "source": "coffer",
             "account": coffer.twin.account_id, "time": time.time(), "region": coffer.twin.region,
             "resources": [], "detail": {"ResourceArn": f"arn:aws:s3:::{bucket}"}}  # no token: the event id is
    jobs_before = len(_jobs(coffer))
    all_at_once(100, lambda _: _redeliver(coffer, event))
    executions = coffer.twin._delivery.executions_started_by(event["id"])
    assert len(executions) == 100
    results = [coffer.twin.wait(arn, timeout=300) for arn in executions]
    assert Counter(r["status"] for r in results) == {"SUCCEEDED": 100}
    outputs = [r["output"] for r in results]
    assert sum(1 for o in outputs if not o.get("duplicate")) == 1
    assert {o["job_id"] for o in outputs} == {job_id_for(event["id"])}
    assert len(_jobs(coffer)) == jobs_before + 1
    job = coffer.deps.catalog.get_job(job_id_for(event["id"]))
    assert job.state is JobState.COMPLETED and [t.state for t in job.history].count(JobState.RUNNING) == 1
    assert coffer.deps.catalog.lease_holder(job.resource_arn) is None


def test_concurrent_requests_with_one_idempotency_token_make_one_job(coffer: LocalCoffer) -> None:
    bucket = _bucket(coffer, "same-token")
    detail = {"ResourceArn": f"arn:aws:s3:::{bucket}", "IdempotencyToken": "nightly-same-token"}
    started = all_at_once(25, lambda _: coffer.twin.put_event("coffer", "StartBackupJob", detail))
    results = [coffer.twin.wait(arn, timeout=300) for arns in started for arn in arns]
    assert len(results) == 25 and all(r["status"] == "SUCCEEDED" for r in results)
    assert sum(1 for r in results if not r["output"].get("duplicate")) == 1
    assert coffer.deps.catalog.get_job(job_id_for("nightly-same-token")).state is JobState.COMPLETED


def test_two_requests_for_one_resource_at_once_run_one_job_and_refuse_the_other_naming_it(
        coffer: LocalCoffer) -> None:
    """The catalog lease: a conditional write that only one of two concurrent StartBackupJob can make. (Plan
    runs use the same start step; a planned request waits its turn instead, see test_backup_workflow.)"""
    table = f"arn:aws:dynamodb:{coffer.twin.region}:{coffer.twin.account_id}:table/coffer-sample-orders"
    for round_ in range(4):
        tokens = [f"race-{round_}-a", f"race-{round_}-b"]
        started = all_at_once(2, lambda i, tokens=tokens: coffer.twin.put_event(
            "coffer", "StartBackupJob", {"ResourceArn": table, "IdempotencyToken": tokens[i]}))
        results = [coffer.twin.wait(arns[0], timeout=60) for arns in started]
        ran = [i for i, r in enumerate(results) if r["status"] == "SUCCEEDED"]
        assert len(ran) == 1, results
        winner, loser = tokens[ran[0]], tokens[1 - ran[0]]
        assert coffer.deps.catalog.get_job(job_id_for(winner)).state is JobState.COMPLETED
        refused = results[1 - ran[0]]
        assert refused["error"] == "RequestRefused"
        # the refusal is the execution's one-line cause (no task failed: no stack trace in the history)
        assert not [e for e in coffer.twin.history(refused["arn"]) if e["type"] == "TaskFailed"]
        assert refused["cause"].startswith("ResourceBusy: ")
        assert f"is being backed up by job {job_id_for(winner)}" in refused["cause"]
        with pytest.raises(NotFound):
            coffer.deps.catalog.get_job(job_id_for(loser))
    assert coffer.deps.catalog.lease_holder(table) is None
