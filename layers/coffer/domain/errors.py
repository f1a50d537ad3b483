"""Coffer's own exceptions. Adapters translate AWS error codes into these; callers branch on types.

The class name is the error name Step Functions sees (Lambda's errorType), so Retry/Catch in the ASL
can match on it.
"""

from __future__ import annotations


class CofferError(Exception):
    """Base of every error Coffer raises on purpose."""


class InvalidInput(CofferError):
    """Input broke a rule. Each problem names its field; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid input: " + "; ".join(problems))


class NotFound(CofferError):
    pass


class IllegalTransition(CofferError):
    pass


class ConcurrentUpdate(CofferError):
    """Someone else changed the record first (optimistic locking); re-read and retry."""


class IdempotencyConflict(CofferError):
    """The idempotency token was used before for a different request (AWS: IdempotentParameterMismatch)."""


class ResourceBusy(CofferError):
    """Another job holds this resource's lease (one job per resource at a time, as AWS Backup)."""

    def __init__(self, resource_arn: str, running_job_id: str) -> None:
        self.resource_arn = resource_arn
        self.running_job_id = running_job_id
        super().__init__(f"resource {resource_arn} is being backed up by job {running_job_id}")


class UnsupportedResource(CofferError):
    pass


class UnsupportedOperation(CofferError):
    pass


class StartWindowExpired(CofferError):
    pass


class CompletionWindowExceeded(CofferError):
    pass


class IntegrityError(CofferError):
    """Data read back does not match its recorded checksum."""


class RestoreMismatch(CofferError):
    """A restored resource differs from what the recovery point describes."""


class NativeOperationFailed(CofferError):
    """AWS reported that a snapshot, image, copy, tier change or restore it was running failed."""


# ---- the vault ---------------------------------------------------------------------------
class VaultNotEmpty(CofferError):
    """A vault is deleted only when it holds no recovery point (AWS Backup's rule)."""


class VaultLockImmutable(CofferError):
    """A COMPLIANCE vault lock past its cooling-off period can no longer be changed or removed."""


class RetentionOutsideVaultLock(CofferError):
    """A recovery point's retention does not fit the vault lock's MinRetentionDays/MaxRetentionDays."""


class UnderLegalHold(CofferError):
    """A recovery point under a legal hold is neither expired nor deleted."""


class ObjectLockRefusal(CofferError):
    """Coffer would not attempt an Object Lock change that S3 refuses (shorten, change mode, delete)."""


class VaultVerifyFailed(CofferError):
    """A scrub found missing, altered or orphaned vault objects (reported, never fixed silently)."""


# ---- expiry racing restores ------------------------------------------------------------------
class RecoveryPointInUse(CofferError):
    """An expiry (or deletion) of a recovery point was refused: restores are reading it."""

    def __init__(self, recovery_point_id: str, restore_job_ids: list[str]) -> None:
        self.recovery_point_id = recovery_point_id
        self.restore_job_ids = restore_job_ids
        super().__init__(f"recovery point {recovery_point_id} is being restored by job(s) {', '.join(restore_job_ids)}")


class RecoveryPointDeleting(CofferError):
    """A restore was refused: the recovery point is being deleted (or is no longer restorable)."""


# ---- what adapters make of AWS's refusals ------------------------------------------------------------------
class AlreadyExists(CofferError):
    """A create found the name taken (a vault name is unique)."""


class AlreadyStored(CofferError):
    """A create-only write found the key taken (S3 conditional write refused with 412)."""


class AwsRefusal(CofferError):
    """AWS refused a request for good (no retry cures it). `code` is AWS's error code; the message is AWS's own.
    Errors a retry may cure are never turned into this: they keep the name the workflows' Retry lists."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class ObjectRefused(AwsRefusal):
    """S3 refused one object for good (access denied, a KMS key it may not use ...): a batch names it and goes on."""


#: ObjectRefused's code for a source object replaced between Coffer's read of it and its copy (CopySourceIfMatch
#: refused): that object fails in this job, and is read again (services/object_batches.py)
SOURCE_CHANGED = "SourceChanged"


class ObjectArchived(ObjectRefused):
    """The object's bytes are in an archive tier: readable only once restored from it."""


class UploadGone(CofferError):
    """A multipart upload is no more (completed, or aborted, by an earlier attempt)."""
