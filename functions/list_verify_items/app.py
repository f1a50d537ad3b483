"""ListVerifyItems: writes the next pages of a vault scrub's work items as files (bounded work per call)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.verify import ListVerifyItemsStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse

VERIFIER = cold_start_deps().verifier


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return dump(VERIFIER.list_items(parse(ListVerifyItemsStep, event)))
