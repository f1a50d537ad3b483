"""Plan runs' pure rules: run and job identities, window slots, and which lifecycle keeps a backup longer."""

from __future__ import annotations

from datetime import UTC, datetime

from coffer.domain.lifecycle import Lifecycle
from coffer.domain.plan_runs import (
    RunCounts,
    backup_token,
    execution_name,
    longer_lifecycle,
    page_key,
    parse_scheduled_time,
    run_id_for,
    seq_of,
    window_slot,
)

FIVE = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)


def test_a_run_is_named_by_its_rule_and_scheduled_time() -> None:
    assert run_id_for("p", "daily", FIVE) == run_id_for("p", "daily", FIVE)
    assert len({run_id_for("p", "daily", FIVE), run_id_for("p", "hourly", FIVE),
                run_id_for("p", "daily", FIVE.replace(hour=6)), run_id_for("q", "daily", FIVE)}) == 4


def test_a_backup_token_fits_aws_limits_whatever_the_arn() -> None:
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/" + "t" * 2000
    token = backup_token("p", "daily", FIVE, arn)
    assert token.startswith("plan-") and len(token) <= 256 and len(execution_name(token)) <= 80
    assert token == backup_token("p", "daily", FIVE, arn) != backup_token("p", "hourly", FIVE, arn)


def test_runs_in_the_same_utc_hour_share_a_window_slot() -> None:
    assert window_slot(FIVE) == window_slot(FIVE.replace(minute=45)) == "2026-11-26T05"
    assert window_slot(FIVE.replace(hour=6)) != window_slot(FIVE)
    paris = datetime.fromisoformat("2026-11-26T06:30:00+01:00")
    assert window_slot(paris) == "2026-11-26T05"


def test_the_longer_retention_wins_and_forever_is_longest() -> None:
    week, month, forever = Lifecycle(DeleteAfterDays=7), Lifecycle(DeleteAfterDays=35), Lifecycle()
    assert longer_lifecycle(week, month) is month and longer_lifecycle(month, week) is month
    assert longer_lifecycle(month, forever) is forever and longer_lifecycle(forever, month) is forever
    same = Lifecycle(DeleteAfterDays=35, OptInToArchiveForSupportedResources=True)  # a tie keeps what is there
    assert longer_lifecycle(month, same) is month


def test_scheduled_time_comes_from_scheduler_or_from_the_clock() -> None:
    assert parse_scheduled_time("2026-11-26T05:00:00Z", FIVE.replace(hour=9)) == FIVE
    now = datetime(2026, 11, 26, 9, 41, 17, 5, tzinfo=UTC)
    assert parse_scheduled_time(None, now) == parse_scheduled_time("<aws.scheduler.scheduled-time>", now) == \
        now.replace(second=0, microsecond=0)


def test_pages_and_counts() -> None:
    assert seq_of(page_key("run", 12)) == 12
    total = RunCounts(selected=3, started=2, skipped=1) + RunCounts(selected=1, failed=1)
    assert (total.selected, total.started, total.skipped, total.failed) == (4, 2, 1, 1)
