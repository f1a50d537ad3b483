"""One botocore data loader for every session a test makes: service models, endpoints and defaults parsed once.

Each ``boto3.Session`` builds its own data loader, which parses botocore's JSON again (``endpoints.json``, the
service models, the SDK defaults): about 0.2 s of CPU per session and service. A test process makes hundreds of
sessions - every in-process ``coffer`` command line, every cold start of a function on a twin - each reading the
same files. Within the block, sessions share one loader per data path and home directory (a loader also reads
``~/.aws/models``), as production's ``assumed_session`` shares the default session's
(layers/coffer/adapters/aws_services/copy_destinations.py). What a session reads is the same; only the parsing is
not repeated. A loaded model is already shared by every client of one session, so nothing mutates it.

Not for figures of cold starts (bench/cold_start.py): there a session's parsing is the cost being measured.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

__all__ = ["shared_service_models"]

_LOADERS: dict[tuple[str | None, str | None], Any] = {}
_LOCK = threading.Lock()


@contextmanager
def shared_service_models() -> Iterator[None]:
    """Within the block, every new botocore session gets the process's loader for its data path (see above)."""
    import botocore.session
    from botocore.loaders import create_loader

    def shared_loader(search_path_string: str | None = None) -> Any:
        key = (search_path_string, os.environ.get("HOME"))
        with _LOCK:
            if key not in _LOADERS:
                _LOADERS[key] = create_loader(search_path_string)
            return _LOADERS[key]

    with mock.patch.object(botocore.session, "create_loader", shared_loader):
        yield
