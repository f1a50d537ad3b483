"""Verbs named as `aws backup` names them, for a user who knows AWS Backup: each is Coffer's own verb under
AWS Backup's name and option spellings. The job and recovery point verbs print AWS Backup's response shapes
with `--output json` (aws_shapes.py); the vault, plan and legal hold ones print what Coffer's verbs print.

| AWS Backup's verb                    | Coffer's verb                                  |
|--------------------------------------|------------------------------------------------|
| list-backup-jobs / -copy- / -restore- | jobs list --kind BACKUP / COPY / RESTORE       |
| describe-backup-job / -copy- / -restore- | jobs describe                              |
| stop-backup-job                      | jobs stop                                      |
| list-recovery-points-by-backup-vault | recovery-points list                           |
| list-recovery-points-by-resource     | recovery-points list-by-resource               |
| describe-recovery-point              | recovery-points describe                       |
| get-recovery-point-restore-metadata  | recovery-points restore-metadata               |
| start-backup-job / -copy- / -restore- | backup start / copy start / restore start     |
| list-backup-vaults, describe-backup-vault | vault list, vault describe                |
| list-backup-plans                    | plan list                                      |
| list-legal-holds                     | legalhold list                                 |
"""

from __future__ import annotations

import argparse
from typing import Any

from coffer.domain.jobs import JobKind
from coffer_cli.commands import backup, copy, jobs, legalhold, plan, recovery_points, restore, vault
from coffer_cli.commands.aws_shapes import JOB_SHAPES
from coffer_cli.commands.common import add_stack_option, open_stack
from coffer_cli.commands.failures import CliError, ExitCode
from coffer_cli.commands.output import add_output_option, print_document, print_rows

#: AWS Backup lists the jobs of the last 30 days when no time range is given
AWS_DEFAULT_DAYS = 30
_NAMES = {JobKind.BACKUP: "backup", JobKind.COPY: "copy", JobKind.RESTORE: "restore"}


def _list_jobs(kind: JobKind) -> Any:
    def run(args: argparse.Namespace) -> int:
        span = jobs.job_span(args, default_days=AWS_DEFAULT_DAYS)
        stack, deps = open_stack(args)
        found = jobs.listed_jobs(args, stack, deps, span, kinds=(kind,))
        key, shape = JOB_SHAPES[kind]
        print_rows(args, jobs.JOB_HEADERS, [jobs.job_row(j) for j in found], {key: [shape(j, stack) for j in found]})
        return ExitCode.OK
    return run


def _describe_job(kind: JobKind) -> Any:
    def run(args: argparse.Namespace) -> int:
        stack, deps = open_stack(args)
        job = deps.catalog.get_job(args.job_id)
        if job.kind is not kind:
            raise CliError(f"job {job.job_id} is a {job.kind.value} job: describe it with "
                           f"describe-{_NAMES[job.kind]}-job (or coffer jobs describe)")
        print_document(args, JOB_SHAPES[kind][1](job, stack))
        return ExitCode.OK
    return run


def register(commands: Any) -> None:
    for kind, name in _NAMES.items():
        listing = commands.add_parser(f"list-{name}-jobs", help=f"{name} jobs of the last {AWS_DEFAULT_DAYS} days "
                                                                f"(AWS Backup's List{name.title()}Jobs)")
        jobs.add_list_arguments(listing, kinds=False)
        listing.set_defaults(run=_list_jobs(kind))
        describe = commands.add_parser(f"describe-{name}-job", help=f"one {name} job (AWS Backup's "
                                                                    f"Describe{name.title()}Job)")
        describe.add_argument(f"--{name}-job-id", dest="job_id", required=True)
        add_output_option(describe, default="json")
        add_stack_option(describe)
        describe.set_defaults(run=_describe_job(kind))

    jobs.add_stop(commands.add_parser("stop-backup-job", help="= jobs stop (AWS Backup's StopBackupJob)"),
                  option="--backup-job-id")

    recovery_points.add_list(commands, "list-recovery-points-by-backup-vault", aws_shape=True)
    recovery_points.add_list_by_resource(commands, "list-recovery-points-by-resource", aws_shape=True)
    recovery_points.add_describe(commands, "describe-recovery-point", aws_shape=True)
    recovery_points.add_restore_metadata(commands, "get-recovery-point-restore-metadata", aws_shape=True)

    backup.add_start_arguments(commands.add_parser("start-backup-job", help="= backup start"))
    copy.add_start_arguments(commands.add_parser("start-copy-job", help="= copy start"))
    restore.add_start_arguments(commands.add_parser("start-restore-job", help="= restore start"))

    vault.add_list(commands, "list-backup-vaults")
    vault.add_describe(commands, "describe-backup-vault", option="--backup-vault-name")
    plan.add_list(commands, "list-backup-plans")
    legalhold.add_list(commands, "list-legal-holds")
