"""`coffer vault ...`: vaults of a deployed stack - create, describe, list, delete, lock, access policy,
verify (scrub), and the one audited governance bypass."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from coffer.domain.validation import parse_model
from coffer.domain.vaults import VaultLockRequest
from coffer.domain.verify import Finding
from coffer_cli.commands.common import add_name_argument, add_stack_option
from coffer_cli.commands.failures import UsageError
from coffer_cli.commands.output import add_output_option, print_document, print_json, print_rows, print_table
from coffer_cli.commands.vault_context import read_policy, vault_context


def _notes(notes: list[str]) -> None:
    """Notes go to stderr: stdout stays the command's JSON, for scripts."""
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _create(args: argparse.Namespace) -> int:
    outcome = vault_context(args).admin().create(args.name, args.kms_key, read_policy(args.policy))
    print_json(outcome.vault.model_dump(mode="json") if outcome.vault else None)
    _notes(outcome.notes)
    return 0


def _describe(args: argparse.Namespace) -> int:
    print_document(args, vault_context(args).admin().describe(args.name))
    return 0


def _list(args: argparse.Namespace) -> int:
    context = vault_context(args)
    now = context.deps.clock.now()
    rows = []
    vaults = list(context.admin().list())
    for vault in vaults:
        lock = vault.lock
        state = "" if lock is None else f"{lock.mode.value}{' (immutable)' if lock.immutable(now) else ''}"
        rows.append((vault.name, vault.key_owner.value, vault.key_arn, state,
                     lock.min_retention_days if lock else "", lock.max_retention_days if lock else ""))
    print_rows(args, ["vault", "key", "key arn", "lock", "min days", "max days"], rows,
               [v.model_dump(mode="json") for v in vaults])
    return 0


def _delete(args: argparse.Namespace) -> int:
    _notes(vault_context(args).admin().delete(args.name).notes)
    print(f"vault {args.name} deleted (its KMS key is kept)")
    return 0


def _lock(args: argparse.Namespace) -> int:
    request = parse_model(VaultLockRequest, {"MinRetentionDays": args.min_retention_days,
                                             "MaxRetentionDays": args.max_retention_days,
                                             "ChangeableForDays": args.changeable_for_days})
    outcome = vault_context(args).admin().put_lock(args.name, request)
    print_json(outcome.vault.model_dump(mode="json")["lock"] if outcome.vault else None)
    _notes(outcome.notes)
    return 0


def _unlock(args: argparse.Namespace) -> int:
    _notes(vault_context(args).admin().delete_lock(args.name).notes)
    print(f"vault {args.name}: lock removed")
    return 0


def _set_policy(args: argparse.Namespace) -> int:
    outcome = vault_context(args).admin().set_policy(args.name, read_policy(args.policy))
    print_json(list(outcome.vault.access_policy) if outcome.vault else [])
    _notes(outcome.notes)
    return 0


def _apply_policies(args: argparse.Namespace) -> int:
    notes = vault_context(args).admin().apply_policies()
    _notes(notes)
    print("bucket policy statements of every vault " + ("not installed" if notes else "installed"))
    return 1 if notes else 0


def _said(finding: Finding) -> str:
    """A finding's detail, with what was expected and found and the command that looks further where it has them."""
    parts = [finding.detail]
    if finding.expected is not None or finding.found is not None:
        parts.append(f"expected {finding.expected or '-'}, found {finding.found or '-'}")
    if finding.command:
        parts.append(f"see `{finding.command}`")
    return "; ".join(parts)


def _verify(args: argparse.Namespace) -> int:
    tally, findings = vault_context(args).verifier().run(args.names, deep=args.deep)
    if findings:
        print_table(["finding", "object", "recovery point", "detail"],
                    [(f.kind.value, f.key, f.recovery_point_id or "", _said(f)) for f in findings])
    print(f"checked {tally.items} items, {tally.objects_checked} objects, read {tally.bytes_read} bytes"
          f"{' (deep: every byte re-read)' if args.deep else ' (checksums from S3, no bytes read where S3 has one)'}"
          f": {tally.problems} problem(s)")
    return 1 if tally.problems else 0


def _bypass(args: argparse.Namespace) -> int:
    if args.confirm != args.recovery_point:
        raise UsageError("--confirm: repeat the recovery point id to confirm the governance bypass")
    rp = vault_context(args).admin().bypass_governance(args.recovery_point, args.reason)
    print_json(rp.model_dump(mode="json"))
    return 0


def _notifications_put(args: argparse.Namespace) -> int:
    events = [name.strip() for name in args.events.split(",") if name.strip()]
    request: dict[str, Any] = {"BackupVaultName": args.name, "BackupVaultEvents": events}
    if args.sns_topic_arn:
        request["SNSTopicArn"] = args.sns_topic_arn
    settings = vault_context(args).deps.notification_settings.put(request)
    print_json(settings.aws_shape())
    return 0


def _notifications_get(args: argparse.Namespace) -> int:
    settings = vault_context(args).deps.notification_settings.get(args.name)
    if settings is None:
        print(f"vault {args.name}: no notification settings - the defaults apply (FAILED, EXPIRED, ABORTED, PARTIAL "
              "and completed-with-issues jobs, to the stack's NotificationTopicArn)")
        return 0
    print_json(settings.aws_shape())
    return 0


def _notifications_delete(args: argparse.Namespace) -> int:
    removed = vault_context(args).deps.notification_settings.delete(args.name)
    print(f"vault {args.name}: notification settings {'deleted' if removed else 'were not set'}; the defaults apply")
    return 0


def _register_notifications(sub: Any) -> None:
    """`coffer vault notifications put|get|delete`: AWS Backup's Put/Get/DeleteBackupVaultNotifications."""
    group = sub.add_parser("notifications", help="a vault's notification settings (AWS Backup's BackupVaultEvents)")
    verbs = group.add_subparsers(dest="notifications_command", required=True)

    def add(name: str, aliases: list[str], help_text: str, run: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = verbs.add_parser(name, aliases=aliases, help=help_text)
        parser.add_argument("name", help="the vault")
        add_stack_option(parser)
        parser.set_defaults(run=run)
        return parser

    put = add("put", ["put-backup-vault-notifications"],
              "notify exactly these events of the vault's jobs (replaces the defaults and earlier settings)",
              _notifications_put)
    put.add_argument("--events", required=True, metavar="EVENT,...",
                     help="BackupVaultEvents, comma-separated: BACKUP_JOB_FAILED, BACKUP_JOB_EXPIRED, "
                          "BACKUP_JOB_COMPLETED, BACKUP_JOB_SUCCESSFUL, BACKUP_JOB_STARTED, RESTORE_JOB_*, COPY_JOB_*, "
                          "RECOVERY_POINT_MODIFIED, S3_BACKUP_OBJECT_FAILED, S3_RESTORE_OBJECT_FAILED")
    put.add_argument("--sns-topic-arn", help="a topic of this account (default: the stack's NotificationTopicArn)")
    add("get", ["get-backup-vault-notifications"], "the vault's settings (or that the defaults apply)",
        _notifications_get)
    add("delete", ["delete-backup-vault-notifications"], "remove the settings: the defaults apply again",
        _notifications_delete)


def register(commands: Any) -> None:
    vault = commands.add_parser("vault", help="vaults: create, lock, access policy, verify, delete")
    sub = vault.add_subparsers(dest="vault_command", required=True)

    def add(name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        add_stack_option(parser)
        parser.set_defaults(run=run)
        return parser

    create = add("create", "a vault with its own KMS key (or --kms-key) and access policy", _create)
    create.add_argument("name")
    create.add_argument("--kms-key", help="a customer managed key (ARN, id or alias) instead of a new one")
    create.add_argument("--policy", help="JSON file: Deny statements of the vault's access policy")
    add_describe(sub, "describe")
    add_list(sub, "list")
    add("delete", "delete a vault that holds no recovery point", _delete).add_argument("name")
    lock = add("lock", "put the vault lock (AWS Backup's PutBackupVaultLockConfiguration)", _lock)
    lock.add_argument("name")
    lock.add_argument("--min-retention-days", type=int)
    lock.add_argument("--max-retention-days", type=int)
    lock.add_argument("--changeable-for-days", type=int,
                      help="COMPLIANCE lock: days (>= 3) it can still be changed; omitted: GOVERNANCE lock")
    add("unlock", "remove the vault lock (refused once a COMPLIANCE lock is past its cooling-off)", _unlock) \
        .add_argument("name")
    policy = add("set-policy", "replace the vault's access policy (Deny statements)", _set_policy)
    policy.add_argument("name")
    policy.add_argument("--policy", required=True, help="JSON file: a policy document or a list of statements")
    add("apply-policies", "re-install every vault's bucket policy statements (after `sam deploy`)", _apply_policies)
    verify = add("verify", "scrub: check vault objects against the manifests' SHA-256; report, never repair", _verify)
    verify.add_argument("names", nargs="*", metavar="name", help="vaults (default: all)")
    verify.add_argument("--deep", action="store_true", help="re-read and hash every byte instead of S3's checksums")
    bypass = add("bypass-governance", "audited: delete a recovery point before its GOVERNANCE retention ends",
                 _bypass)
    bypass.add_argument("--recovery-point", required=True)
    bypass.add_argument("--reason", required=True, help="why - written to the audit log before anything is deleted")
    bypass.add_argument("--confirm", required=True, help="the recovery point id again")
    _register_notifications(sub)


def add_list(sub: Any, name: str) -> None:
    parser = sub.add_parser(name, help="every vault")
    add_output_option(parser)
    add_stack_option(parser)
    parser.set_defaults(run=_list)


def add_describe(sub: Any, name: str, option: str | None = None) -> None:
    parser = sub.add_parser(name, help="one vault, its lock and policy")
    add_name_argument(parser, "name", option)
    add_output_option(parser, default="json")
    add_stack_option(parser)
    parser.set_defaults(run=_describe)
