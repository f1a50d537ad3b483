"""Every workflow, run with IAM enforced: the functions' least-privilege roles, the member copy role, the bucket,
key and trust policies let the real work through - nothing of it is refused.

The workflows and their checks are the fault harness's (tests/faults/conftest.py: each on fresh data, each
checking its effect: the recovery point holds the data, the restored copy equals it, the copy is in the
destination, the sweep expired and archived what was due ...), here on a twin that evaluates every call a
function role or a role session makes (coffer_twin.iam).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faults.conftest import BACKOFF_SCALE, OTHER_WORKFLOWS, PARAMETERS, WORKFLOWS, World

from coffer_cli.local.session import local_twin
from coffer_twin.faults import FaultInjector

from .conftest import ROOT


@pytest.fixture(scope="module")
def enforced() -> Iterator[World]:
    with local_twin(ROOT, parameters=PARAMETERS, enforce_iam=True) as coffer, \
            FaultInjector(backoff_scale=BACKOFF_SCALE) as faults:
        yield World(coffer, faults)


@pytest.mark.parametrize("workflow", [*WORKFLOWS, *OTHER_WORKFLOWS])
def test_the_workflow_passes_with_iam_enforced_and_nothing_refused(enforced: World, workflow: str) -> None:
    iam = enforced.twin.iam
    assert iam is not None
    enforced.prepare(workflow)
    mark = len(iam.decisions)
    run = enforced.run(workflow)
    assert run.status == "SUCCEEDED", (run.result, enforced.failed_tasks(str(run.result["arn"])))
    run.check()
    made = iam.decisions[mark:]
    assert [d for d in made if not d.allowed] == [], "a least-privilege role lacks a right it uses"
    assert made, "no call of the workflow was evaluated"
    assert not enforced.left_behind(), enforced.left_behind()
