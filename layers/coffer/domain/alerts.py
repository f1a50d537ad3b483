"""Operator alerts that are not job events: a missed schedule, an expiry the sweep cannot finish, a broken audit
chain. Pure: what counts as each, and the message a person gets (what, which resource, why, what to do, and the
`coffer` command to look further). services/alerts.py publishes them and counts them as metrics.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from pydantic import BaseModel, ConfigDict

from coffer.domain.notifications import Notice, subject_line
from coffer.domain.schedules import CronSchedule, Schedule

#: a cron's frequency is the longest gap among this many fires after the rule's scheduled time
_FIRES = 60
#: ... or the fires within this span after it, whichever ends first (at least two)
_HORIZON = timedelta(days=400)
#: a notice lists at most this many resources (the count says how many in all)
LISTED = 20


def frequency_of(schedule: Schedule, after: datetime) -> timedelta | None:
    """How long a rule may go between two fires: a rate's period; for a cron, the longest gap between consecutive
    fires among the next ones after `after` (so a weekdays-only rule is allowed its weekend). None: it never fires
    twice again (a cron with a Year field in the past)."""
    if not isinstance(schedule, CronSchedule):
        return schedule.period
    fires: list[datetime] = []
    at: datetime | None = after
    # enough fires to see a cron's longest gap, but no more than a year and a bit of them (a monthly or yearly cron)
    while at is not None and len(fires) < _FIRES and (len(fires) < 2 or fires[-1] - after < _HORIZON):
        at = schedule.next_fire(at)
        if at is not None:
            fires.append(at)
    gaps = [later - earlier for earlier, later in pairwise(fires)]
    return max(gaps) if gaps else None


class Staleness(BaseModel):
    """One resource a rule selects, and how old its newest COMPLETED recovery point is against what the rule
    promises: one fire every `frequency`, started within the start window and done within the completion window."""

    model_config = ConfigDict(frozen=True)

    plan_name: str
    rule_name: str
    vault_name: str
    resource_arn: str
    #: when the rule first selected the resource (its grace starts there)
    first_selected: datetime
    #: the newest COMPLETED recovery point's completion (None: none yet)
    last_completed: datetime | None
    frequency: timedelta
    #: start window + completion window
    window: timedelta

    @property
    def allowed(self) -> timedelta:
        return self.frequency + self.window

    def age(self, now: datetime) -> timedelta:
        """The newest completed recovery point's age; without one, the time since the resource was first selected
        (a newly selected resource gets one full frequency plus window of grace)."""
        return max(timedelta(0), now - (self.last_completed or self.first_selected))

    def missed(self, now: datetime) -> bool:
        return self.age(now) > self.allowed


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:.1f} h"


def missed_schedule_notice(missed: list[Staleness], now: datetime, stack: str) -> Notice:
    """One message per plan run page: the plan, rule, each resource with its age, the expected frequency."""
    first = missed[0]
    lines = [f"Coffer plan {first.plan_name}, rule {first.rule_name}: {len(missed)} resource(s) have no COMPLETED "
             f"recovery point within the rule's frequency ({_hours(first.frequency)}) plus its start and completion "
             f"windows ({_hours(first.window)}) - a missed schedule.", f"Vault: {first.vault_name}"]
    for stale in missed[:LISTED]:
        newest = stale.last_completed.isoformat() if stale.last_completed else \
            f"none since first selected {stale.first_selected.isoformat()}"
        lines.append(f"Resource: {stale.resource_arn}: age {_hours(stale.age(now))} (allowed "
                     f"{_hours(stale.allowed)}); newest completed: {newest}")
    if len(missed) > LISTED:
        lines.append(f"... and {len(missed) - LISTED} more")
    lines.append("What to do: look at the rule's recent runs and the resources' failed jobs; start a backup by hand "
                 "if the next fire is too far.")
    lines.append(f"Look further: coffer plan runs {first.plan_name} --stack {stack}; coffer jobs list "
                 f"--by-resource-arn {first.resource_arn} --stack {stack}")
    return Notice(subject=subject_line(f"Coffer missed schedule: plan {first.plan_name}, rule {first.rule_name}"),
                  message="\n".join(lines) + "\n", vault_name=first.vault_name)


class SilentRule(BaseModel):
    """A plan rule whose schedule has not fired within its frequency plus windows: every resource it selects goes
    without a new backup, and no plan run settles to say so (the daily sweep looks for these)."""

    model_config = ConfigDict(frozen=True)

    plan_name: str
    rule_name: str
    vault_name: str
    schedule: str
    #: the newest run's scheduled time (None: never fired since `since`)
    last_fired: datetime | None
    #: when the plan (this version) was applied: a rule that never fired is measured from there
    since: datetime
    frequency: timedelta
    window: timedelta

    def age(self, now: datetime) -> timedelta:
        return max(timedelta(0), now - (self.last_fired or self.since))

    def silent(self, now: datetime) -> bool:
        return self.age(now) > self.frequency + self.window


def silent_rule_notice(rule: SilentRule, now: datetime, stack: str) -> Notice:
    last = rule.last_fired.isoformat() if rule.last_fired else \
        f"never, since the plan was applied {rule.since.isoformat()}"
    lines = [f"Coffer plan {rule.plan_name}, rule {rule.rule_name} has not run for {_hours(rule.age(now))}: its "
             f"schedule ({rule.schedule}) fires every {_hours(rule.frequency)} at most, plus its windows "
             f"({_hours(rule.window)}) - a missed schedule for every resource it selects.",
             f"Vault: {rule.vault_name}", f"Last run: {last}",
             "What to do: check the rule's EventBridge Scheduler schedule (disabled, deleted, its role) and the "
             "PlanRun workflow's failed executions; `coffer plan apply` puts the schedules back.",
             f"Look further: coffer plan runs {rule.plan_name} --stack {stack}"]
    subject = f"Coffer missed schedule: plan {rule.plan_name}, rule {rule.rule_name} has not run"
    return Notice(subject=subject_line(subject),
                  message="\n".join(lines) + "\n", vault_name=rule.vault_name)


class BlockedExpiry(BaseModel):
    """A due recovery point the sweep could not delete: it stays recorded (DELETING, or as it was) and the next
    sweep tries again."""

    model_config = ConfigDict(frozen=True)

    recovery_point_id: str
    resource_arn: str
    reason: str
    #: what to do about it (domain/alerts.py `remedy`)
    remedy: str


def remedy(reason: str) -> str:
    """What an operator can do about an expiry that failed for `reason` (the refusal's code and message)."""
    lowered = reason.lower()
    if "invalidsnapshot.inuse" in lowered or "in use by" in lowered or "ami" in lowered.split():
        return "the snapshot is in use by an AMI: deregister the AMI (aws ec2 deregister-image), the next sweep " \
               "deletes the snapshot"
    if "accessdenied" in lowered or "unauthorized" in lowered or "not authorized" in lowered:
        return "access denied: give the sweep's role (SweepBatchFunction) the permission the message names, or " \
               "remove the SCP / key policy that refuses it"
    return "see the reason; the next daily sweep tries again (coffer sweep run to try now)"


def expiry_blocked_notice(vault: str, blocked: list[BlockedExpiry], run_id: str, stack: str) -> Notice:
    lines = [f"Coffer sweep {run_id}: {len(blocked)} expired recovery point(s) in vault {vault} could not be "
             "deleted. They stay recorded and the next sweep tries again.", f"Vault: {vault}"]
    for item in blocked[:LISTED]:
        lines += [f"Recovery point: {item.recovery_point_id} ({item.resource_arn})", f"  Why: {item.reason}",
                  f"  What to do: {item.remedy}"]
    if len(blocked) > LISTED:
        lines.append(f"... and {len(blocked) - LISTED} more")
    lines.append(f"Look further: coffer recovery-points describe {blocked[0].recovery_point_id} --stack {stack}; "
                 f"coffer sweep show {run_id} --stack {stack}")
    return Notice(subject=subject_line(f"Coffer expiry blocked: {len(blocked)} recovery point(s) in vault {vault}"),
                  message="\n".join(lines) + "\n", vault_name=vault)


def audit_chain_notice(details: list[str], problems: int, written: int, stack: str) -> Notice:
    listed = details[:LISTED]
    lines = [f"Coffer's audit chain is broken: {problems} problem(s); the chain head says {written} record(s) "
             "were written. A record was changed, removed or written out of order - treat it as tampering until "
             "explained.",
             *[f"Problem: {p}" for p in listed]]
    if problems > len(listed):
        lines.append(f"... and {problems - len(listed)} more")
    lines.append(f"Look further: coffer audit verify --stack {stack}")
    return Notice(subject="Coffer: the audit chain is broken", message="\n".join(lines) + "\n")
