"""What only vault administration calls: KMS keys of vaults and the vault bucket's policy.

Used by `coffer vault ...` (the operator's credentials), never by a Lambda function: no function role may
change a bucket policy (tests/unit/test_template.py), and keys are created here, once per vault.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from coffer.adapters.aws import error_code
from coffer.domain.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client

#: Every key a vault uses carries this tag with the stack's name: the functions' roles may use a KMS key
#: through S3 only if it does (template.yaml, Sid VaultKeysThroughS3).
STACK_TAG = "coffer:stack"
VAULT_TAG = "coffer:vault"


class VaultKeys:
    def __init__(self, client: KMSClient, stack_name: str) -> None:
        self._kms = client
        self._stack = stack_name

    def create(self, vault_name: str) -> str:
        """A new symmetric key for the vault (rotation on, alias alias/<stack>-vault-<name>); its ARN."""
        metadata = self._kms.create_key(
            Description=f"Coffer {self._stack} - encrypts vault {vault_name}",
            KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT",
            Tags=[{"TagKey": STACK_TAG, "TagValue": self._stack}, {"TagKey": VAULT_TAG, "TagValue": vault_name}],
        )["KeyMetadata"]
        self._kms.enable_key_rotation(KeyId=metadata["KeyId"])
        self._kms.create_alias(AliasName=f"alias/{self._stack}-vault-{vault_name}", TargetKeyId=metadata["KeyId"])
        return str(metadata["Arn"])

    def adopt(self, key: str, vault_name: str) -> tuple[str, str | None]:
        """A customer managed key named by the operator: its ARN, and a warning if it could not be tagged.

        It must exist, be enabled, symmetric and for encryption. Tagging it lets the functions' roles use it
        through S3; where the operator may not tag it, its key policy must allow those roles instead.
        """
        try:
            metadata = self._kms.describe_key(KeyId=key)["KeyMetadata"]
        except ClientError as error:
            if error_code(error) in {"NotFoundException", "NotFound"}:
                raise NotFound(f"--kms-key: KMS key {key} not found") from error
            raise
        problems = []
        if metadata.get("KeyState") != "Enabled":
            problems.append(f"--kms-key: key {key} is {metadata.get('KeyState')}, not Enabled")
        if metadata.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT" or \
                metadata.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            problems.append(f"--kms-key: key {key} is not a symmetric encryption key (S3 SSE-KMS needs one)")
        if metadata.get("KeyManager") == "AWS":
            problems.append(f"--kms-key: key {key} is AWS managed; give a customer managed key")
        if problems:
            raise InvalidInput(problems)
        warning = None
        try:
            self._kms.tag_resource(KeyId=metadata["KeyId"], Tags=[
                {"TagKey": STACK_TAG, "TagValue": self._stack}, {"TagKey": VAULT_TAG, "TagValue": vault_name}])
        except ClientError as error:
            warning = (f"could not tag key {key} ({error_code(error)}): its key policy must allow the stack's "
                       "function roles kms:GenerateDataKey and kms:Decrypt via S3")
        return str(metadata["Arn"]), warning


class VaultBucketPolicy:
    def __init__(self, client: S3Client, bucket: str, bucket_arn: str | None = None) -> None:
        self._s3 = client
        self.bucket = bucket
        self.bucket_arn = bucket_arn or f"arn:aws:s3:::{bucket}"

    def get(self) -> dict[str, Any] | None:
        return bucket_policy(self._s3, self.bucket)

    def put(self, policy: dict[str, Any]) -> None:
        self._s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy))


def bucket_policy(s3: S3Client, bucket: str) -> dict[str, Any] | None:
    """A bucket's policy as a document, None if it has none."""
    try:
        return dict(json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]))
    except ClientError as error:
        if error_code(error) in {"NoSuchBucketPolicy", "404"}:
            return None
        raise
