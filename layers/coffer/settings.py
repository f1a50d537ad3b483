"""Settings: one frozen object built from the environment at cold start, failing at once if incomplete."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from coffer.domain.errors import InvalidInput


@dataclass(frozen=True)
class Settings:
    catalog_table: str
    vault_bucket: str
    work_bucket: str
    vault_key_arn: str
    poll_seconds: int = 30
    batch_size: int = 1000
    batch_bytes: int = 10 * 1024**3
    pages_per_listing: int = 5
    default_retention_days: int = 35
    vault_lock_mode: str = "GOVERNANCE"
    region: str | None = None
    #: copies (issue 7): the role member/template.yaml makes in a destination account, the name of the Coffer
    #: stack in the destination region, and AWS's per-region limits on snapshot copies in progress
    copy_role_name: str = "coffer-copy"
    copy_destination_stack: str = "coffer"
    ebs_copy_quota: int = 20
    rds_copy_quota: int = 20

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        required = ("CATALOG_TABLE", "VAULT_BUCKET", "WORK_BUCKET", "VAULT_KEY_ARN")
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise InvalidInput([f"environment: {name} is not set" for name in missing])
        try:
            return cls(
                catalog_table=env["CATALOG_TABLE"],
                vault_bucket=env["VAULT_BUCKET"],
                work_bucket=env["WORK_BUCKET"],
                vault_key_arn=env["VAULT_KEY_ARN"],
                poll_seconds=int(env.get("POLL_SECONDS", "30")),
                batch_size=int(env.get("BATCH_SIZE", "1000")),
                batch_bytes=int(env.get("BATCH_BYTES", str(10 * 1024**3))),
                pages_per_listing=int(env.get("PAGES_PER_LISTING", "5")),
                default_retention_days=int(env.get("DEFAULT_RETENTION_DAYS", "35")),
                vault_lock_mode=env.get("VAULT_LOCK_MODE", "GOVERNANCE"),
                region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
                copy_role_name=env.get("COPY_ROLE_NAME", "coffer-copy"),
                copy_destination_stack=env.get("COPY_DESTINATION_STACK", "coffer"),
                ebs_copy_quota=int(env.get("EBS_COPY_QUOTA", "20")),
                rds_copy_quota=int(env.get("RDS_COPY_QUOTA", "20")),
            )
        except ValueError as error:
            raise InvalidInput([f"environment: {error}"]) from None
