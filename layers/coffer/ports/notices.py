"""Where notifications go: an SNS topic (adapters/aws_services/sns_notices.py)."""

from __future__ import annotations

from typing import Protocol

from coffer.domain.notifications import Notice


class Notices(Protocol):
    def publish(self, topic_arn: str, notice: Notice) -> str:
        """Publish the notice to the topic; the message id."""
        ...
