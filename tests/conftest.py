"""moto is set up in one place: the twin deploys template.yaml itself, so tests and template cannot disagree."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
def create_catalog_table() -> Callable[[Any, str], None]:
    """``create_catalog_table(dynamodb_client, name)``: the catalog table exactly as template.yaml declares its
    keys and index, for tests that run the services on plain moto without deploying the twin."""
    from coffer_twin.cfn_yaml import load_template

    declared = load_template(ROOT / "template.yaml")["Resources"]["CatalogTable"]["Properties"]
    shape = {key: declared[key] for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")}

    def create(dynamodb: Any, name: str) -> None:
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **shape)

    return create
