"""Make a Distributed Map's ``ResultWriter`` write what AWS writes, so the next step can read it.

moto 5.2.5 (``ResourceEvalS3._handle_put_object``) writes only ``<Prefix>/<map run id>/manifest.json``
with every ``ResultFiles`` list empty, and drops the child results. A workflow that reads the results
(as Coffer's does) would then see an empty run on the twin and a full one in the cloud. The twin
replaces that handler with one that writes AWS's layout:

``<Prefix>/<map run id>/manifest.json``::

    {"DestinationBucket": "<bucket>", "MapRunArn": "<map run arn>",
     "ResultFiles": {"FAILED": [], "PENDING": [],
                     "SUCCEEDED": [{"Key": "<Prefix>/<map run id>/SUCCEEDED_0.json", "Size": <bytes>}]}}

``<Prefix>/<map run id>/SUCCEEDED_0.json`` — a JSON array, one record per item, in item order::

    [{"Status": "SUCCEEDED", "Output": "<the item's output as a JSON string>",
      "OutputDetails": {"Included": true}}, ...]

AWS's records also carry ``ExecutionArn``, ``Name``, ``Input``/``InputDetails``, ``StateMachineArn``,
``StartDate``/``StopDate`` and redrive fields; moto's Map keeps none of them, so they are absent here:
read only ``Status`` and ``Output``. moto fails the whole Map on the first failed item, so there are never
FAILED records (``SUCCEEDED_0.json`` is omitted, and its list empty, when the Map had no items). The Map
state's own output is as in AWS: ``{"MapRunArn": ..., "ResultWriterDetails": {"Bucket": ..., "Key":
"<...>/manifest.json"}}``. ``Prefix`` is optional; without it the keys start at ``<map run id>/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

__all__ = ["aws_shaped_result_writer"]


def _result_records(outputs: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "Status": "SUCCEEDED",
            "Output": json.dumps(output, separators=(",", ":")),
            "OutputDetails": {"Included": True},
        }
        for output in outputs
    ]


def _put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )

    parameters = env.stack.pop()
    outputs = env.stack.pop()
    s3 = ResourceEvalS3._get_s3_client(resource_runtime_part=resource_runtime_part, state_credentials=state_credentials)
    map_run_arn = env.map_run_record_pool_manager.get_all().pop().map_run_arn
    bucket = parameters["Bucket"]
    prefix = parameters.get("Prefix") or ""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    base = f"{prefix}{map_run_arn.split(':')[-1]}/"

    succeeded: list[dict[str, Any]] = []
    if outputs:
        body = json.dumps(_result_records(list(outputs))).encode("utf-8")
        key = f"{base}SUCCEEDED_0.json"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        succeeded.append({"Key": key, "Size": len(body)})
    manifest = {
        "DestinationBucket": bucket,
        "MapRunArn": map_run_arn,
        "ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": succeeded},
    }
    manifest_key = f"{base}manifest.json"
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest, indent=2).encode("utf-8"))
    env.stack.append({"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}})


@contextmanager
def aws_shaped_result_writer() -> Iterator[None]:
    """Patch moto's S3 ResultWriter for the duration."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )

    with mock.patch.object(ResourceEvalS3, "_handle_put_object", staticmethod(_put_object)):
        yield
