"""The `coffer` command run as a user's shell runs it: a subprocess, no terminal, no stdin, its AWS settings from
the environment, talking HTTP to an endpoint named by AWS_ENDPOINT_URL.

The endpoint is moto's server mode (`ThreadedMotoServer`) started in the test process beside a deployed twin:
the server serves moto's process-wide backends, so the subprocess sees the twin's stack, and an event it puts
on EventBridge starts the real workflows (the twin's patches of moto's backends are process-wide too).

`Shell.run_in_process` runs the same command lines through `coffer_cli.cli.main` in this process, with the
same clean environment (os.environ replaced for the batch), each command's stdout and stderr its own, and its
exit status as a process would have it: for a matrix of hundreds of command lines where a process of its own
adds nothing but a second of interpreter start (a few of each kind stay processes, to hold the entry point).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
#: what the shell of a user with keys, a region and another endpoint has (HOME and the AWS files point nowhere)
NOWHERE = "/nonexistent/coffer-cli-tests"


def coffer_command() -> list[str]:
    """The installed `coffer` script beside this Python (as a user runs it), else the module."""
    script = Path(sys.executable).parent / "coffer"
    return [str(script)] if script.exists() else [sys.executable, "-m", "coffer_cli.cli"]


def shell_env(endpoint: str | None, **overrides: str | None) -> dict[str, str]:
    """A clean shell environment: PATH, fake keys, the region, the endpoint; `overrides` set (None: unset)."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": NOWHERE, "LANG": "C.UTF-8",
           "AWS_CONFIG_FILE": f"{NOWHERE}/config", "AWS_SHARED_CREDENTIALS_FILE": f"{NOWHERE}/credentials",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_REGION": REGION}
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@dataclass(frozen=True)
class Shell:
    endpoint: str | None
    cwd: Path = ROOT

    def run(self, *argv: str, env: Mapping[str, str | None] | None = None, stdin: str | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*coffer_command(), *argv], env=shell_env(self.endpoint, **(env or {})),
                              cwd=self.cwd, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def run_in_process(self, commands: Mapping[str, list[str]], env: Mapping[str, str | None] | None = None,
                       workers: int = 6) -> dict[str, subprocess.CompletedProcess[str]]:
        """Each command line through `main` in this process (several at a time: one environment for all),
        as `run` would have answered it: exit status, stdout, stderr (a traceback as Python prints one)."""
        environment = shell_env(self.endpoint, **(env or {}))
        streams = _ThreadStreams()
        with _in_process_lock, mock.patch.dict(os.environ, environment, clear=True), contextlib.chdir(self.cwd), \
                mock.patch.object(sys, "stdout", streams.stdout), mock.patch.object(sys, "stderr", streams.stderr), \
                ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {name: pool.submit(streams.run, argv) for name, argv in commands.items()}
            return {name: future.result() for name, future in futures.items()}


#: one batch in process at a time: os.environ, the working directory and sys.stdout/stderr are the process's
_in_process_lock = threading.Lock()


class _ThreadStream(io.TextIOBase):
    """sys.stdout or sys.stderr while commands run on threads: what a thread writes goes to its own buffer."""

    def __init__(self, fallback: io.TextIOBase | None) -> None:
        self._fallback = fallback
        self._buffers: dict[int, io.StringIO] = {}

    def bind(self) -> io.StringIO:
        self._buffers[threading.get_ident()] = buffer = io.StringIO()
        return buffer

    def write(self, text: str) -> int:
        target = self._buffers.get(threading.get_ident(), self._fallback)
        return target.write(text) if target is not None else len(text)

    def isatty(self) -> bool:
        return False  # as a process with its output captured: no terminal

    def writable(self) -> bool:
        return True


class _ThreadStreams:
    def __init__(self) -> None:
        self.stdout = _ThreadStream(sys.stdout)  # type: ignore[arg-type]
        self.stderr = _ThreadStream(sys.stderr)  # type: ignore[arg-type]

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        from coffer_cli.cli import main

        out, err = self.stdout.bind(), self.stderr.bind()
        try:
            code = main(argv)
        except SystemExit as stop:  # how main ends on a failure it explained, and argparse on a usage error
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if not isinstance(stop.code, int | None):
                err.write(f"{stop.code}\n")
        except BaseException:  # what the interpreter does with it: the traceback, exit status 1
            err.write(traceback.format_exc())
            code = 1
        return subprocess.CompletedProcess(["coffer", *argv], code, out.getvalue(), err.getvalue())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """moto's server mode on the loopback address; yields its endpoint URL. Serves what is in moto's backends
    (a twin deployed in this process, or nothing)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
    """The command failed with `code` and said why in one line on stderr, no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("coffer: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.returncode == code, (result.returncode, result.stderr)
    return lines[0]


def which(name: str) -> str | None:
    return shutil.which(name)
