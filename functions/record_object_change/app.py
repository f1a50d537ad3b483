"""RecordObjectChange: one S3 Object Created / Object Deleted event (EventBridge) of a continuously protected
bucket - the new version copied into the vault, the change appended to the bucket's journal once."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.continuous import S3ObjectEvent
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

CONTINUOUS = cold_start_deps().continuous


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    result = CONTINUOUS.record_change(parse(S3ObjectEvent, event))
    name = "ObjectChangesRecorded" if result.recorded else "ObjectChangesDuplicate" if result.duplicate \
        else "ObjectChangesIgnored"
    metrics.add_metric(name=name, unit="Count", value=1)
    return dump(result)
