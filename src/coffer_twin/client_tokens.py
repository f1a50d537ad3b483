"""ClientToken honoured on the twin, as AWS honours it: a repeated request with the same token returns the
first request's answer and makes nothing new.

AWS makes EC2's CreateVolume, RunInstances and CopyImage and DynamoDB's ExportTableToPointInTime idempotent by
ClientToken; moto 5.2 ignores the token and makes a second volume, instance, image or export (a DynamoDB copy
then finds two exports' data under its prefix). Coffer's adapters pass the job's id as the token, so that botocore
repeating a request whose answer was lost (a read timeout after the call took effect) makes one resource. Every
twin installs this: the fault harness (:mod:`.faults`) loses such answers on purpose, and without it a test would
find a duplicate AWS never makes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

__all__ = ["export_arns_as_aws_makes_them", "honoured_client_tokens"]


def _operations() -> list[tuple[type, str]]:
    from moto.dynamodb.responses import DynamoHandler
    from moto.ec2.responses.amis import AmisResponse
    from moto.ec2.responses.elastic_block_store import ElasticBlockStore
    from moto.ec2.responses.instances import InstanceResponse

    return [(ElasticBlockStore, "create_volume"), (InstanceResponse, "run_instances"), (AmisResponse, "copy_image"),
            (DynamoHandler, "export_table_to_point_in_time")]


@contextmanager
def honoured_client_tokens() -> Iterator[None]:
    """Within the block, moto answers a repeated ClientToken (per account, region and operation) with the first
    answer."""
    answers: dict[tuple[str, str, str, str], Any] = {}
    lock = threading.Lock()

    def idempotent(name: str, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def operation(response: Any) -> Any:
            token = response.body.get("ClientToken") if isinstance(getattr(response, "body", None), dict) \
                else response._get_param("ClientToken")
            if not token:
                return original(response)
            key = (response.current_account, response.region, name, str(token))
            with lock:  # one request per token at a time: the second waits for, then gets, the first's answer
                if key not in answers:
                    answers[key] = original(response)
                return answers[key]

        return operation

    with ExitStack() as stack:
        for cls, name in _operations():
            stack.enter_context(mock.patch.object(cls, name, idempotent(name, getattr(cls, name))))
        yield


@contextmanager
def export_arns_as_aws_makes_them() -> Iterator[None]:
    """ExportTableToPointInTime answers ``arn:...:table/<name>/export/<id>``, as AWS does. moto 5.2 makes
    ``table/<the table's whole ARN>/import/<id>``, which no IAM policy written for AWS's form matches: the
    copy's CheckCopy role (allowed ``table/*/export/*``) would be refused DescribeExport on the twin only."""
    from moto.dynamodb.models.table_export import TableExport

    original = TableExport.__init__

    def init(export: Any, *args: Any, **kwargs: Any) -> None:
        original(export, *args, **kwargs)
        table_arn = str(export.table.table_arn)  # arn:<partition>:dynamodb:<region>:<account>:table/<name>
        export.arn = f"{table_arn}/export/{export.arn.rsplit('/', 1)[-1]}"

    with mock.patch.object(TableExport, "__init__", init):
        yield
