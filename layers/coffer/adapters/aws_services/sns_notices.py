"""Notifications published to SNS (ports/notices.py). botocore's standard retries cover throttling and 5xx; a
topic that does not exist, or refuses this function, raises (the notifier's invocation fails, EventBridge retries
it and, after its retries, keeps the event in nothing: the job's history still has it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coffer.domain.notifications import Notice

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef


class SnsNotices:
    def __init__(self, client: SNSClient) -> None:
        self._sns = client

    def publish(self, topic_arn: str, notice: Notice) -> str:
        # the vault as a message attribute: a subscription's filter policy can pick one vault's messages
        attributes: dict[str, MessageAttributeValueTypeDef] = (
            {"vault": {"DataType": "String", "StringValue": notice.vault_name}} if notice.vault_name else {})
        answer = self._sns.publish(TopicArn=topic_arn, Subject=notice.subject, Message=notice.message,
                                   MessageAttributes=attributes)
        return str(answer["MessageId"])
