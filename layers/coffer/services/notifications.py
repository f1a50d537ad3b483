"""Notifications: the notifier (NotifyFunction, the target of the stack's notification rule) and each vault's
settings (`coffer vault notifications put/get/delete`).

The rule hands the notifier every job event, and the Verify workflow's failures. A job event no setting can ask for
and the defaults do not tell (CREATED, PENDING) is dropped unread; for any other it reads the vault's settings: with
none, it tells the stack's topic what went wrong (FAILED, EXPIRED, ABORTED, PARTIAL, completed with issues); with
some, exactly the BackupVaultEvents they list, to their topic (the stack's when they name none). A Verify failure
always goes to the stack's topic.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from coffer.domain.notifications import (
    VERIFY_DETAIL_TYPE,
    Notice,
    VaultNotifications,
    is_job_event,
    job_notice,
    troubling,
    vault_events_of,
    verify_notice,
)
from coffer.domain.validation import parse_model
from coffer.ports.notices import Notices
from coffer.ports.vault_notifications import VaultNotificationStore
from coffer.services.vaults import Vaults


class NotifyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    #: the topics the notice went to (none: the event is not one to tell anybody about)
    sent_to: list[str]
    subject: str | None = None
    why: str


class Notifier:
    """`topic_arn`: the stack's notification topic; `stack`: the stack's name, for the commands messages name."""

    def __init__(self, settings: VaultNotificationStore, notices: Notices, topic_arn: str, stack: str) -> None:
        self._settings = settings
        self._notices = notices
        self._topic = topic_arn
        self._stack = stack

    def notify(self, event: dict[str, Any]) -> NotifyResult:
        detail_type = str(event.get("detail-type") or "")
        detail: dict[str, Any] = event.get("detail") or {}
        if detail_type == VERIFY_DETAIL_TYPE and event.get("source") == "aws.states":
            if detail.get("status") == "SUCCEEDED":
                return NotifyResult(sent_to=[], why="the verify run succeeded")
            return self._send(self._topic, verify_notice(detail, self._stack), "verify did not succeed")
        if not is_job_event(event):
            return NotifyResult(sent_to=[], why=f"not a Coffer job event ({event.get('source')}, {detail_type})")
        if not vault_events_of(detail_type, detail) and not troubling(detail_type, detail):
            # (a CREATED or PENDING job): no vault's settings can ask for it and the defaults do not tell it, so
            # the settings are not read
            return NotifyResult(sent_to=[], why=f"no vault setting or default tells {detail.get('state')!s} events")
        vault = str(detail.get("backupVaultName") or "")
        settings = self._settings.get(vault) if vault else None
        if settings is None:
            if not troubling(detail_type, detail):
                return NotifyResult(sent_to=[], why="nothing went wrong (the defaults notify failures only)")
            return self._send(self._topic, job_notice(detail_type, detail, self._stack), "the defaults")
        wanted = vault_events_of(detail_type, detail) & set(settings.backup_vault_events)
        if not wanted:
            return NotifyResult(sent_to=[], why=f"vault {vault}'s settings do not list it")
        return self._send(settings.sns_topic_arn or self._topic, job_notice(detail_type, detail, self._stack),
                          f"vault {vault}'s settings: {', '.join(sorted(wanted))}")

    def _send(self, topic: str, notice: Notice, why: str) -> NotifyResult:
        self._notices.publish(topic, notice)
        return NotifyResult(sent_to=[topic], subject=notice.subject, why=why)


class VaultNotificationSettings:
    """PutBackupVaultNotifications, GetBackupVaultNotifications, DeleteBackupVaultNotifications."""

    def __init__(self, store: VaultNotificationStore, vaults: Vaults) -> None:
        self._store = store
        self._vaults = vaults

    def put(self, request: dict[str, Any]) -> VaultNotifications:
        """`request` as AWS Backup takes it (BackupVaultName, BackupVaultEvents, SNSTopicArn); InvalidInput naming
        each bad field, NotFound for a vault that does not exist."""
        settings = parse_model(VaultNotifications, request)
        self._vaults.get(settings.backup_vault_name)
        self._store.put(settings)
        return settings

    def get(self, vault_name: str) -> VaultNotifications | None:
        self._vaults.get(vault_name)
        return self._store.get(vault_name)

    def delete(self, vault_name: str) -> bool:
        self._vaults.get(vault_name)
        return self._store.delete(vault_name)
