import pytest

from coffer.domain.batches import split_by_bytes
from coffer.domain.errors import InvalidInput
from coffer.domain.job_ids import job_id_for, recovery_point_id_for
from coffer.services.jobs_common import reason_from_cause
from coffer.settings import Settings

ENV = {"CATALOG_TABLE": "t", "VAULT_BUCKET": "v", "WORK_BUCKET": "w", "VAULT_KEY_ARN": "k", "AWS_REGION": "eu-west-1"}


def test_settings_fail_at_once_naming_every_missing_variable() -> None:
    with pytest.raises(InvalidInput) as refused:
        Settings.from_env({"CATALOG_TABLE": "t"})
    assert "VAULT_BUCKET is not set" in str(refused.value)
    assert "WORK_BUCKET is not set" in str(refused.value)


def test_settings_refuse_a_number_that_is_not_one() -> None:
    with pytest.raises(InvalidInput):
        Settings.from_env({**ENV, "BATCH_SIZE": "lots"})


def test_settings_defaults() -> None:
    settings = Settings.from_env(ENV)
    assert (settings.batch_size, settings.poll_seconds, settings.vault_lock_mode) == (1000, 30, "GOVERNANCE")


def test_batches_are_bounded_by_bytes_and_keep_order() -> None:
    items = [{"key": str(i), "size": size} for i, size in enumerate([4, 4, 4, 10, 1, 1])]
    batches = split_by_bytes(items, limit=8)
    assert [[i["key"] for i in b] for b in batches] == [["0", "1"], ["2"], ["3"], ["4", "5"]]
    assert split_by_bytes([], 8) == []


def test_ids_derive_from_the_idempotency_token() -> None:
    assert job_id_for("a") == job_id_for("a") != job_id_for("b")
    assert recovery_point_id_for(job_id_for("a")) != job_id_for("a")


def test_failure_reason_keeps_lambdas_error_message() -> None:
    cause = '{"errorType": "NotFound", "errorMessage": "table x not found", "stackTrace": []}'
    assert reason_from_cause("NotFound", cause) == "NotFound: table x not found"
    assert reason_from_cause("States.Timeout", None) == "States.Timeout"
