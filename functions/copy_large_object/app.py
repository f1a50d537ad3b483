"""CopyLargeObject: the Backup workflow's fan-out for S3 objects of more parts than one invocation copies.

`find`: does a round have deferred objects; `copy_range`: one Distributed Map child copying one range of parts
(UploadPartCopy); `finish`: one child completing one deferred object's upload (entrypoints/large_object_steps.py).
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.entrypoints.lambda_runtime import cold_start_deps, lambda_entry
from coffer.entrypoints.large_object_steps import run_large_object_step

LARGE = cold_start_deps().large_objects


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return run_large_object_step(LARGE, event)
