"""`coffer jobs|recovery-points|restore` against a deployed stack — here the twin, in-process (main() called
directly; tests/cli/test_cli_over_http.py drives the same verbs as a user's shell does)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from twins import Twins

from coffer.domain.jobs import JobState
from coffer_cli.cli import main
from coffer_cli.local.samples import SAMPLE_BUCKET, bucket_snapshot, create_sample_bucket
from coffer_cli.local.session import LocalCoffer

ROOT = Path(__file__).resolve().parents[2]
STACK = ["--stack", "coffer-twin"]


@pytest.fixture(scope="module")
def coffer(twins: Twins) -> Iterator[LocalCoffer]:
    with twins.fresh() as deployed:
        create_sample_bucket(deployed.client("s3"))
        deployed.start_backup({"ResourceArn": f"arn:aws:s3:::{SAMPLE_BUCKET}", "IdempotencyToken": "cli"})
        yield deployed


def test_jobs_list_and_describe_show_the_job_and_its_history(coffer: LocalCoffer,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    [job] = [j for j in coffer.deps.catalog.list_jobs(coffer.clock.now()) if j.kind.value == "BACKUP"]
    assert main(["jobs", "list", *STACK]) == 0
    assert job.job_id in capsys.readouterr().out
    assert main(["jobs", "describe", job.job_id, *STACK]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["state"] == "COMPLETED"
    assert [t["state"] for t in described["history"]] == ["CREATED", "RUNNING", "COMPLETED"]


def test_recovery_points_list_shows_the_vaults_points(coffer: LocalCoffer, capsys: pytest.CaptureFixture[str]) -> None:
    [rp] = list(coffer.deps.catalog.list_recovery_points("Default"))
    assert main(["recovery-points", "list", *STACK]) == 0
    assert rp.recovery_point_id in capsys.readouterr().out


def test_restore_start_puts_the_event_and_the_workflow_restores(coffer: LocalCoffer,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    [rp] = list(coffer.deps.catalog.list_recovery_points("Default"))
    assert main(["restore", "start", "--recovery-point", rp.recovery_point_id, "--token", "cli-restore",
                 "--metadata", "DestinationBucketName=cli-restored", "--metadata", "NewBucket=true", *STACK]) == 0
    job_id = json.loads(capsys.readouterr().out)["job_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if coffer.deps.catalog.get_job(job_id).state.terminal:
                break
        except Exception:
            pass
        time.sleep(0.1)
    assert coffer.deps.catalog.get_job(job_id).state is JobState.COMPLETED
    s3 = coffer.client("s3")
    assert bucket_snapshot(s3, "cli-restored") == bucket_snapshot(s3, SAMPLE_BUCKET)


@pytest.mark.parametrize(("argv", "message", "code"), [
    (["restore", "start", "--recovery-point", "x", "--metadata", "novalue"], "--metadata: 'novalue' is not KEY=VALUE",
     2),
    (["jobs", "list", "--day", "yesterday"], "argument --day: 'yesterday' is not a date", 2),
    (["jobs", "list", "--stack", "no-such-stack"], "no stack no-such-stack in us-east-1: deploy the stack first", 4),
])
def test_bad_arguments_are_refused_naming_the_option(coffer: LocalCoffer, capsys: pytest.CaptureFixture[str],
                                                     argv: list[str], message: str, code: int) -> None:
    with pytest.raises(SystemExit) as refused:
        main(argv if "--stack" in argv else [*argv, *STACK])
    assert refused.value.code == code
    [line] = capsys.readouterr().err.splitlines()  # one line, said once
    assert line.startswith("coffer: ") and message in line
