"""`coffer recovery-points list|list-by-resource|describe|restore-metadata`: recovery points of a deployed stack.

Catalog reads: a vault's points are one Query of its index partition (a creation-time range is a key
condition of it); one point is a GetItem; its restore metadata adds one GetObject of its manifest (checked
against the catalog's SHA-256). The points of one resource have no index of their own: every vault's
partition is queried and filtered (a GSI keyed on the resource ARN would make it one Query).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from coffer.adapters.catalog.vaults import VaultCatalog
from coffer.domain.errors import NotFound
from coffer.domain.recovery_points import RecoveryPoint
from coffer.entrypoints.bootstrap import Root
from coffer.services.restore_jobs import OPTIONAL_METADATA, REQUIRED_METADATA
from coffer_cli.commands.aws_shapes import recovery_point, recovery_point_arn, vault_arn
from coffer_cli.commands.common import Stack, add_stack_option, open_stack
from coffer_cli.commands.failures import ExitCode
from coffer_cli.commands.job_filters import add_time_range, resource_type_arg
from coffer_cli.commands.output import add_output_option, print_document, print_rows

POINT_HEADERS = ["recovery point", "vault", "type", "status", "created", "bytes", "storage", "delete at", "resource"]


def point_row(point: RecoveryPoint) -> tuple[object, ...]:
    return (point.recovery_point_id, point.vault_name, point.resource_type.value, point.status.value,
            point.creation_date.isoformat(timespec="seconds"), point.backup_size_bytes, point.storage_class.value,
            point.delete_at.date() if point.delete_at else "never", point.resource_arn)


def point_id(value: str) -> str:
    """A recovery point id, or an ARN ending in recovery-point:<id> (AWS Backup's form)."""
    return value.rsplit("recovery-point:", 1)[-1]


def vault_points(args: argparse.Namespace, deps: Root) -> Iterator[RecoveryPoint]:
    """The vault's points (newest first), filtered by resource, type and creation time."""
    after: datetime | None = args.by_created_after
    before: datetime | None = args.by_created_before
    if after or before:
        catalog = VaultCatalog(deps.client_for("dynamodb"), deps.settings.catalog_table)
        found = reversed(list(catalog.recovery_points_created(args.vault, after or datetime.min.replace(tzinfo=UTC),
                                                              before or datetime.max.replace(tzinfo=UTC))))
    else:
        found = deps.catalog.list_recovery_points(args.vault)
    types = set(args.by_resource_type or ())
    for point in found:
        if before and point.creation_date >= before:
            continue  # the key condition's end is inclusive; --by-created-before is not
        if (not types or point.resource_type in types) and args.by_resource_arn in (None, point.resource_arn):
            yield point


def resource_points(resource_arn: str, deps: Root) -> list[RecoveryPoint]:
    """The resource's points in every vault, newest first (one Query per vault: module docstring)."""
    catalog = VaultCatalog(deps.client_for("dynamodb"), deps.settings.catalog_table)
    points = [p for vault in catalog.list_vaults() for p in deps.catalog.list_recovery_points(vault.name)
              if p.resource_arn == resource_arn]
    return sorted(points, key=lambda p: p.creation_date, reverse=True)


def get_point(deps: Root, value: str, vault: str | None) -> RecoveryPoint:
    point = deps.catalog.get_recovery_point(point_id(value))
    if vault and point.vault_name != vault:
        raise NotFound(f"recovery point {point.recovery_point_id} is in vault {point.vault_name}, not {vault}")
    return point


def restore_metadata(stack: Stack, deps: Root, point: RecoveryPoint) -> dict[str, Any]:
    """GetRecoveryPointRestoreMetadata's shape: what the backup recorded of its source (its manifest's facts),
    and which keys `start-restore-job --metadata` requires and accepts for the point's resource type."""
    manifest = deps.restore_jobs.load_manifest(point.recovery_point_id)
    facts = {key: value if isinstance(value, str) else json.dumps(value, default=str)
             for key, value in manifest.source.items()}
    return {"BackupVaultArn": vault_arn(stack, point.vault_name),
            "RecoveryPointArn": recovery_point_arn(stack, point.recovery_point_id),
            "ResourceType": point.resource_type.value, "RestoreMetadata": facts,
            "RestoreKeys": {"Required": list(REQUIRED_METADATA.get(point.resource_type, ())),
                            "Optional": list(OPTIONAL_METADATA.get(point.resource_type, ()))}}


def _list(args: argparse.Namespace) -> int:
    stack, deps = open_stack(args)
    return _print_points(args, stack, list(vault_points(args, deps)))


def _list_by_resource(args: argparse.Namespace) -> int:
    stack, deps = open_stack(args)
    return _print_points(args, stack, resource_points(args.resource_arn, deps))


def _print_points(args: argparse.Namespace, stack: Stack, points: list[RecoveryPoint]) -> int:
    """A table of recovery points, or their documents: Coffer's, or AWS Backup's shape under its verb names."""
    documents: Any = ({"RecoveryPoints": [recovery_point(p, stack) for p in points]} if args.aws_shape
                      else [p.model_dump(mode="json") for p in points])
    print_rows(args, POINT_HEADERS, [point_row(p) for p in points], documents)
    return ExitCode.OK


def _describe(args: argparse.Namespace) -> int:
    stack, deps = open_stack(args)
    point = get_point(deps, args.recovery_point, args.vault)
    print_document(args, recovery_point(point, stack) if args.aws_shape else point.model_dump(mode="json"))
    return ExitCode.OK


def _restore_metadata(args: argparse.Namespace) -> int:
    stack, deps = open_stack(args)
    print_document(args, restore_metadata(stack, deps, get_point(deps, args.recovery_point, args.vault)))
    return ExitCode.OK


def add_vault_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by-resource-arn", metavar="ARN", help="only points of this resource")
    parser.add_argument("--by-resource-type", action="append", type=resource_type_arg, metavar="TYPE",
                        help="S3, DynamoDB, EBS, EC2, RDS, Aurora, DocumentDB or Neptune (repeatable)")
    add_time_range(parser)


def _verb(sub: Any, name: str, help_text: str, run: Any, aws_shape: bool, default_output: str = "table"
          ) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    add_output_option(parser, default_output)
    add_stack_option(parser)
    parser.set_defaults(run=run, aws_shape=aws_shape)
    return parser


def add_list(sub: Any, name: str, aws_shape: bool) -> None:
    parser = _verb(sub, name, "recovery points of a vault, newest first", _list, aws_shape)
    parser.add_argument("--vault", "--backup-vault-name", dest="vault", default="Default",
                        help="the vault (default: Default)")
    add_vault_filters(parser)


def add_list_by_resource(sub: Any, name: str, aws_shape: bool) -> None:
    parser = _verb(sub, name, "recovery points of one resource, in every vault, newest first", _list_by_resource,
                   aws_shape)
    parser.add_argument("--resource-arn", required=True)


def add_describe(sub: Any, name: str, aws_shape: bool) -> None:
    parser = _verb(sub, name, "one recovery point: status, lifecycle, storage class, legal holds", _describe,
                   aws_shape, default_output="json")
    _point_arguments(parser, aws_shape)


def add_restore_metadata(sub: Any, name: str, aws_shape: bool) -> None:
    parser = _verb(sub, name, "what a restore of a recovery point can be given (AWS Backup's "
                              "GetRecoveryPointRestoreMetadata)", _restore_metadata, aws_shape, default_output="json")
    _point_arguments(parser, aws_shape)


def _point_arguments(parser: argparse.ArgumentParser, aws_shape: bool) -> None:
    if aws_shape:  # aws backup's spelling: both options, the vault required
        parser.add_argument("--recovery-point-arn", dest="recovery_point", required=True, help="its id or ARN")
        parser.add_argument("--backup-vault-name", dest="vault", required=True)
    else:
        parser.add_argument("recovery_point", help="its id or ARN")
        parser.add_argument("--vault", "--backup-vault-name", dest="vault", help="check it is in this vault")


def register(commands: Any) -> None:
    points = commands.add_parser("recovery-points", help="recovery points of a deployed stack")
    sub = points.add_subparsers(dest="rp_command", required=True)
    add_list(sub, "list", aws_shape=False)
    add_list_by_resource(sub, "list-by-resource", aws_shape=False)
    add_describe(sub, "describe", aws_shape=False)
    add_restore_metadata(sub, "restore-metadata", aws_shape=False)
