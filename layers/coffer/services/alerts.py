"""Operator alerts that are not job events - a missed schedule, an expiry the sweep cannot finish, a broken audit
chain: each counted as a metric (what its alarm in template.yaml watches) and told to the stack's notification
topic through the notice path the notifier uses (ports/notices.py).

The metric is counted first, and the notice is best-effort: a topic or key that refuses it must not fail the step
that found the problem (a settled plan run would count its completed backups as failed; a sweep batch would end
PARTIAL). The refusal is logged and counted (AlertNoticesFailed); the metric, printed in the log, already carries
the problem to its alarm.
"""

from __future__ import annotations

import logging
from datetime import datetime

from coffer.domain.alerts import (
    BlockedExpiry,
    SilentRule,
    Staleness,
    audit_chain_notice,
    expiry_blocked_notice,
    missed_schedule_notice,
    silent_rule_notice,
)
from coffer.domain.notifications import Notice
from coffer.ports.alert_metrics import AlertMetrics
from coffer.ports.notices import Notices

_log = logging.getLogger(__name__)


class Alerts:
    """`topic_arn`: the stack's notification topic (None: nothing is told, only counted - the CLI's own runs);
    `stack`: the stack's name, for the commands messages name."""

    def __init__(self, notices: Notices, topic_arn: str | None, stack: str, metrics: AlertMetrics | None) -> None:
        self._notices = notices
        self._topic = topic_arn
        self._stack = stack
        self._metrics = metrics

    def schedules_checked(self, plan: str, vault: str, checked: list[Staleness], now: datetime) -> list[Staleness]:
        """A settled plan run page's resources: the oldest age (dashboard) and the missed ones (alarm, notice).
        The missed ones."""
        if not checked:
            return []
        missed = [s for s in checked if s.missed(now)]
        oldest = max(s.age(now) for s in checked)
        self._put("OldestRecoveryPointAgeHours", round(oldest.total_seconds() / 3600, 3), "None", now, Vault=vault)
        self._put("MissedSchedules", len(missed), "Count", now)  # what the alarm watches: all plans together
        self._put("MissedSchedules", len(missed), "Count", now, Plan=plan, Vault=vault)
        if missed:
            self._tell(missed_schedule_notice(missed, now, self._stack), now)
        return missed

    def rules_silent(self, silent: list[SilentRule], now: datetime) -> None:
        """The daily schedule watch: rules whose schedule did not fire (zero counted too: the alarm's period shows
        the watch ran)."""
        self._put("MissedSchedules", len(silent), "Count", now)
        for rule in silent:
            self._put("MissedSchedules", 1, "Count", now, Plan=rule.plan_name, Vault=rule.vault_name)
            self._tell(silent_rule_notice(rule, now, self._stack), now)

    def expiries_blocked(self, vault: str, run_id: str, blocked: list[BlockedExpiry], now: datetime) -> None:
        """A sweep batch's due recovery points it could not delete (none: nothing is counted or told)."""
        if not blocked:
            return
        self._put("ExpiryBlocked", len(blocked), "Count", now)  # the alarm's: all vaults together
        self._put("ExpiryBlocked", len(blocked), "Count", now, Vault=vault)
        self._tell(expiry_blocked_notice(vault, blocked, run_id, self._stack), now)

    def audit_chain_broken(self, details: list[str], problems: int, written: int, now: datetime) -> None:
        """A Verify run found `problems` breaks in the audit chain, `details` those its findings kept (`written`: the
        records the chain head says were written)."""
        self._put("AuditChainBroken", 1, "Count", now)
        self._tell(audit_chain_notice(details, problems, written, self._stack), now)

    def _put(self, name: str, value: float, unit: str, at: datetime, **dimensions: str) -> None:
        if self._metrics is not None:
            self._metrics.put(name, value, unit, at, **dimensions)

    def _tell(self, notice: Notice, now: datetime) -> None:
        if self._topic is None:
            return
        try:
            self._notices.publish(self._topic, notice)
        except Exception:
            _log.exception("the notice %r could not be published to %s", notice.subject, self._topic)
            self._put("AlertNoticesFailed", 1, "Count", now)
