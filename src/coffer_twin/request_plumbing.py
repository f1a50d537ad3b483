"""Two per-request costs of moto that AWS does not have, paid once instead.

- moto's Step Functions engine builds a new boto3 client for every task it runs (``boto_client_for``: a
  Lambda task, a nested execution, an ItemReader page). A botocore client takes about 30 ms to build, more
  than the call it makes; a plan run over thousands of resources built thousands. The twin keeps one client
  per region and service (botocore clients are thread-safe; moto's builder ignores the state's credentials
  and always signs as the same fake key, so nothing else can differ).
- moto's request dispatch lists the response class's methods with ``inspect.getmembers`` on every request;
  the twin remembers the list per class (classes do not gain methods while the twin runs).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from types import SimpleNamespace
from typing import Any
from unittest import mock

__all__ = ["cached_plumbing"]

_CLIENTS: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


@contextmanager
def cached_plumbing() -> Iterator[None]:
    import boto3
    import moto.core.responses as responses
    from moto.core.utils import method_names_from_class
    from moto.stepfunctions.parser.asl.utils import boto_client

    def client(**kwargs: Any) -> Any:
        """boto3.client as moto's engine calls it: keyword arguments, the same fake key and config every time."""
        key = (kwargs.get("region_name"), kwargs.get("service_name"), kwargs.get("endpoint_url"))
        with _LOCK:
            found = _CLIENTS.get(key)
        if found is None:
            found = boto3.client(**kwargs)
            with _LOCK:
                found = _CLIENTS.setdefault(key, found)
        return found

    with ExitStack() as patches:
        patches.enter_context(mock.patch.object(boto_client, "boto3", SimpleNamespace(client=client)))
        patches.enter_context(mock.patch.object(
            responses, "method_names_from_class", cache(method_names_from_class)))
        yield
