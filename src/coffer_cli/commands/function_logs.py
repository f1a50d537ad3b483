"""A function's log lines, as `sam local invoke` shows them: what the handler writes to stdout (Powertools'
JSON logs, print) is captured and shown on stderr, so that stdout carries the function's response alone.

Captured at the file descriptor: Powertools' Logger holds the stdout stream it found when it was made, and
workflows run handlers in other threads, so swapping `sys.stdout` alone would miss lines. Everything written
to stdout while the capture is open goes to a temporary file; `segment()` keeps the part written while the
function itself ran (not the twin's deployment or the events replayed before it).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any


class StdoutCapture:
    def __init__(self) -> None:
        self._sink: IO[bytes] | None = None
        self._saved_fd: int | None = None
        self._stream: IO[str] | None = None
        self._redirect: contextlib.redirect_stdout[Any] | None = None
        self.segments: list[str] = []

    def __enter__(self) -> StdoutCapture:
        sys.stdout.flush()
        self._sink = tempfile.TemporaryFile(mode="a+b")  # O_APPEND: every writer appends, whatever the offset
        self._saved_fd = os.dup(1)
        os.dup2(self._sink.fileno(), 1)
        # print() to a sys.stdout that is not fd 1 (a test's capture) lands in the same file
        self._stream = open(os.dup(1), "w", buffering=1, encoding="utf-8", closefd=True)
        self._redirect = contextlib.redirect_stdout(self._stream)
        self._redirect.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._flush()
        if self._redirect is not None:
            self._redirect.__exit__(kind, error, trace)
        if self._stream is not None:
            self._stream.close()
        if self._saved_fd is not None:
            os.dup2(self._saved_fd, 1)
            os.close(self._saved_fd)
        if self._sink is not None:
            self._sink.close()

    def _flush(self) -> None:
        for stream in (sys.stdout, sys.__stdout__):
            if stream is not None:
                stream.flush()

    def _size(self) -> int:
        self._flush()
        assert self._sink is not None
        return os.fstat(self._sink.fileno()).st_size

    @contextlib.contextmanager
    def segment(self) -> Iterator[None]:
        """Keep what is written inside the block (appended to `segments`, even when the block raises)."""
        start = self._size()
        try:
            yield
        finally:
            end = self._size()
            assert self._sink is not None
            self.segments.append(os.pread(self._sink.fileno(), end - start, start).decode("utf-8", "replace"))
