"""EnableContinuousBackup: the Backup workflow turns continuous backup on (DynamoDB PITR, RDS automated backups,
S3 events to EventBridge) and says what comes next: the S3 base backup, polling, or nothing."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import JobStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

CONTINUOUS = cold_start_deps().continuous


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    step = parse(JobStep, event)
    return dump(CONTINUOUS.enable(step.job_id))
