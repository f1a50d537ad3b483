"""The part-range fan-out's steps for S3 objects of more parts than one invocation copies (services/large_objects.py).

Each workflow runs them in the function that holds the permissions its copies need: CopyLargeObject (Backup:
source buckets, work bucket, vault), RestoreBatch (Restore: vault to target buckets) and CopyPart (Copy: the
copy role in the destination). An event with a `step` field is one of them; `find`: does a round have deferred
objects; `copy_range`: one Distributed Map child copying one range of parts (UploadPartCopy); `finish`: one child
completing one deferred object's upload.
"""

from __future__ import annotations

from typing import Any

from coffer.domain.steps import FindLargeCopiesStep, LargeCopyStep, LargeObjectStep
from coffer.entrypoints.lambda_runtime import dump, metrics, parse
from coffer.services.large_objects import LargeObjects


def is_large_object_step(event: Any) -> bool:
    return isinstance(event, dict) and "step" in event


def run_large_object_step(large: LargeObjects, event: Any) -> dict[str, Any] | None:
    kind = parse(LargeObjectStep, event).step
    if kind == "find":
        find = parse(FindLargeCopiesStep, event)
        return dump(large.find(find.job_id, find.round))
    step = parse(LargeCopyStep, event)
    if step.step == "copy_range":
        result = large.copy_range(step.job_id, step.key)
        metrics.add_metric(name="PartsCopied", unit="Count", value=result.parts)
    else:
        result = large.finish(step.job_id, step.key)
    return dump(result)
