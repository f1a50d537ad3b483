"""moto is set up in one place: the twin deploys template.yaml itself, so tests and template cannot disagree."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _quiet_emulator() -> Iterator[None]:
    # moto's Step Functions interpreter logs every failed state at ERROR; the tests assert outcomes instead.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    yield


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT
