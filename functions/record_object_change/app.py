"""RecordObjectChange: one S3 event (EventBridge). Object Created / Object Deleted of a continuously protected
bucket - the new version copied into the vault, the change appended to the bucket's journal once; Object Tags
Added / Deleted of any bucket - the key marked, so that the next S3 backup reads its tags (services/tag_changes.py)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.continuous import TAG_EVENT_TYPES, S3ObjectEvent, S3TagEvent
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse

DEPS = cold_start_deps()
CONTINUOUS = DEPS.continuous


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    if event.get("detail-type") in TAG_EVENT_TYPES:
        noted = DEPS.tag_changes.note(parse(S3TagEvent, event))
        metrics.add_metric(name="TagChangesNoted", unit="Count", value=1)
        return dump(noted)
    result = CONTINUOUS.record_change(parse(S3ObjectEvent, event))
    name = "ObjectChangesRecorded" if result.recorded else "ObjectChangesDuplicate" if result.duplicate \
        else "ObjectChangesIgnored"
    metrics.add_metric(name=name, unit="Count", value=1)
    return dump(result)
