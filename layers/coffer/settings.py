"""Settings: one frozen object built from the environment at cold start, failing at once if incomplete."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from coffer.domain.errors import InvalidInput
from coffer.domain.input_rules.arns import Home

#: CopyConcurrency's largest value (template.yaml): the threads of one CopyBatch share one S3 client, whose
#: connection pool is this large (adapters/aws.py) - a smaller pool would drop and reopen connections
MAX_COPY_CONCURRENCY = 64
#: the most a CopyBatch reads of one object to hash it (template.yaml HashInLambdaMaxBytes' MaxValue): 64 MiB
MAX_HASH_IN_LAMBDA_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    catalog_table: str
    vault_bucket: str
    work_bucket: str
    vault_key_arn: str
    #: the region the functions run in (Lambda sets AWS_REGION): copies, plan runs and copy actions name it
    region: str
    poll_seconds: int = 30
    #: a native backup parked on AWS's completion event checks on its own after this long (a lost event), then after
    #: longer waits (domain/native_waits.py safety_net_seconds)
    native_safety_net_seconds: int = 900
    batch_size: int = 1000
    batch_bytes: int = 10 * 1024**3
    pages_per_listing: int = 5
    default_retention_days: int = 35
    #: days past a recovery point's date its shared blobs are locked (Seal.ahead): each unchanged object's lock is
    #: then extended about once per this many days instead of at every backup
    lock_slack_days: int = 0
    #: S3 tags of unchanged objects are read when S3's tag events mark them, and each key once every this many days
    #: (1/N of the keys a day, domain/tag_freshness.py): the bound on tags left stale by a lost event
    tag_refresh_days: int = 30
    #: objects one CopyBatch invocation copies at once (threads sharing the thread-safe boto3 clients)
    copy_concurrency: int = 8
    #: a new S3 object of at most this many bytes without an S3 SHA-256 is read once (GetObject) and hashed in
    #: Lambda instead of copied to staging for S3 to hash: a GET instead of a HeadObject and a CopyObject
    hash_in_lambda_bytes: int = 0
    vault_lock_mode: str = "GOVERNANCE"
    #: copies: the role member/template.yaml makes in a destination account, the name of the Coffer
    #: stack in the destination region, and AWS's per-region limits on snapshot copies in progress
    copy_role_name: str = "coffer-copy"
    copy_destination_stack: str = "coffer"
    ebs_copy_quota: int = 20
    rds_copy_quota: int = 20
    #: AWS's quota on snapshots in progress per EBS volume: 5, and 1 for st1/sc1 (throughput-optimised and cold
    #: HDD); backups that would snapshot a volume beyond it wait (domain/snapshot_quota.py)
    ebs_snapshots_per_volume: int = 5
    ebs_hdd_snapshots_per_volume: int = 1
    #: cold storage of S3 recovery points (domain/cold_tier.py): reading archived blobs back for a restore
    #: (RestoreObject's tier and how many days the restored copy stays), how often a restore looks again, and the
    #: ColdStorage workflow the sweeper starts (set only on the functions that start it)
    thaw_tier: str = "Standard"
    thaw_days: int = 3
    thaw_poll_seconds: int = 900
    cold_storage_state_machine_arn: str | None = None
    #: the stack's name: verify reads the template the stack was deployed with to know what it installs
    #: (services/bucket_checks.py); the notifier names it in the commands its messages give
    stack_name: str | None = None
    #: S3 Inventory as an S3 backup's listing: used when its newest manifest is at most this old (hours)
    inventory_max_age_hours: int = 48
    #: objects larger than this are copied in parts (UploadPartCopy) of part_size_bytes (default: CopyObject's
    #: 5 GiB limit, 512 MiB parts); an object of more than parts_per_invocation parts is copied by a Distributed
    #: Map over part ranges (services/large_objects.py), at most that many parts per invocation
    multipart_threshold_bytes: int = 5 * 1024**3
    part_size_bytes: int = 512 * 1024**2
    parts_per_invocation: int = 10
    #: the bus job events go to (domain/job_events.py; "default": the account's, as AWS Backup's); None: no job
    #: events (the template always sets it)
    job_events_bus: str | None = None
    #: the notifier's (NotifyFunction's): the stack's notification topic
    notification_topic_arn: str | None = None

    @cached_property
    def home(self) -> Home:
        """Where the stack runs (its vault key's partition and account; its region) and what it owns: what a
        request may name and what it may never touch (domain/input_rules)."""
        return Home.of(self.vault_key_arn, self.region, vault_bucket=self.vault_bucket, work_bucket=self.work_bucket,
                       catalog_table=self.catalog_table)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        required = ("CATALOG_TABLE", "VAULT_BUCKET", "WORK_BUCKET", "VAULT_KEY_ARN")
        problems = [f"environment: {name} is not set" for name in required if not env.get(name)]
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not region:
            problems.append("environment: AWS_REGION is not set (nor AWS_DEFAULT_REGION): Lambda sets it; elsewhere "
                            "name the region the stack is in")
        if problems:
            raise InvalidInput(problems)
        assert region is not None
        try:
            return cls(
                catalog_table=env["CATALOG_TABLE"],
                vault_bucket=env["VAULT_BUCKET"],
                work_bucket=env["WORK_BUCKET"],
                vault_key_arn=env["VAULT_KEY_ARN"],
                region=region,
                poll_seconds=int(env.get("POLL_SECONDS", "30")),
                native_safety_net_seconds=int(env.get("NATIVE_SAFETY_NET_SECONDS", "900")),
                batch_size=int(env.get("BATCH_SIZE", "1000")),
                batch_bytes=int(env.get("BATCH_BYTES", str(10 * 1024**3))),
                pages_per_listing=int(env.get("PAGES_PER_LISTING", "5")),
                default_retention_days=int(env.get("DEFAULT_RETENTION_DAYS", "35")),
                lock_slack_days=int(env.get("LOCK_SLACK_DAYS", "0")),
                **_bounded(env, ("TAG_REFRESH_DAYS", "tag_refresh_days", 30, 1, 365),
                           ("COPY_CONCURRENCY", "copy_concurrency", 8, 1, MAX_COPY_CONCURRENCY),
                           ("HASH_IN_LAMBDA_BYTES", "hash_in_lambda_bytes", 0, 0, MAX_HASH_IN_LAMBDA_BYTES)),
                vault_lock_mode=env.get("VAULT_LOCK_MODE", "GOVERNANCE"),
                copy_role_name=env.get("COPY_ROLE_NAME", "coffer-copy"),
                copy_destination_stack=env.get("COPY_DESTINATION_STACK", "coffer"),
                ebs_copy_quota=int(env.get("EBS_COPY_QUOTA", "20")),
                rds_copy_quota=int(env.get("RDS_COPY_QUOTA", "20")),
                ebs_snapshots_per_volume=int(env.get("EBS_SNAPSHOTS_PER_VOLUME", "5")),
                ebs_hdd_snapshots_per_volume=int(env.get("EBS_HDD_SNAPSHOTS_PER_VOLUME", "1")),
                inventory_max_age_hours=int(env.get("INVENTORY_MAX_AGE_HOURS", "48")),
                thaw_tier=env.get("THAW_TIER", "Standard"),
                thaw_days=int(env.get("THAW_DAYS", "3")),
                thaw_poll_seconds=int(env.get("THAW_POLL_SECONDS", "900")),
                cold_storage_state_machine_arn=env.get("COLD_STORAGE_STATE_MACHINE_ARN") or None,
                job_events_bus=env.get("JOB_EVENTS_BUS") or None,
                notification_topic_arn=env.get("NOTIFICATION_TOPIC_ARN") or None,
                stack_name=env.get("STACK_NAME") or None,
                **_multipart_settings(env),
            )
        except ValueError as error:
            raise InvalidInput([f"environment: {error}"]) from None


#: (environment variable, field, default, lowest, highest): S3's limits (domain/multipart.py)
_MULTIPART = (
    ("MULTIPART_THRESHOLD_BYTES", "multipart_threshold_bytes", 5 * 1024**3, 1, 5 * 1024**3),
    ("PART_SIZE_BYTES", "part_size_bytes", 512 * 1024**2, 5 * 1024**2, 5 * 1024**3),
    ("PARTS_PER_INVOCATION", "parts_per_invocation", 10, 1, 10_000),
)


def _multipart_settings(env: Mapping[str, str]) -> dict[str, int]:
    """The multipart settings, each refused naming its variable when it is not a whole number within S3's limits
    (CopyObject copies at most 5 GiB; a part is 5 MiB to 5 GiB)."""
    return _bounded(env, *_MULTIPART)


def _bounded(env: Mapping[str, str], *rules: tuple[str, str, int, int, int]) -> dict[str, int]:
    """Whole-number settings, each refused naming its variable and its bounds when it breaks them."""
    values: dict[str, int] = {}
    problems: list[str] = []
    for variable, field, default, lowest, highest in rules:
        raw = env.get(variable, str(default))
        try:
            value = int(raw)
        except ValueError:
            problems.append(f"environment: {variable}: {raw!r} is not a whole number")
            continue
        if not lowest <= value <= highest:
            problems.append(f"environment: {variable}: {value} is not between {lowest} and {highest}")
        values[field] = value
    if problems:
        raise InvalidInput(problems)
    return values
