"""Operator alerts, pure: how often a rule promises a backup, when a resource's schedule counts as missed (and
the grace a newly selected one gets), what to do about a blocked expiry, and what each message says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coffer.domain.alerts import (
    BlockedExpiry,
    Staleness,
    expiry_blocked_notice,
    frequency_of,
    missed_schedule_notice,
    remedy,
)
from coffer.domain.schedules import parse_schedule

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def stale(last: datetime | None, first: datetime = NOW - timedelta(days=30)) -> Staleness:
    return Staleness(plan_name="daily", rule_name="five", vault_name="Default", resource_arn="arn:aws:s3:::payroll",
                     first_selected=first, last_completed=last, frequency=timedelta(days=1),
                     window=timedelta(hours=8))


def test_a_rates_frequency_is_its_period_and_a_crons_its_longest_gap() -> None:
    assert frequency_of(parse_schedule("rate(6 hours)"), NOW) == timedelta(hours=6)
    assert frequency_of(parse_schedule("cron(0 5 ? * * *)"), NOW) == timedelta(days=1)
    # weekdays only: the weekend is allowed, or every Monday would raise a false alarm
    assert frequency_of(parse_schedule("cron(0 5 ? * MON-FRI *)"), NOW) == timedelta(days=3)
    # office hours: the night's gap, not the hour's
    assert frequency_of(parse_schedule("cron(0 8-17 ? * * *)"), NOW) == timedelta(hours=15)
    assert frequency_of(parse_schedule("cron(0 5 1 1 ? 2020)"), NOW) is None  # never fires again
    assert frequency_of(parse_schedule("cron(0 5 1 * ? *)"), NOW) == timedelta(days=31)  # monthly: the long months
    assert frequency_of(parse_schedule("cron(0 5 1 1 ? *)"), NOW) == timedelta(days=366)  # yearly, 2028 a leap year


def test_a_resource_inside_its_frequency_plus_windows_is_not_missed_and_one_a_second_past_is() -> None:
    allowed = timedelta(days=1, hours=8)
    assert not stale(NOW - allowed).missed(NOW)  # exactly at the edge: not yet
    assert stale(NOW - allowed - timedelta(seconds=1)).missed(NOW)
    assert stale(NOW - timedelta(hours=2)).age(NOW) == timedelta(hours=2)


def test_a_newly_selected_resource_gets_one_full_frequency_plus_window_of_grace() -> None:
    assert not stale(None, first=NOW - timedelta(days=1, hours=7)).missed(NOW)
    assert stale(None, first=NOW - timedelta(days=1, hours=9)).missed(NOW)  # never backed up, grace over


def test_the_missed_schedule_message_names_plan_rule_resource_age_frequency_and_the_command() -> None:
    notice = missed_schedule_notice([stale(NOW - timedelta(hours=50))], NOW, "prod")
    assert notice.subject == "Coffer missed schedule: plan daily, rule five" and notice.vault_name == "Default"
    assert "arn:aws:s3:::payroll: age 50.0 h (allowed 32.0 h)" in notice.message
    assert "frequency (24.0 h)" in notice.message
    assert "coffer jobs list --by-resource-arn arn:aws:s3:::payroll --stack prod" in notice.message


def test_a_long_list_of_missed_resources_is_cut_but_counted() -> None:
    many = [stale(None).model_copy(update={"resource_arn": f"arn:aws:s3:::b{n}"}) for n in range(45)]
    message = missed_schedule_notice(many, NOW, "prod").message
    assert "45 resource(s)" in message and "... and 25 more" in message and "arn:aws:s3:::b20" not in message


def test_each_blocked_expiry_says_what_to_do() -> None:
    assert "deregister the AMI" in remedy("InvalidSnapshot.InUse: The snapshot snap-1 is currently in use by "
                                          "ami-123")
    assert "permission" in remedy("AccessDenied: not authorized to perform ec2:DeleteSnapshot")
    assert "next daily sweep tries again" in remedy("InternalError: try later")
    notice = expiry_blocked_notice("Default", [BlockedExpiry(
        recovery_point_id="rp-1", resource_arn="arn:aws:ec2:eu-west-1:123456789012:volume/vol-1",
        reason="InvalidSnapshot.InUse: in use by ami-1", remedy=remedy("InvalidSnapshot.InUse"))], "sweep-1", "prod")
    assert "rp-1" in notice.message and "deregister the AMI" in notice.message
    assert "coffer recovery-points describe rp-1 --stack prod" in notice.message


def test_a_rule_is_silent_only_past_its_frequency_plus_windows_since_it_last_fired_or_was_applied() -> None:
    from coffer.domain.alerts import SilentRule, silent_rule_notice

    def rule(last: datetime | None, since: datetime = NOW - timedelta(days=10)) -> SilentRule:
        return SilentRule(plan_name="daily", rule_name="five", vault_name="Default", schedule="cron(0 5 ? * * *)",
                          last_fired=last, since=since, frequency=timedelta(days=1), window=timedelta(hours=8))

    assert not rule(NOW - timedelta(days=1, hours=8)).silent(NOW)
    assert rule(NOW - timedelta(days=1, hours=9)).silent(NOW)
    assert not rule(None, since=NOW - timedelta(hours=30)).silent(NOW)  # applied yesterday, not fired yet: grace
    notice = silent_rule_notice(rule(None), NOW, "prod")
    assert "has not run for 240.0 h" in notice.message and "never, since the plan was applied" in notice.message
    assert "coffer plan runs daily --stack prod" in notice.message
