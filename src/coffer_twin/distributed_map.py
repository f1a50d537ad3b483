"""Distributed Map on moto, made to end and report as in AWS.

What moto 5.2.5 does on its own, and what the twin changes (patches restored on exit):

- A failed child execution does not fail the Map: moto's worker counts it and gives it a ``null``
  output, and ``ToleratedFailureCount``/``ToleratedFailurePercentage`` have no effect. The twin records
  each child's outcome and fails the Map with ``States.ExceedToleratedFailureThreshold`` (catchable) when
  failures exceed the tolerance. A threshold counts as "not exceeded" unless both the count and the
  percentage are exceeded; with the defaults (both 0) any failure fails the Map, with only
  ``ToleratedFailurePercentage: 100`` none does. (AWS fails when *either* of two declared thresholds is
  exceeded; moto does not tell the twin which were declared.)
- ``ResultWriter`` with ``arn:aws:states:::s3:putObject``: moto writes only a ``manifest.json`` whose
  ``ResultFiles`` lists are all empty and drops the results. The twin writes AWS's layout instead.
- A failed S3 call of the ``ItemReader`` or the ``ResultWriter`` is an unhandled exception in moto, so the
  Map fails with ``States.Runtime``. The twin names it as AWS does, ``States.ItemReaderFailed`` /
  ``States.ResultWriterFailed``, which a ``Retry`` or ``Catch`` on the Map state can match.

Keys written under ``<Prefix>/<map run id>/`` (``<map run id>`` is the last ``:`` part of the map run
ARN; without ``Prefix`` the keys start at ``<map run id>/``)::

    manifest.json        {"DestinationBucket": "<bucket>", "MapRunArn": "<map run arn>",
                          "ResultFiles": {"FAILED":    [{"Key": ".../FAILED_0.json",    "Size": <bytes>}],
                                          "PENDING":   [],
                                          "SUCCEEDED": [{"Key": ".../SUCCEEDED_0.json", "Size": <bytes>}]}}
    SUCCEEDED_0.json     [{"Status": "SUCCEEDED", "Input": "<child input, JSON string>",
                           "InputDetails": {"Included": true},
                           "Output": "<child output, JSON string>", "OutputDetails": {"Included": true}}, ...]
    FAILED_0.json        [{"Status": "FAILED" | "ABORTED", "Input": "...", "InputDetails": {"Included": true},
                           "Error": "<error name>", "Cause": "<cause>"}, ...]

A result file is written (and listed) only when it has records; records are in item order. ``Input`` is
the child's input after ``ItemSelector``. AWS's records also carry ``ExecutionArn``, ``Name``,
``StateMachineArn``, ``StartDate``/``StopDate`` and redrive fields; moto's children are not executions, so
those are absent: read ``Status``, ``Input``, ``Output``, ``Error`` and ``Cause`` only. The Map state's
output is AWS's: ``{"MapRunArn": ..., "ResultWriterDetails": {"Bucket": ..., "Key": ".../manifest.json"}}``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

__all__ = ["ItemOutcome", "aws_shaped_distributed_map"]

_NO_INPUT = object()


@dataclass
class ItemOutcome:
    status: str = "FAILED"
    input: Any = _NO_INPUT
    output: Any = None
    error: str | None = None
    cause: str | None = None

    def record(self) -> dict[str, Any]:
        """This child's record in a result file."""
        entry: dict[str, Any] = {"Status": self.status}
        if self.input is not _NO_INPUT:
            entry["Input"] = _compact(self.input)
            entry["InputDetails"] = {"Included": True}
        if self.status == "SUCCEEDED":
            entry["Output"] = _compact(self.output)
            entry["OutputDetails"] = {"Included": True}
        else:
            entry["Error"] = self.error or "States.Runtime"
            entry["Cause"] = self.cause or ""
        return entry


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class _Outcomes:
    """Child outcomes per map run ARN and item index; Map workers write from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, dict[int, ItemOutcome]] = {}

    def item(self, run: str, index: int) -> ItemOutcome:
        with self._lock:
            return self._runs.setdefault(run, {}).setdefault(index, ItemOutcome())

    def pop(self, run: str) -> dict[int, ItemOutcome]:
        with self._lock:
            return self._runs.pop(run, {})

    def get(self, run: str) -> dict[int, ItemOutcome]:
        with self._lock:
            return dict(self._runs.get(run, {}))

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()


_OUTCOMES = _Outcomes()


def _item_index(env: Any) -> int:
    return int(env.states.context_object.context_object_data["Map"]["Item"]["Index"])


def _exceeds_tolerance(outcomes: dict[int, ItemOutcome], count: Any, percentage: Any) -> bool:
    failed = sum(1 for outcome in outcomes.values() if outcome.status != "SUCCEEDED")
    if not failed:
        return False
    return failed > int(count or 0) and failed * 100.0 / len(outcomes) > float(percentage or 0)


def _threshold_exceeded(env: Any) -> Exception:
    return _states_error(env, "StatesExceedToleratedFailureThreshold",
                         "The specified tolerated failure threshold was exceeded")


def _states_error(env: Any, error_type: str, cause: str) -> Exception:
    """A catchable ``States.*`` error (``error_type`` names a ``StatesErrorNameType`` member)."""
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    error_name = StatesErrorName(typ=getattr(StatesErrorNameType, error_type))
    details = ExecutionFailedEventDetails(error=error_name.error_name, cause=cause)
    event = FailureEvent(
        env=env,
        error_name=error_name,
        event_type=HistoryEventType.ExecutionFailed,
        event_details=EventDetails(executionFailedEventDetails=details),  # type: ignore[typeddict-item]
    )
    return FailureEventException(failure_event=event)


def _write_results(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    """Replacement for moto's ``ResourceEvalS3._handle_put_object`` (same stack protocol)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )

    parameters = env.stack.pop()
    outputs = list(env.stack.pop() or [])
    s3 = _FailingAs(env, "StatesResultWriterFailed", ResourceEvalS3._get_s3_client(
        resource_runtime_part=resource_runtime_part, state_credentials=state_credentials))
    map_run_arn = env.map_run_record_pool_manager.get_all().pop().map_run_arn
    outcomes = _OUTCOMES.pop(map_run_arn)
    for index, output in enumerate(outputs):
        if index not in outcomes:  # no record (e.g. a legacy Iterator): the output is all there is
            outcomes[index] = ItemOutcome(status="SUCCEEDED")
        outcomes[index].output = output

    bucket = parameters["Bucket"]
    prefix = parameters.get("Prefix") or ""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    base = f"{prefix}{map_run_arn.split(':')[-1]}/"
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for kind, wanted in (("SUCCEEDED", True), ("FAILED", False)):
        records = [o.record() for _, o in sorted(outcomes.items()) if (o.status == "SUCCEEDED") == wanted]
        if records:
            body = json.dumps(records).encode("utf-8")
            key = f"{base}{kind}_0.json"
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            files[kind].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
    manifest_key = f"{base}manifest.json"
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest, indent=2).encode("utf-8"))
    env.stack.append({"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}})


class _FailingAs:
    """An S3 client whose failed calls raise the given ``States.*`` error (as AWS names them)."""

    def __init__(self, env: Any, error_type: str, client: Any) -> None:
        self._env, self._error_type, self._client = env, error_type, client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            try:
                return method(**kwargs)
            except Exception as error:
                raise _states_error(self._env, self._error_type, f"{type(error).__name__}: {error}") from error

        return call


@contextmanager
def aws_shaped_distributed_map() -> Iterator[None]:
    """Patch moto's Distributed Map worker, map run and S3 ResultWriter for the duration."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
        resource_eval_s3 as item_reader_s3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
        DistributedItemProcessorWorker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramError, ProgramStopped

    original_input = DistributedItemProcessorWorker._eval_input
    original_job = DistributedItemProcessorWorker._eval_job
    original_run = DistributedIterationComponent._map_run
    original_read = item_reader_s3.ResourceEvalS3.eval_resource

    def read_items(reader: Any, env: Any) -> None:
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException

        try:
            original_read(reader, env)
        except FailureEventException:
            raise
        except Exception as error:
            raise _states_error(env, "StatesItemReaderFailed", f"{type(error).__name__}: {error}") from error

    def eval_input(worker: Any, env_frame: Any) -> None:
        original_input(worker, env_frame)
        run = worker._map_run_record.map_run_arn
        _OUTCOMES.item(run, _item_index(env_frame)).input = env_frame.states.get_input()

    def eval_job(worker: Any, env: Any, job: Any) -> None:
        original_job(worker, env, job)
        outcome = _OUTCOMES.item(worker._map_run_record.map_run_arn, job.job_index)
        state = env.program_state()
        if isinstance(state, ProgramEnded):
            outcome.status = "SUCCEEDED"
        elif isinstance(state, ProgramStopped):
            outcome.status = "ABORTED"
        elif isinstance(state, ProgramError) and state.error:
            outcome.error, outcome.cause = state.error.get("error"), state.error.get("cause")

    def map_run(component: Any, env: Any, eval_input: Any) -> None:
        original_run(component, env, eval_input)
        outcomes = _OUTCOMES.get(eval_input.map_run_record.map_run_arn)
        if _exceeds_tolerance(outcomes, eval_input.tolerated_failure_count, eval_input.tolerated_failure_percentage):
            _OUTCOMES.pop(eval_input.map_run_record.map_run_arn)
            raise _threshold_exceeded(env)

    with ExitStack() as patches:
        patches.enter_context(mock.patch.object(DistributedItemProcessorWorker, "_eval_input", eval_input))
        patches.enter_context(mock.patch.object(DistributedItemProcessorWorker, "_eval_job", eval_job))
        patches.enter_context(mock.patch.object(DistributedIterationComponent, "_map_run", map_run))
        patches.enter_context(mock.patch.object(ResourceEvalS3, "_handle_put_object", staticmethod(_write_results)))
        patches.enter_context(mock.patch.object(item_reader_s3.ResourceEvalS3, "eval_resource", read_items))
        patches.callback(_OUTCOMES.clear)
        yield
