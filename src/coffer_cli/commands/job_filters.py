"""Listing jobs with AWS Backup's filters (`--by-state`, `--by-resource-type`, `--by-backup-vault-name`,
`--by-resource-arn`, `--by-account-id`, `--by-created-after/before`) on the catalog's one access pattern for
jobs: a Query of one day's partition (`JOBS#<yyyy-mm-dd>`, newest first). The days of the time range are
queried one by one, newest first, and the other filters applied to what comes back: no Scan, one Query (plus
its pages) per day. An index on state or resource would turn those filters into key conditions; see
docs/reference/cli.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from coffer.domain.jobs import Job, JobKind, JobState
from coffer.domain.resources import ResourceType
from coffer.ports.catalog import Catalog
from coffer_cli.commands.failures import UsageError

#: the longest time range one listing queries (one Query per day)
MAX_DAYS = 400


def time_arg(value: str) -> datetime:
    """A time option: ISO 8601 (a date is its midnight, a time without zone is UTC) or seconds since the epoch."""
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"'{value}' is not a time (ISO 8601, e.g. 2026-12-01 or "
                                         "2026-12-01T08:00:00Z, or seconds since the epoch)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def resource_type_arg(value: str) -> ResourceType:
    for member in ResourceType:
        if member.value.lower() == value.lower():
            return member
    raise argparse.ArgumentTypeError(f"'{value}' is not one of {', '.join(t.value for t in ResourceType)}")


def _account(value: str) -> str:
    if not (value.isdigit() and len(value) == 12):
        raise argparse.ArgumentTypeError(f"'{value}' is not an AWS account id (12 digits)")
    return value


def add_time_range(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by-created-after", type=time_arg, metavar="TIME",
                        help="created at or after (ISO 8601 or epoch seconds)")
    parser.add_argument("--by-created-before", type=time_arg, metavar="TIME",
                        help="created before (ISO 8601 or epoch seconds)")


def add_job_filters(parser: argparse.ArgumentParser, kinds: bool) -> None:
    """AWS Backup's list filters; `kinds`: also --kind (Coffer's `jobs list` lists every kind of job)."""
    if kinds:
        parser.add_argument("--kind", action="append", type=str.upper, choices=[k.value for k in JobKind],
                            help="BACKUP, COPY or RESTORE (repeatable; default: every kind)")
    parser.add_argument("--by-state", action="append", type=str.upper, choices=[s.value for s in JobState],
                        metavar="STATE", help="only jobs in this state (repeatable): "
                                              + ", ".join(s.value for s in JobState))
    parser.add_argument("--by-resource-type", action="append", type=resource_type_arg, metavar="TYPE",
                        help="S3, DynamoDB, EBS, EC2, RDS, Aurora, DocumentDB or Neptune (repeatable)")
    parser.add_argument("--by-backup-vault-name", metavar="VAULT", help="only jobs of this vault (a copy's source)")
    parser.add_argument("--by-resource-arn", metavar="ARN", help="only jobs of this resource")
    parser.add_argument("--by-account-id", type=_account, metavar="ACCOUNT",
                        help="only jobs of resources in this account")
    add_time_range(parser)


@dataclass(frozen=True)
class JobFilter:
    kinds: frozenset[JobKind] = frozenset()
    states: frozenset[JobState] = frozenset()
    resource_types: frozenset[ResourceType] = frozenset()
    vault: str | None = None
    resource_arn: str | None = None
    account_id: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, kinds: tuple[JobKind, ...] = ()) -> JobFilter:
        return cls(kinds=frozenset(kinds or (JobKind(k) for k in getattr(args, "kind", None) or ())),
                   states=frozenset(JobState(s) for s in args.by_state or ()),
                   resource_types=frozenset(args.by_resource_type or ()), vault=args.by_backup_vault_name,
                   resource_arn=args.by_resource_arn, account_id=args.by_account_id)

    def matches(self, job: Job, stack_account: str) -> bool:
        # An S3 ARN names no account: its job is of the stack's account, where Coffer runs.
        account = (job.resource_arn.split(":") + [""] * 5)[4] or stack_account
        return ((not self.kinds or job.kind in self.kinds) and (not self.states or job.state in self.states)
                and (not self.resource_types or job.resource_type in self.resource_types)
                and (self.vault is None or job.vault_name == self.vault)
                and (self.resource_arn is None or job.resource_arn == self.resource_arn)
                and (self.account_id is None or account == self.account_id))


@dataclass(frozen=True)
class TimeRange:
    after: datetime
    before: datetime

    @classmethod
    def from_args(cls, args: argparse.Namespace, now: datetime, default_days: int) -> TimeRange:
        """--by-created-after/before; without them the last `default_days` days (0: today, UTC)."""
        before: datetime | None = args.by_created_before
        after: datetime | None = args.by_created_after
        if after is None:
            start = (before or now).astimezone(UTC) - timedelta(days=default_days)
            after = start.replace(hour=0, minute=0, second=0, microsecond=0) if default_days == 0 else start
        span = cls(after, before or now + timedelta(seconds=1))
        if span.before <= span.after:
            if before is None:  # only --by-created-after, and later than now: nothing was created after it yet
                return cls(after, after)
            raise UsageError("--by-created-before must be later than --by-created-after")
        if len(span.days()) > MAX_DAYS:
            raise UsageError(f"--by-created-after: the range spans {len(span.days())} days, at most {MAX_DAYS} "
                             "(the catalog is queried one day at a time): narrow it")
        return span

    @classmethod
    def of_day(cls, day: date) -> TimeRange:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return cls(start, start + timedelta(days=1))

    def days(self) -> list[date]:
        """The UTC days the range touches, newest first."""
        first = self.after.astimezone(UTC).date()
        last = (self.before - timedelta(microseconds=1)).astimezone(UTC).date()
        return [last - timedelta(days=n) for n in range((last - first).days + 1)] if self.before > self.after else []

    def holds(self, moment: datetime) -> bool:
        return self.after <= moment < self.before


def list_jobs(catalog: Catalog, span: TimeRange, wanted: JobFilter, stack_account: str) -> Iterator[Job]:
    """Jobs created in `span` that pass `wanted`, newest first: one day-partition Query per day."""
    for day in span.days():
        for job in catalog.list_jobs(datetime(day.year, day.month, day.day, tzinfo=UTC)):
            if span.holds(job.created_at) and wanted.matches(job, stack_account):
                yield job
