"""README command one, as a test: the demo runs as a newcomer runs it (a process of its own, nothing set up by
the test suite), every claim it prints was checked, and it prints only Coffer's own lines."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from coffer_cli.cli import parser

CLAIMS = (
    "S3 backup workflow SUCCEEDED",
    "both backup jobs COMPLETED",
    "the same event delivered again makes no second job",
    "both restore workflows SUCCEEDED",
    "restored bucket is byte-identical, with content types, metadata and tags",
    "restored table holds the same items",
    "second backup copied 1 object and reused 14",
    "deleting a locked manifest version was refused",
    "EBS, EC2 and RDS backup jobs COMPLETED",
    "the snapshot, the AMI and the DB snapshot each carry their recovery point id",
    "the EC2 manifest records the instance's type, subnet, security groups and tags",
    "EBS, EC2 and RDS restore jobs COMPLETED",
    "restored volume: same size, type, encryption and availability zone",
    "restored instance: the recorded subnet and security groups, type t3.small as the restore asked",
    "restored DB instance: same engine, class, storage, encryption, subnet group and security groups",
    "cold storage for RDS is refused by name",
)

#: what the emulator, the SDK or Python print when they speak for themselves (moto's lines before they were
#: kept quiet: "No Moto CloudFormation support for ...", "ToleratedFailurePercentage declarations ...",
#: "Exception=NoSuchJsonPathError, Details=...")
FOREIGN_LINE = re.compile(
    r"No Moto |ToleratedFailure|Exception=|NoSuchJsonPath|Traceback|botocore|moto\.|Warning:|"
    r"^(WARNING|ERROR|INFO|DEBUG)\b"
)


def _coffer(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coffer_cli.cli", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=900, check=False)


def test_demo_checks_every_claim_it_prints_and_prints_only_coffers_own_lines(project_root: Path) -> None:
    run = _coffer("local", "demo", "--project", str(project_root), cwd=project_root)

    assert run.returncode == 0, run.stdout + run.stderr
    for claim in CLAIMS:
        assert f"  ok  {claim}" in run.stdout.splitlines()
    # The emulator's loggers and Python's warnings write to stderr; the demo writes its lines to stdout.
    assert run.stderr == ""
    assert [line for line in run.stdout.splitlines() if FOREIGN_LINE.search(line)] == []


def test_the_emulators_lines_are_kept_quiet_unless_verbose_and_coffers_own_are_never(tmp_path: Path) -> None:
    # A fresh interpreter: the test suite quiets moto for itself (conftest), a user's shell does not.
    script = textwrap.dedent("""
        import logging, sys
        from coffer_twin.quiet import emulator_logs
        with emulator_logs(verbose=sys.argv[1] == "verbose"):
            logging.getLogger("moto").warning("No Moto CloudFormation support for AWS::S3::BucketPolicy")
            logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").error(
                "Exception=NoSuchJsonPathError, Details=None-Available")
            logging.getLogger("botocore.credentials").warning("botocore speaking")
            logging.getLogger("coffer.adapters.catalog.turns").warning("coffer: could not wake the queue")
        logging.getLogger("moto").warning("moto after the block")
    """)
    quiet = subprocess.run([sys.executable, "-c", script, "quiet"], capture_output=True, text=True, check=True)
    verbose = subprocess.run([sys.executable, "-c", script, "verbose"], capture_output=True, text=True, check=True)

    assert quiet.stderr.splitlines() == ["coffer: could not wake the queue", "moto after the block"]
    assert verbose.stderr.splitlines() == [  # botocore never prints unasked (it has a NullHandler of its own)
        "No Moto CloudFormation support for AWS::S3::BucketPolicy",
        "Exception=NoSuchJsonPathError, Details=None-Available",
        "coffer: could not wake the queue",
        "moto after the block",
    ]


def test_every_local_command_takes_verbose_and_the_demos_help_says_what_it_does() -> None:
    top = parser()
    commands = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction)).choices
    local = next(a for a in commands["local"]._actions if isinstance(a, argparse._SubParsersAction)).choices

    assert set(local) == {"demo", "invoke", "tick"}
    for name, command in local.items():
        assert "--verbose" in command.format_help(), name
        assert top.parse_args(["local", name, "--verbose", *_required(name)]).verbose is True
    demo_help = local["demo"].format_help()
    for subject in ("S3", "DynamoDB", "EBS", "EC2", "RDS", "Object Lock", "restore", "cold storage"):
        assert subject in demo_help


def _required(command: str) -> list[str]:
    return {"invoke": ["StartBackupJobFunction", "-e", "events/start_backup_job.json"],
            "tick": ["--until", "2026-12-01T00:00Z", "--plan", "examples/plans/sample.yaml"]}.get(command, [])
