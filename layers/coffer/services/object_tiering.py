"""Cold storage for S3 recovery points (domain/cold_tier.py): start the ColdStorage workflow, and its child step.

The sweeper decides that a recovery point goes cold (domain/sweep.py) and calls `start`: one execution of the
ColdStorage workflow per recovery point (named after it, so a repeated start is the same execution), whose
Distributed Map gives each manifest part to `move_part`. That tags the part's blobs whose warm-until has passed
`coffer:tier=cold`; the vault bucket's lifecycle rule moves them to the archive class in place. A blob still
needed warm by a newer recovery point keeps its class. Nothing here reads or moves object bytes.
"""

from __future__ import annotations

import re
from datetime import date

from coffer.domain.clock import Clock
from coffer.domain.cold_tier import (
    COLD,
    TIER_TAG,
    WARM_UNTIL_TAG,
    ColdPartResult,
    may_go_cold,
    parse_day,
    raised_warm_until,
    warm_tags,
)
from coffer.domain.errors import IntegrityError, NotFound
from coffer.domain.manifest import ManifestPart, VaultLayout
from coffer.domain.recovery_points import RecoveryPoint
from coffer.ports.vault import VaultStore
from coffer.ports.workflows import Workflows
from coffer.settings import Settings

#: without the ColdStorage workflow (a function deployed without its ARN), S3 recovery points stay warm
NOT_CONFIGURED = "the ColdStorage workflow is not configured (COLD_STORAGE_STATE_MACHINE_ARN)"


def keep_warm(vault: VaultStore, blob: str, needed: date) -> date:
    """Raise the blob's warm-until to cover `needed` (never lower it: another recovery point may need more); the
    warm-until it has afterwards.

    Read first, because the tag is the blob's, shared by every key and bucket that references it; a cold tier
    tag not yet acted on by S3's lifecycle is dropped with it (this recovery point wants the blob warm).
    """
    tags = vault.tags_of(blob)
    current = parse_day(tags.get(WARM_UNTIL_TAG))
    raised = raised_warm_until(current, needed)
    if raised is None and tags.get(TIER_TAG) != COLD:
        assert current is not None
        return current
    warm = raised or needed
    vault.set_tags(blob, {**{k: v for k, v in tags.items() if k != TIER_TAG}, **warm_tags(warm)})
    return warm


def execution_name(recovery_point_id: str) -> str:
    """Step Functions' execution name (80 characters of [A-Za-z0-9-_]), one per recovery point."""
    return ("cold-" + re.sub(r"[^A-Za-z0-9_-]", "-", recovery_point_id))[:80]


class ObjectTiering:
    def __init__(self, vault: VaultStore, workflows: Workflows, settings: Settings, clock: Clock) -> None:
        self._vault = vault
        self._workflows = workflows
        self._settings = settings
        self._clock = clock

    @property
    def refusal(self) -> str | None:
        """None when S3 recovery points can go cold from here, else why not."""
        return None if self._settings.cold_storage_state_machine_arn else NOT_CONFIGURED

    def start(self, rp: RecoveryPoint) -> str:
        """Start (or find: it is named after the recovery point) the ColdStorage execution of `rp`; its ARN."""
        arn = self._settings.cold_storage_state_machine_arn
        if not arn:
            raise RuntimeError(NOT_CONFIGURED)
        document = {"recovery_point_id": rp.recovery_point_id,
                    "parts_prefix": VaultLayout.parts_prefix(rp.vault_name, rp.recovery_point_id)}
        return self._workflows.start(arn, execution_name(rp.recovery_point_id), document)

    def move_part(self, recovery_point_id: str, part_key: str) -> ColdPartResult:
        """Tag this part's blobs for the archive, those whose warm-until has passed (bounded: one part)."""
        vault = self._vault
        result = ColdPartResult(recovery_point_id=recovery_point_id, part_key=part_key)
        try:
            part = ManifestPart.model_validate_json(vault.get_bytes(part_key))
        except NotFound:
            return result  # expired since the workflow started: nothing to archive
        if part.recovery_point_id != recovery_point_id:
            raise IntegrityError(f"{part_key} belongs to recovery point {part.recovery_point_id}")
        # whatever the recovery point's state, a blob is archived only once no recovery point needs it warm
        vault_name = part_key.split("/", 2)[1]
        now = self._clock.now()
        for blob in dict.fromkeys(VaultLayout.blob_of(vault_name, entry) for entry in part.entries):
            tags = vault.tags_of(blob)
            if tags.get(TIER_TAG) == COLD:
                result.already += 1
            elif may_go_cold(parse_day(tags.get(WARM_UNTIL_TAG)), now):
                vault.set_tags(blob, {**tags, TIER_TAG: COLD})
                result.moved += 1
            else:
                result.kept_warm += 1
        return result
