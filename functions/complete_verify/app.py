"""CompleteVerify: sums a scrub's results; fails (VaultVerifyFailed) when it found any problem (domain/verify.py)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.verify import CompleteVerifyStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

VERIFIER = cold_start_deps().verifier


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return dump(VERIFIER.complete(parse(CompleteVerifyStep, event).run_id))
