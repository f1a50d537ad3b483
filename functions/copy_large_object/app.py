"""CopyLargeObject: the Backup workflow's fan-out for S3 objects of more parts than one invocation copies.

`find`: does a round have deferred objects; `copy_range`: one Distributed Map child copying one range of parts
(UploadPartCopy); `finish`: one child completing one deferred object's upload (services/large_objects.py).
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.steps import FindLargeCopiesStep, LargeCopyStep, LargeObjectStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, metrics, parse
from coffer.services.large_objects import LargeObjects

LARGE = LargeObjects(cold_start_deps())


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    kind = parse(LargeObjectStep, event).step
    if kind == "find":
        find = parse(FindLargeCopiesStep, event)
        return dump(LARGE.find(find.job_id, find.round))
    step = parse(LargeCopyStep, event)
    if step.step == "copy_range":
        result = LARGE.copy_range(step.job_id, step.key)
        metrics.add_metric(name="PartsCopied", unit="Count", value=result.parts)
    else:
        result = LARGE.finish(step.job_id, step.key)
    return dump(result)
