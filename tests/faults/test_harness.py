"""The fault harness itself: failures look like AWS's to botocore, land where they are aimed, and only there."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from coffer.adapters import aws
from coffer_twin.calls import DRIVER, ENGINE, CallRecorder
from coffer_twin.faults import FaultKind, asl_task_functions

from .conftest import ROOT, World

NO_RETRY = Config(retries={"total_max_attempts": 1})


def _code(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    return aws.error_code(raised.value), raised.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def bucket(world: World) -> str:
    name = f"harness-{time.monotonic_ns()}"
    world.s3.create_bucket(Bucket=name)
    world.s3.put_object(Bucket=name, Key="k", Body=b"v")
    return name


def test_each_kind_answers_in_the_services_own_protocol(world: World, bucket: str) -> None:
    session = world.twin.session
    s3, db = session.client("s3", config=NO_RETRY), session.client("dynamodb", config=NO_RETRY)
    sts, lam = session.client("sts", config=NO_RETRY), session.client("lambda", config=NO_RETRY)
    table = world.coffer.settings.catalog_table
    faults = world.faults
    faults.fail(FaultKind.THROTTLING, "s3", "GetObject", caller=DRIVER)
    assert _code(lambda: s3.get_object(Bucket=bucket, Key="k")) == ("SlowDown", 503)
    faults.fail(FaultKind.SERVER_ERROR, "s3", "GetObject", caller=DRIVER)
    assert _code(lambda: s3.get_object(Bucket=bucket, Key="k")) == ("InternalError", 500)
    faults.fail(FaultKind.ACCESS_DENIED, "s3", "HeadObject", caller=DRIVER)
    assert _code(lambda: s3.head_object(Bucket=bucket, Key="k")) == ("403", 403)  # a HEAD has no body
    faults.fail(FaultKind.THROTTLING, "dynamodb", "GetItem", caller=DRIVER)
    assert _code(lambda: db.get_item(TableName=table, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})) == (
        "ThrottlingException", 400)
    faults.fail(FaultKind.ACCESS_DENIED, "dynamodb", "GetItem", caller=DRIVER)
    assert _code(lambda: db.get_item(TableName=table, Key={"pk": {"S": "x"}, "sk": {"S": "y"}}))[0] == (
        "AccessDeniedException")
    faults.fail(FaultKind.THROTTLING, "sts", "GetCallerIdentity", caller=DRIVER)
    assert _code(sts.get_caller_identity) == ("Throttling", 400)
    faults.fail(FaultKind.THROTTLING, "lambda", "ListFunctions", caller=DRIVER)
    assert _code(lam.list_functions) == ("TooManyRequestsException", 429)
    assert all(f.injected == 1 for f in faults.faults)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"  # each fault was spent once


def test_a_timeout_happens_after_the_call_took_effect_a_connection_error_before(world: World, bucket: str) -> None:
    s3 = world.twin.session.client("s3", config=NO_RETRY)
    world.faults.fail(FaultKind.TIMEOUT, "s3", "PutObject", caller=DRIVER)
    with pytest.raises(ReadTimeoutError):
        s3.put_object(Bucket=bucket, Key="answer-lost", Body=b"1")
    world.faults.fail(FaultKind.CONNECTION, "s3", "PutObject", caller=DRIVER)
    with pytest.raises(EndpointConnectionError):
        s3.put_object(Bucket=bucket, Key="never-sent", Body=b"2")
    assert set(world.keys(bucket)) == {"k", "answer-lost"}


def test_skip_and_times_pick_the_attempts_that_fail(world: World, bucket: str) -> None:
    s3 = world.twin.session.client("s3", config=NO_RETRY)
    fault = world.faults.fail(FaultKind.SERVER_ERROR, "s3", "HeadObject", caller=DRIVER, skip=1, times=2)
    outcomes = []
    for _ in range(4):
        try:
            s3.head_object(Bucket=bucket, Key="k")
            outcomes.append("ok")
        except ClientError:
            outcomes.append("failed")
    assert outcomes == ["ok", "failed", "failed", "ok"] and (fault.seen, fault.injected) == (4, 2)
    forever = world.faults.fail(FaultKind.SERVER_ERROR, "s3", "HeadObject", caller=DRIVER, times=None)
    for _ in range(3):
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key="k")
    assert forever.injected == 3


def test_botocore_retries_what_the_harness_fails_with_its_sleeps_scaled(world: World, bucket: str) -> None:
    s3 = aws.client("s3", world.twin.region, world.twin.session)  # the handlers' retry policy
    world.faults.fail(FaultKind.THROTTLING, "s3", "GetObject", caller=DRIVER, times=3)
    started = time.monotonic()
    with CallRecorder() as calls:
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    assert [c.status for c in calls.select(operation="GetObject")] == [503, 503, 503, 200]
    assert time.monotonic() - started < 1.0  # unscaled, three throttling backoffs average 3.5 s


def test_calls_are_attributed_to_the_function_or_the_engine_that_made_them(world: World) -> None:
    with CallRecorder() as calls:
        run = world.s3_backup()
    assert run.status == "SUCCEEDED"
    callers = {c.caller for c in calls.snapshot()}
    assert {"StartBackupJobFunction", "ListBatchesFunction", "CopyBatchFunction", "CompleteBackupFunction",
            ENGINE, DRIVER} <= callers
    assert {c.operation for c in calls.select(caller=ENGINE)} == {"Invoke", "ListObjectsV2", "PutObject"}
    assert all(c.caller == DRIVER for c in calls.select(operation="DescribeExecution"))
    # small objects: read (and hashed) from the source, copied straight into the vault - no staging copy
    copies = calls.select(caller="CopyBatchFunction", operation="CopyObject")
    assert {c.bucket_and_key[0] for c in copies} == {world.coffer.settings.vault_bucket}
    reads = calls.select(caller="CopyBatchFunction", operation="GetObject")
    assert run.details["bucket"] in {c.bucket_and_key[0] for c in reads}
    # a fault aimed at one function leaves the same call from the test alone
    world.faults.fail(FaultKind.ACCESS_DENIED, "s3", "ListObjectsV2", caller="ListBatchesFunction", times=None)
    assert world.s3.list_objects_v2(Bucket=run.details["bucket"])["KeyCount"] == 6


def test_a_create_whose_answer_was_lost_is_not_sent_again(world: World) -> None:
    """botocore would repeat a CreateBackup whose answer timed out, making a second backup; Coffer's clients
    let the call fail instead, and the adapter finds the first backup on the step's retry."""
    db = aws.client("dynamodb", world.twin.region, world.twin.session)
    before = len(world.db.list_backups(TableName="coffer-sample-orders")["BackupSummaries"])
    world.faults.fail(FaultKind.TIMEOUT, "dynamodb", "CreateBackup", caller=DRIVER)
    with pytest.raises(ReadTimeoutError):
        db.create_backup(TableName="coffer-sample-orders", BackupName="answer-lost")
    world.faults.fail(FaultKind.THROTTLING, "dynamodb", "CreateBackup", caller=DRIVER)
    db.create_backup(TableName="coffer-sample-orders", BackupName="throttled-once")  # refused: sent again
    names = [b["BackupName"] for b in world.db.list_backups(TableName="coffer-sample-orders")["BackupSummaries"]]
    assert len(names) == before + 2 and {"answer-lost", "throttled-once"} <= set(names)
    for backup in world.db.list_backups(TableName="coffer-sample-orders")["BackupSummaries"]:
        if backup["BackupName"] in ("answer-lost", "throttled-once"):
            world.db.delete_backup(BackupArn=backup["BackupArn"])


@pytest.mark.parametrize("machine", sorted(p.name for p in (ROOT / "statemachines").glob("*.asl.json")))
def test_every_lambda_task_retries_the_names_transient_aws_errors_reach_it_by(machine: str) -> None:
    definition = json.loads((ROOT / "statemachines" / machine).read_text())
    tasks = asl_task_functions(definition)
    assert tasks

    def retried(states: dict[str, Any]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for name, state in states.items():
            found[name] = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
            for nested in (state.get("ItemProcessor"), state.get("Iterator")):
                if nested:
                    found.update(retried(nested["States"]))
        return found

    names = retried(definition["States"])
    for task in tasks:
        assert set(aws.TRANSIENT_ERROR_NAMES) <= names[task], (machine, task)


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "Op")


@pytest.mark.parametrize(("error", "name"), [
    (_client_error("SlowDown", 503), "SlowDown"),
    (_client_error("503", 503), "ServiceUnavailable"),
    (_client_error("InternalError", 500), "InternalError"),
    (_client_error("TooManyRequestsException", 429), "ThrottlingException"),
    (_client_error("Throttling", 400), "ThrottlingException"),
    (ReadTimeoutError(endpoint_url="https://x"), "ServiceUnavailable"),
    (EndpointConnectionError(endpoint_url="https://x"), "ServiceUnavailable"),
    (_client_error("AccessDenied", 403), None),
    (_client_error("ConditionalCheckFailedException", 400), None),
    (ValueError("not AWS"), None),
])
def test_transient_aws_errors_get_the_names_the_workflows_retry(error: Exception, name: str | None) -> None:
    named = aws.transient(error)
    assert (type(named).__name__ if named else None) == name
    assert name is None or name in aws.TRANSIENT_ERROR_NAMES


def test_the_tasks_derived_from_the_asl_are_the_template_functions() -> None:
    backup = asl_task_functions(json.loads(Path(ROOT / "statemachines/backup.asl.json").read_text()))
    assert {"StartBackupJob": "StartBackupJobFunction", "CopyBatch": "CopyBatchFunction",
            "FailJob": "FailJobFunction"}.items() <= backup.items()
