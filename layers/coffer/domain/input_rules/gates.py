"""The rules that need the stack, one gate per request. Each start method (and the CLI, before it puts an
event on the bus) calls its gate first: a request that breaks a rule is refused with InvalidInput naming every
broken rule, and nothing has been written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from coffer.domain.errors import InvalidInput
from coffer.domain.input_rules.arns import (
    Home,
    foreign_problem,
    own_resource_problem,
    recovery_point_problems,
    resource_arn_problems,
)
from coffer.domain.input_rules.lifecycle import cold_storage_problem
from coffer.domain.input_rules.restore_metadata import restore_metadata_problems
from coffer.domain.input_rules.scalars import unicode_problems
from coffer.domain.input_rules.schedules import schedule_problems
from coffer.domain.input_rules.tags import tag_problems
from coffer.domain.resources import ResourceType, resource_type_of
from coffer.domain.vaults import DEFAULT_VAULT

if TYPE_CHECKING:
    from coffer.domain.copies import StartCopyJobRequest
    from coffer.domain.plans import PlanDocument
    from coffer.domain.recovery_points import RecoveryPoint
    from coffer.domain.requests import StartBackupJobRequest, StartRestoreJobRequest


def _refuse(problems: list[str]) -> None:
    if problems:
        raise InvalidInput(problems)


def check_backup_request(request: StartBackupJobRequest, home: Home,
                         type_of: Callable[[str], ResourceType] = resource_type_of) -> None:
    """StartBackupJob: a resource of this account, region and partition that is not Coffer's own; AWS's tag
    rules; cold storage only for types with a cold tier (unless a plan's rule asks: input_rules/lifecycle.py);
    copy actions to vaults of this partition.

    `type_of` names the resource's type where its ARN cannot (a DB cluster: Aurora, DocumentDB or Neptune by
    its engine); it is asked only about a resource of this stack, never about one already refused."""
    problems = list(unicode_problems(request.model_dump(mode="json", by_alias=True)))
    _refuse(problems)  # nothing below may encode a string that is not valid Unicode
    arn = request.resource_arn
    problems += [p for p in (foreign_problem("ResourceArn", arn, home), own_resource_problem("ResourceArn", arn, home))
                 if p]
    problems += tag_problems(request.recovery_point_tags, "RecoveryPointTags")
    on_demand = request.plan_id is None
    resource_type = type_of(arn) if not problems else resource_type_of(arn)
    if on_demand:
        problems += [p for p in (cold_storage_problem(request.lifecycle, resource_type, "Lifecycle"),) if p]
    for n, action in enumerate(request.copy_actions):
        path = f"CopyActions[{n}]"
        found = foreign_problem(f"{path}.DestinationBackupVaultArn", action.destination_backup_vault_arn, home,
                                regional=False)
        problems += [found] if found else []
        if on_demand:
            cold = cold_storage_problem(action.lifecycle, resource_type, f"{path}.Lifecycle")
            problems += [cold] if cold else []
    if request.iam_role_arn is not None:
        found = foreign_problem("IamRoleArn", request.iam_role_arn, home, regional=False)
        problems += [found] if found else []
    _refuse(problems)


def check_restore_request(request: StartRestoreJobRequest, resource_type: ResourceType, home: Home) -> None:
    """StartRestoreJob: a recovery point of this stack (an ARN of another account, region or partition is not
    the local recovery point of the same id) and the metadata its type takes, each value valid."""
    problems = list(unicode_problems(request.model_dump(mode="json", by_alias=True)))
    _refuse(problems)
    if request.recovery_point_arn is not None:
        problems += recovery_point_problems("RecoveryPointArn", request.recovery_point_arn, home)
    problems += restore_metadata_problems(request.metadata, resource_type, home)
    _refuse(problems)


def check_copy_request(request: StartCopyJobRequest, source: RecoveryPoint, home: Home) -> None:
    """StartCopyJob: a recovery point of this stack, a destination vault in this partition, and cold storage only
    for types with a cold tier (a copy of a plan's recovery point keeps the rule's reading, as its backup did)."""
    problems = list(unicode_problems(request.model_dump(mode="json", by_alias=True)))
    _refuse(problems)
    if request.recovery_point_arn is not None:
        problems += recovery_point_problems("RecoveryPointArn", request.recovery_point_arn, home)
    found = foreign_problem("DestinationBackupVaultArn", request.destination_backup_vault_arn, home, regional=False)
    problems += [found] if found else []
    if source.plan_id is None:
        cold = cold_storage_problem(request.lifecycle, source.resource_type, "Lifecycle")
        problems += [cold] if cold else []
    _refuse(problems)


@dataclass(frozen=True)
class PlanRules:
    """What `coffer plan apply` checks against the stack a plan goes to (the document's own rules are checked
    when it is read: domain/plans.py): each rule's target vault exists, each schedule fires again, copy actions
    go to vaults of this partition, and explicitly listed resources are of this account and region and not
    Coffer's own."""

    home: Home
    #: does a vault of this name exist in the stack (the Default vault always does)
    vault_exists: Callable[[str], bool]

    def check(self, plan: PlanDocument, now: datetime) -> None:
        problems = schedule_problems(plan.backup_plan.rules, now)
        for n, rule in enumerate(plan.backup_plan.rules):
            path = f"BackupPlan.Rules[{n}]"
            vault = rule.target_backup_vault_name
            if vault != DEFAULT_VAULT and not self.vault_exists(vault):
                problems.append(f"{path}.TargetBackupVaultName: vault '{vault}' does not exist (create it with "
                                f"`coffer vault create {vault}`, then apply the plan)")
            for m, action in enumerate(rule.copy_actions or []):
                found = foreign_problem(f"{path}.CopyActions[{m}].DestinationBackupVaultArn",
                                        action.destination_backup_vault_arn, self.home, regional=False)
                problems += [found] if found else []
        for n, selection in enumerate(plan.selections):
            for field, arns in (("Resources", selection.resources), ("NotResources", selection.not_resources)):
                for m, arn in enumerate(arns or []):
                    path = f"Selections[{n}].{field}[{m}]"
                    if field == "Resources" and "*" not in arn and not resource_arn_problems(arn, path):
                        problems += [p for p in (foreign_problem(path, arn, self.home),
                                                 own_resource_problem(path, arn, self.home)) if p]
        _refuse(problems)
