"""What a deployed Coffer stack is made of, read from its CloudFormation outputs: the CLI needs no other
configuration, and reads a twin's stack (boto3 talks to moto there) exactly as a real account's."""

from __future__ import annotations

from dataclasses import dataclass

from coffer.domain.errors import InvalidInput

#: output key -> StackRefs field
OUTPUTS = {
    "CatalogTableName": "catalog_table",
    "WorkBucketName": "work_bucket",
    "BackupStateMachineArn": "backup_state_machine_arn",
    "PlanRunStateMachineArn": "plan_run_state_machine_arn",
    "PlanScheduleGroupName": "schedule_group",
    "PlanSchedulerRoleArn": "scheduler_role_arn",
}


@dataclass(frozen=True)
class StackRefs:
    stack_name: str
    catalog_table: str
    work_bucket: str
    backup_state_machine_arn: str
    plan_run_state_machine_arn: str
    schedule_group: str
    scheduler_role_arn: str

    @classmethod
    def from_outputs(cls, stack_name: str, outputs: dict[str, str]) -> StackRefs:
        missing = [key for key in OUTPUTS if not outputs.get(key)]
        if missing:
            raise InvalidInput([f"--stack {stack_name}: output {key} is missing (deploy this version of Coffer)"
                                for key in missing])
        return cls(stack_name=stack_name, **{field: outputs[key] for key, field in OUTPUTS.items()})
