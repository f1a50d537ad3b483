"""A deployed twin plus what Coffer's local commands need around it: the handlers' clock and the catalog."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coffer.domain.clock import Clock, SystemClock
from coffer.entrypoints.bootstrap import Root, bootstrap
from coffer.entrypoints.lambda_runtime import RUNTIME_CLOCK
from coffer.settings import Settings
from coffer_twin.twin import Twin

#: Parameters the twin deploys the template with: poll every second (moto's backups finish at once).
TWIN_PARAMETERS = {"PollSeconds": "1", "ThawPollSeconds": "1"}
#: Wait states and Retry intervals sleep this fraction of their seconds on the local twin (twin/waits.py):
#: every poll and retry still happens, moto's work is done at once, so sleeping in full only costs time.
LOCAL_WAIT_SCALE = 0.05


@contextmanager
def local_twin(project_root: Path, clock: Clock | None = None,
               parameters: dict[str, str] | None = None,
               wait_scale: float = LOCAL_WAIT_SCALE, enforce_iam: bool = False) -> Iterator[LocalCoffer]:
    """Deploy the project's template on the twin, with the handlers reading `clock` (and, with `enforce_iam`, every
    call of a function role or role session evaluated against the template's policies: coffer_twin.iam)."""
    previous = RUNTIME_CLOCK.source
    RUNTIME_CLOCK.source = clock or SystemClock()
    try:
        with Twin.deploy(project_root, parameters={**TWIN_PARAMETERS, **(parameters or {})},
                         event_clock=RUNTIME_CLOCK.now, wait_scale=wait_scale, enforce_iam=enforce_iam) as twin:
            yield LocalCoffer(twin, RUNTIME_CLOCK.source)
    finally:
        RUNTIME_CLOCK.source = previous


class LocalCoffer:
    def __init__(self, twin: Twin, clock: Clock) -> None:
        self.twin = twin
        self.clock = clock
        # (the function's own environment: Lambda adds AWS_REGION to it)
        self.settings = Settings.from_env({**twin.function_env("StartBackupJobFunction"), "AWS_REGION": twin.region})
        self.deps: Root = bootstrap(self.settings, clock=clock, session=twin.session)

    def client(self, service: str) -> Any:
        return self.twin.client(service)

    def start_backup(self, detail: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        """Put a StartBackupJob event on the default bus, as a user or a rule would, and wait for its workflow."""
        return self._put_and_wait("StartBackupJob", detail, timeout)

    def start_restore(self, detail: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        """Put a StartRestoreJob event on the stack's request bus and wait for its workflow."""
        return self._put_and_wait("StartRestoreJob", detail, timeout)

    @property
    def request_bus(self) -> str:
        """The stack's own bus, where restores and copies are requested (backups: the default bus)."""
        return self.twin.outputs["CofferEventBusName"]

    def _put_and_wait(self, detail_type: str, detail: dict[str, Any], timeout: float) -> dict[str, Any]:
        bus = None if detail_type == "StartBackupJob" else self.request_bus
        executions = self.twin.put_event("coffer", detail_type, detail, bus=bus)
        if len(executions) != 1:
            raise RuntimeError(f"{detail_type} started {len(executions)} workflow executions, expected 1")
        result = self.twin.wait(executions[0], timeout=timeout)
        return dict(result)
