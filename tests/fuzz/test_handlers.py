"""A handful of the generated bad inputs through the real handlers on the twin: refused with InvalidInput naming
the field, and nothing written — not to the catalog, the vault or the work bucket."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from twins import Twins

from coffer_cli.local.session import LocalCoffer
from coffer_twin import TwinInvokeError

from .test_bad_input import BACKUP_BREAKAGES, RESTORE_BREAKAGES, STEP_BREAKAGES, envelope, json_values

ROOT = Path(__file__).resolve().parents[2]
VALID_BACKUP = {"ResourceArn": "arn:aws:s3:::fuzz-source", "IdempotencyToken": "fuzz",
                "Lifecycle": {"DeleteAfterDays": 35}}
VALID_RESTORE = {"RecoveryPointArn": "rp-1", "Metadata": {"DestinationBucketName": "fuzz-target"}}
STEP_FUNCTIONS = {"JobStep": "CheckBackupFunction", "ListBatchesStep": "ListBatchesFunction",
                  "BatchStep": "CopyBatchFunction", "FailStep": "FailJobFunction"}


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed:
        deployed.client("s3").create_bucket(Bucket="fuzz-source")
        yield deployed


def _written(coffer: LocalCoffer) -> tuple[Any, ...]:
    s3 = coffer.client("s3")
    items = coffer.client("dynamodb").scan(TableName=coffer.settings.catalog_table)["Items"]
    return (sorted(json.dumps(i, sort_keys=True) for i in items),
            *(sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", []))
              for b in (coffer.settings.vault_bucket, coffer.settings.work_bucket)))


#: start handlers answer a refused request with a refusal (no stack trace for Step Functions to keep); the steps
#: after them raise InvalidInput for their workflow's Catch
START_FUNCTIONS = {"StartBackupJobFunction", "StartRestoreJobFunction", "StartCopyJobFunction"}


def _refused(coffer: LocalCoffer, function: str, event: Any, field: str | None) -> None:
    before = _written(coffer)
    if function in START_FUNCTIONS:
        result = coffer.twin.invoke(function, event)
        assert result["next"] == "refused" and result["error"]["Error"] == "InvalidInput", result
        message = result["error"]["Cause"]
    else:
        with pytest.raises(TwinInvokeError) as raised:
            coffer.twin.invoke(function, event)
        assert raised.value.error_type == "InvalidInput", raised.value
        message = raised.value.error_message
    assert field is None or field in message, (field, message)
    assert _written(coffer) == before


@pytest.mark.parametrize(("field", "breakage"), BACKUP_BREAKAGES, ids=[f for f, _ in BACKUP_BREAKAGES])
def test_a_broken_start_backup_job_event_is_refused_by_the_handler(coffer: LocalCoffer, field: str,
                                                                   breakage: Any) -> None:
    detail = copy.deepcopy(VALID_BACKUP)
    breakage(detail)
    _refused(coffer, "StartBackupJobFunction", {"event": envelope("StartBackupJob", detail), "execution_arn": "x"},
             field)


@pytest.mark.parametrize(("field", "breakage"), RESTORE_BREAKAGES, ids=[f for f, _ in RESTORE_BREAKAGES])
def test_a_broken_start_restore_job_event_is_refused_by_the_handler(coffer: LocalCoffer, field: str,
                                                                    breakage: Any) -> None:
    detail = copy.deepcopy(VALID_RESTORE)
    breakage(detail)
    _refused(coffer, "StartRestoreJobFunction", {"event": envelope("StartRestoreJob", detail)}, field)


@pytest.mark.parametrize(("model", "payload", "field"), STEP_BREAKAGES,
                         ids=[f"{m.__name__}-{f}" for m, _, f in STEP_BREAKAGES])
def test_a_broken_step_payload_is_refused_by_its_handler(coffer: LocalCoffer, model: Any, payload: dict[str, Any],
                                                         field: str) -> None:
    _refused(coffer, STEP_FUNCTIONS[model.__name__], payload, field)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(json_values)
def test_arbitrary_json_sent_to_the_start_handler_is_refused_and_writes_nothing(coffer: LocalCoffer,
                                                                               value: Any) -> None:
    _refused(coffer, "StartBackupJobFunction", {"event": envelope("StartBackupJob", value), "execution_arn": "x"},
             "detail")


def test_a_broken_event_on_the_bus_ends_its_workflow_refused_and_writes_nothing(coffer: LocalCoffer) -> None:
    before = _written(coffer)
    detail = copy.deepcopy(VALID_BACKUP)
    detail["Lifecycle"] = {"DeleteAfterDay": 7}
    result = coffer.start_backup(detail)
    assert result["error"] == "RequestRefused"
    assert "detail.Lifecycle.DeleteAfterDay: Extra inputs are not permitted" in json.dumps(
        coffer.twin.history(result["arn"]), default=str)
    assert _written(coffer) == before
