"""What a copy shares with its destination, and takes back however the copy ends.

The destination reads what the source shares: KMS grants for the destination (its copy role, or its account for a
native copy) on the keys that encrypt the source's vault objects, export files or snapshots, and - for a
cross-account native copy - the snapshot or image itself (the adapters' `share_for_copy`). Each grant is named
after the job and its key recorded on the job before it is made, so whatever ends the job revokes it.
"""

from __future__ import annotations

from typing import Any

from coffer.domain.copies import CopyMethod, CopyScope
from coffer.domain.errors import NotFound, UnsupportedOperation
from coffer.domain.jobs import Job, JobKind, JobState, copy_target
from coffer.ports.catalog import Catalog
from coffer.ports.key_grants import KeyGrants
from coffer.ports.resource_registry import ResourceAdapters
from coffer.ports.restore_leases import RestoreLeaseStore

#: the KMS operations the destination needs on a source key to read (and re-encrypt) what it encrypts
_GRANT_OPERATIONS = ["Decrypt", "DescribeKey", "CreateGrant", "ReEncryptFrom", "GenerateDataKeyWithoutPlaintext"]


def _grant_name(job: Job) -> str:
    return f"coffer-copy-{job.job_id}"


class CopyAccess:
    def __init__(self, catalog: Catalog, resources: ResourceAdapters, leases: RestoreLeaseStore,
                 key_grants: KeyGrants) -> None:
        self._catalog = catalog
        self._resources = resources
        self._leases = leases
        self._grants = key_grants

    def share_key(self, key_arn: Any, grantee: str, job: Job) -> Job:
        """A KMS grant for the destination on a key of this account (a copy reads what it encrypts). Named after
        the job: KMS returns the same grant for a repeated request. The key is recorded on the job first, so
        whatever ends the job revokes the grant (`withdraw`)."""
        if not isinstance(key_arn, str) or ":key/" not in key_arn:
            return job  # unencrypted, or no key recorded (an AWS managed key cannot be shared: the copy then fails)
        if self._grants.aws_managed(key_arn):
            raise UnsupportedOperation(f"{job.resource_type}: cannot copy a recovery point to another account: it is "
                                       f"encrypted with the AWS managed key {key_arn}, which cannot be shared "
                                       "(encrypt the resource with a customer managed key)")
        target = copy_target(job)
        if key_arn not in target.kms_grant_keys:
            job = self._catalog.save_job(job.with_changes(destination=target.model_copy(
                update={"kms_grant_keys": (*target.kms_grant_keys, key_arn)})))
        self._grants.grant(key_arn, grantee, _GRANT_OPERATIONS, _grant_name(job))
        return job

    def withdraw(self, job: Job) -> None:
        """What the job shared with its destination, taken back: a copy that ended (however it ended) leaves the
        destination no access to this account's keys or artefacts. Called before the write that ends the job
        (CopyJobs._end, JobFailures.fail), so a retry of the ending step withdraws what is left."""
        self._withdraw_grants(job)
        self._withdraw_share(job)

    def _withdraw_grants(self, job: Job) -> None:
        """Revoke the KMS grants named for the job on the keys it recorded."""
        target = job.destination
        if target is None or not target.kms_grant_keys:
            return
        for key_arn in target.kms_grant_keys:
            self._grants.revoke(key_arn, _grant_name(job))

    def _withdraw_share(self, job: Job) -> None:
        """Withdraw the snapshot/image share a cross-account native copy made (`share_for_copy`): the destination
        account keeps no access to the source's artefact once the copy ended. Rule: the share stays while another
        non-terminal copy job holding the same recovery point copies it to the same account (it needs the share;
        the last of them to end withdraws it)."""
        target = job.destination
        if target is None or target.method is not CopyMethod.NATIVE or target.scope is not CopyScope.CROSS_ACCOUNT:
            return
        if job.state is not JobState.RUNNING and not target.quota_key:
            return  # it never got as far as sharing (as record_left_behind)
        for other_id in self._leases.restores(job.recovery_point_id):
            if other_id == job.job_id:
                continue
            try:
                other = self._catalog.get_job(other_id)
            except NotFound:
                continue
            theirs = other.destination
            if (other.kind is JobKind.COPY and not other.state.terminal and theirs is not None
                    and theirs.scope is CopyScope.CROSS_ACCOUNT and theirs.account_id == target.account_id):
                return
        try:
            rp = self._catalog.get_recovery_point(job.recovery_point_id)
        except NotFound:
            return
        self._resources.adapter(job.resource_type).unshare_after_copy(rp, target.account_id)
