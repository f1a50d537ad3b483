"""The emulator's own log lines, kept off a user's terminal unless asked for (``coffer local ... --verbose``).

moto logs what its CloudFormation leaves out ("No Moto CloudFormation support for AWS::S3::BucketPolicy":
the twin applies those resources itself, :mod:`.fixups`), settings its ASL interpreter ignores
("ToleratedFailurePercentage declarations ...": :mod:`.distributed_map` applies them), and at ERROR every
exception its interpreter meets inside a state, including the ones the workflow expects (a Choice asking
whether ``$.copies[0]`` is present logs ``NoSuchJsonPathError`` when it is not). To a newcomer they read as
Coffer failing. They are not how Coffer reports a failure: a workflow that fails ends in an execution whose
error and cause the local commands print, and Coffer's own loggers are not touched here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["EMULATOR_LOGGERS", "emulator_logs"]

#: the emulator: moto, with every ``moto.*`` module logger under it. (botocore, the SDK the twin answers through,
#: never reaches the terminal unasked: it hangs a NullHandler on its own logger.)
EMULATOR_LOGGERS = ("moto",)
_SILENT = logging.CRITICAL + 1


@contextmanager
def emulator_logs(verbose: bool = False) -> Iterator[None]:
    """Inside, the emulator's loggers print nothing; with ``verbose`` they print as they always did.

    Only the levels of :data:`EMULATOR_LOGGERS` change (their ``moto.*`` children inherit it), and they are put
    back on exit, so a caller that configured them (the test suite does) keeps its setting."""
    if verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in EMULATOR_LOGGERS]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(_SILENT)
    try:
        yield
    finally:
        for logger, level in zip(loggers, previous, strict=True):
            logger.setLevel(level)
