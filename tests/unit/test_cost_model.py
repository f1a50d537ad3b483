"""bench/cost_model.py turns counted calls into dollars: its pricing rules and the poll loop it reads from the ASL."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cost_model() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cost_model", ROOT / "bench" / "cost_model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["cost_model"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def prices() -> dict[str, object]:
    loaded: dict[str, object] = json.loads((ROOT / "bench" / "prices.json").read_text())
    return loaded


def test_s3_requests_are_priced_by_class_and_deletes_are_free(cost_model: ModuleType, prices: dict) -> None:
    record = {"calls_by_operation": {"s3.CopyObject": 1000, "s3.PutObjectRetention": 1000, "s3.ListObjectsV2": 1000,
                                     "s3.HeadObject": 1000, "s3.GetObjectTagging": 1000, "s3.DeleteObject": 1000}}
    bill = cost_model.price_job(record, prices, cost_model.Assumptions())
    assert bill.s3_put == pytest.approx(3 * 0.005) and bill.s3_get == pytest.approx(2 * 0.0004)
    assert bill.total == pytest.approx(3 * 0.005 + 2 * 0.0004)


def test_transitions_invocations_and_catalog_units_are_priced(cost_model: ModuleType, prices: dict) -> None:
    record = {"state_transitions": 1000, "lambda_invocations": 10, "api_calls_by_handlers": 40,
              "calls_by_operation": {"dynamodb.BatchWriteItem": 4, "dynamodb.GetItem": 8}}
    assume = cost_model.Assumptions()
    bill = cost_model.price_job(record, prices, assume)
    assert bill.step_functions == pytest.approx(0.025)
    assert bill.dynamodb == pytest.approx((100 * 0.625 + 8 * 0.125) / 1e6)
    seconds = (10 * assume.lambda_ms_per_invocation + 40 * assume.lambda_ms_per_call) / 1000
    assert bill.lambda_ == pytest.approx(10 * 0.2 / 1e6 + seconds * assume.lambda_memory_gb * 0.0000133334)


def test_the_native_poll_loop_is_counted_from_the_backup_workflow(cost_model: ModuleType) -> None:
    asl = json.loads((ROOT / "statemachines" / "backup.asl.json").read_text())
    loop = cost_model.poll_loop_states(asl)
    states = asl["States"]
    assert states["WaitForBackup"]["Type"] == "Wait" and loop >= 2
    toy = {"States": {"W": {"Type": "Wait", "Next": "T"}, "T": {"Type": "Task", "Next": "C"},
                      "C": {"Type": "Choice", "Choices": [{"Next": "W"}], "Default": "Done"}}}
    assert cost_model.poll_loop_states(toy, "W") == 3


def test_the_s3_bill_grows_with_the_objects_and_the_native_bill_does_not(cost_model: ModuleType,
                                                                          prices: dict) -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    out = cost_model.model(results, prices, cost_model.Estate(), cost_model.Assumptions(), 30, 3,
                           [0, 100_000, 1_000_000])
    small, large = out["by_objects_per_bucket"]["100000"], out["by_objects_per_bucket"]["1000000"]
    # a job's own steps (start, complete: their invocations and transitions, cents a month) do not grow; the rest
    # grows with the objects alone
    fixed = out["by_objects_per_bucket"]["0"]["coffer_s3_month"]["total"]
    assert fixed < 0.01 * small["coffer_s3_month"]["total"]
    assert large["coffer_s3_month"]["total"] - fixed == pytest.approx(
        10 * (small["coffer_s3_month"]["total"] - fixed), rel=1e-3)
    assert large["aws_backup_month"]["total"] == pytest.approx(10 * small["aws_backup_month"]["total"], rel=1e-3)
    assert large["coffer_native_month"] == small["coffer_native_month"]


def test_a_native_job_waited_on_its_event_costs_the_same_whatever_the_snapshots_duration(
        cost_model: ModuleType, prices: dict) -> None:
    """A type bench/native.py measured with a simulated snapshot is priced from that job, with no poll loop added:
    a four-hour snapshot costs what a ten-minute one does. A type without that measure keeps the poll-loop model,
    which grows with the minutes."""
    job = {"job_state": "COMPLETED", "snapshot_minutes": 10, "api_calls": 30, "api_calls_by_handlers": 27,
           "state_transitions": 9, "lambda_invocations": 4, "calls_by_operation": {"dynamodb.GetItem": 10}}
    instant = {"api_calls": 20, "api_calls_by_handlers": 17, "state_transitions": 8, "lambda_invocations": 3,
               "calls_by_operation": {"dynamodb.GetItem": 5}}
    results = {"native_jobs": {"jobs": {"EBS": {"10": job}}},
               "per_type": {"EBS": {"backup": instant}, "RDS": {"backup": instant}}}
    assume = cost_model.Assumptions()

    def month(minutes: float) -> dict:
        estate = cost_model.Estate(native={"EBS": 1, "RDS": 1}, snapshot_minutes=minutes)
        return cost_model.native_month(results, estate, prices, assume, 30, 3)[1]

    short, long = month(10), month(240)
    assert short["EBS"] == long["EBS"]
    assert (short["EBS"]["calls_per_job"], short["EBS"]["transitions_per_job"], short["EBS"]["polls_per_job"]) == (
        30, 9, 0)
    assert (short["RDS"]["polls_per_job"], long["RDS"]["polls_per_job"]) == (20, 480)
    assert long["RDS"]["calls_per_job"] == 20 + 480 * 2 and long["RDS"]["per_job_dollars"] > short["RDS"][
        "per_job_dollars"]


def test_a_churned_blobs_lock_outlasts_the_need_by_the_slack_at_most_and_by_half_of_it_for_long_lives(
        cost_model: ModuleType) -> None:
    excess = cost_model.churned_lock_excess_days
    assert excess(0, 0.01) == 0.0  # no slack: locked to exactly what the newest recovery point needs
    assert excess(10, 1.0) == pytest.approx(10.0)  # changed the day after its first backup: the whole slack
    assert excess(10, 1e-6) == pytest.approx(5.5, abs=1e-3)  # long lives: (slack + 1) / 2
    assert all(excess(s, 0.01) < s for s in (7, 14, 80))


def test_the_lock_excess_matches_a_simulation_of_blobs_extended_on_their_own_rolling_days(
        cost_model: ModuleType) -> None:
    """The model's closed form against the real rolling-day rule (domain/tag_freshness.py is_refresh_day, as
    services/object_batches.py `_secured` uses it) over simulated blobs with random lifetimes."""
    import random
    from datetime import date, timedelta

    from coffer.domain.tag_freshness import is_refresh_day

    slack, rate, rng = 14, 0.05, random.Random(7)
    start, total, blobs = date(2026, 3, 1), 0, 3000
    for n in range(blobs):
        blob = f"Default/blobs/{n:064x}"
        born = rng.randrange(0, 400)
        life = 1
        while rng.random() >= rate:
            life += 1
        last_backup = born + life - 1
        last_set = max([born] + [d for d in range(born + 1, last_backup + 1)
                                 if is_refresh_day(blob, start + timedelta(days=d), slack)])
        total += last_set + slack - last_backup
    assert total / blobs == pytest.approx(cost_model.churned_lock_excess_days(slack, rate), rel=0.05)


def test_a_run_scaled_up_grows_its_per_object_calls_and_keeps_a_jobs_own_calls(cost_model: ModuleType) -> None:
    run = {"calls_by_operation": {"s3.PutObjectRetention": 10, "dynamodb.GetItem": 16, "dynamodb.Query": 4},
           "fixed_calls_by_operation": {"dynamodb.GetItem": 16, "dynamodb.Query": 2},
           "api_calls_by_handlers": 30, "lambda_invocations": 5, "state_transitions": 8,
           "invocations_by_function": {"CopyBatchFunction": 2, "StartBackupJobFunction": 1}}
    scaled = cost_model.scaled_run(run, 100)
    assert scaled["calls_by_operation"] == {"s3.PutObjectRetention": 1000, "dynamodb.GetItem": 16,
                                            "dynamodb.Query": 2 + 2 * 100}
    assert scaled["api_calls_by_handlers"] == 30 + (990 + 198)
    assert scaled["lambda_invocations"] == 5 + 2 * 99 and scaled["state_transitions"] == 8 - 2 + 200
