"""RecordAudit: append a hash-chained, Object-Locked audit record of a restore's start (Restore workflow)."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coffer.domain.audit import RecordAuditStep
from coffer.entrypoints.lambda_runtime import cold_start_deps, dump, lambda_entry, parse
from coffer.services.audit_log import record_restore_start

DEPS = cold_start_deps()
AUDIT = DEPS.audit_log(f"coffer:{os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'RecordAuditFunction')}")


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return dump(record_restore_start(DEPS.catalog, AUDIT, parse(RecordAuditStep, event).job_id))
