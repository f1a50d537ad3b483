"""An operator alert's notice is best-effort (services/alerts.py): a topic or key that refuses it does not fail the
step that found the problem - the metric its alarm watches is still counted, and the refusal is counted too."""

from __future__ import annotations

from datetime import UTC, datetime

from coffer.domain.alerts import BlockedExpiry
from coffer.domain.notifications import Notice
from coffer.services.alerts import Alerts

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class RefusingTopic:
    def __init__(self) -> None:
        self.asked = 0

    def publish(self, topic_arn: str, notice: Notice) -> str:
        self.asked += 1
        raise RuntimeError("KMSAccessDeniedException: the topic's key refused sns.amazonaws.com")


class CountedMetrics:
    def __init__(self) -> None:
        self.points: list[tuple[str, float, dict[str, str]]] = []

    def put(self, name: str, value: float, unit: str, at: datetime, **dimensions: str) -> None:
        self.points.append((name, value, dimensions))


def test_a_refused_notice_leaves_the_alarms_metric_counted_and_the_step_standing() -> None:
    topic, metrics = RefusingTopic(), CountedMetrics()
    alerts = Alerts(topic, "arn:aws:sns:us-east-1:123456789012:coffer", "coffer", metrics)
    blocked = [BlockedExpiry(recovery_point_id="rp-1", resource_arn="arn:aws:ec2:us-east-1:123456789012:snapshot/s",
                             reason="InvalidSnapshot.InUse: in use by ami-1", remedy="deregister ami-1")]
    alerts.expiries_blocked("Default", "run-1", blocked, NOW)  # no exception: the sweep batch's work stands
    assert topic.asked == 1
    assert ("ExpiryBlocked", 1, {}) in metrics.points  # what ExpiryBlockedAlarm watches
    assert ("AlertNoticesFailed", 1, {}) in metrics.points
