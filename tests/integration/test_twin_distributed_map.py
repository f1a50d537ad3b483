"""Distributed Map on the twin: S3 ItemReader, Lambda children, failure tolerance, and the ResultWriter
layout a later step reads (documented in coffer_twin.distributed_map)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer_twin import Twin

FIXTURE_APP = Path(__file__).resolve().parents[1] / "fixtures" / "twin"


@pytest.fixture(scope="module")
def twin(twins: Twins) -> Iterator[Twin]:
    with twins.deploy(FIXTURE_APP) as deployed:
        yield deployed


def _put(twin: Twin, keys_and_sizes: dict[str, int]) -> None:
    s3 = twin.client("s3")
    for key, size in keys_and_sizes.items():
        s3.put_object(Bucket=twin.physical_id("DataBucket"), Key=key, Body=b"x" * size)


def _read_json(twin: Twin, bucket: str, key: str) -> Any:
    return json.loads(twin.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_map_over_a_prefix_and_the_step_after_it_reads_the_results(twin: Twin) -> None:
    sizes = {f"ok/{i:02}.bin": i + 1 for i in range(12)}
    _put(twin, sizes)
    before = twin.invocations["MeasureFunction"]

    result = twin.run("FlowStateMachine", {"prefix": "ok/", "tolerance": 0})

    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["keys"] == sorted(sizes)
    assert result["output"]["total_bytes"] == sum(sizes.values())
    assert twin.invocations["MeasureFunction"] == before + len(sizes)
    types = [event["type"] for event in twin.history(result["arn"])]
    assert "MapRunStarted" in types and "MapRunSucceeded" in types


def test_result_writer_layout(twin: Twin) -> None:
    _put(twin, {"layout/a": 1, "layout/b": 2})
    arn = twin.start_execution("FlowStateMachine", {"prefix": "layout/", "tolerance": 0})
    assert twin.wait(arn)["status"] == "SUCCEEDED"
    map_output = json.loads(
        next(e["stateExitedEventDetails"]["output"] for e in twin.history(arn) if e["type"] == "MapStateExited")
    )["mapRun"]
    details = map_output["ResultWriterDetails"]
    run_id = map_output["MapRunArn"].split(":")[-1]
    assert details["Key"] == f"map-results/{run_id}/manifest.json"

    manifest = _read_json(twin, details["Bucket"], details["Key"])
    assert manifest["DestinationBucket"] == twin.physical_id("WorkBucket") == details["Bucket"]
    assert manifest["MapRunArn"] == map_output["MapRunArn"]
    assert manifest["ResultFiles"]["FAILED"] == [] and manifest["ResultFiles"]["PENDING"] == []
    [succeeded] = manifest["ResultFiles"]["SUCCEEDED"]
    assert succeeded["Key"] == f"map-results/{run_id}/SUCCEEDED_0.json"

    records = _read_json(twin, details["Bucket"], succeeded["Key"])
    assert [json.loads(r["Input"]) for r in records] == [{"Key": "layout/a"}, {"Key": "layout/b"}]  # ItemSelector
    assert [json.loads(r["Output"]) for r in records] == [
        {"key": "layout/a", "size": 1},
        {"key": "layout/b", "size": 2},
    ]
    assert {r["Status"] for r in records} == {"SUCCEEDED"}


def test_failed_child_fails_the_map_beyond_the_tolerance_and_it_is_catchable(twin: Twin) -> None:
    _put(twin, {"strict/ok": 1, "strict/poison": 1})
    result = twin.run("FlowStateMachine", {"prefix": "strict/", "tolerance": 0})
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["map_error"] == "States.ExceedToleratedFailureThreshold"


def test_failed_child_within_the_tolerance_is_reported_as_failed(twin: Twin) -> None:
    _put(twin, {"lenient/ok": 3, "lenient/poison": 1})
    arn = twin.start_execution("FlowStateMachine", {"prefix": "lenient/", "tolerance": 100})
    result = twin.wait(arn)
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["keys"] == ["lenient/ok"]

    manifest_key = f"map-results/{result['output']['map_run_arn'].split(':')[-1]}/manifest.json"
    manifest = _read_json(twin, twin.physical_id("WorkBucket"), manifest_key)
    [failed_file] = manifest["ResultFiles"]["FAILED"]
    [failed] = _read_json(twin, manifest["DestinationBucket"], failed_file["Key"])
    assert failed["Status"] == "FAILED"
    assert failed["Error"] == "PoisonError"
    assert json.loads(failed["Input"]) == {"Key": "lenient/poison"}
