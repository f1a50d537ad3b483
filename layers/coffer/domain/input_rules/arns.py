"""ARNs and names, per service, and where they may point: the stack's own account, region and partition.

Shape and length (no context needed):
- any ARN: at most 2,048 characters (IAM's and STS's limit on an ARN) and six parts, arn:partition:service:...
- S3 bucket: `arn:<partition>:s3:::<bucket>` (no region or account: bucket names are global) and S3's naming rules
  for general purpose buckets (3-63 of a-z 0-9 . -, a letter or digit at each end, no `..`, not an IP address,
  none of S3's reserved prefixes and suffixes), or the older us-east-1 rules an existing bucket may predate
  them by (3-255 of letters, digits, . _ -);
- DynamoDB table: `table/<name>`, 3-255 of a-z A-Z 0-9 _ . -;
- EBS volume `volume/vol-<8 or 17 hex>`, EC2 instance `instance/i-<8 or 17 hex>`;
- RDS instance `db:<id>`, Aurora, DocumentDB or Neptune cluster `cluster:<id>` (one form: the cluster's engine
  tells them apart): 1-63 letters, digits and hyphens, a letter first, no hyphen last and no two in a row;
- region `xx-name-1` and account twelve digits where the service has them.

Where (needs the stack, `Home`): an ARN of another partition, region or account is refused; it would otherwise
be backed up as the local resource of the same name. Coffer's own vault bucket, work bucket and catalog table are
never a backup's source nor a restore's target.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from coffer.domain.input_rules.text import problem, shown
from coffer.domain.resources import ResourceType

MAX_ARN_CHARACTERS = 2048
_PARTITION = re.compile(r"^aws(-[a-z]+)*$")
_REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_TABLE = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
_VOLUME = re.compile(r"^vol-([0-9a-f]{8}|[0-9a-f]{17})$")
_INSTANCE = re.compile(r"^i-([0-9a-f]{8}|[0-9a-f]{17})$")
_DB_ID = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LEGACY_BUCKET = re.compile(r"^[a-zA-Z0-9._-]{3,255}$")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_RESOURCE_FORMS = {
    ResourceType.S3: "arn:aws:s3:::<bucket>",
    ResourceType.DYNAMODB: "arn:aws:dynamodb:<region>:<account>:table/<name>",
    ResourceType.EBS: "arn:aws:ec2:<region>:<account>:volume/vol-<id>",
    ResourceType.EC2: "arn:aws:ec2:<region>:<account>:instance/i-<id>",
    ResourceType.RDS: "arn:aws:rds:<region>:<account>:db:<identifier>",
    ResourceType.AURORA: "arn:aws:rds:<region>:<account>:cluster:<identifier>",
    ResourceType.DOCUMENTDB: "arn:aws:rds:<region>:<account>:cluster:<identifier>",
    ResourceType.NEPTUNE: "arn:aws:rds:<region>:<account>:cluster:<identifier>",
}


@dataclass(frozen=True)
class Home:
    """Where this Coffer stack runs and what it owns: what requests may name, and what they may not touch."""

    partition: str
    region: str
    account_id: str
    vault_bucket: str = ""
    work_bucket: str = ""
    catalog_table: str = ""

    @classmethod
    def of(cls, stack_arn: str, region: str | None = None, **owned: str) -> Home:
        """From an ARN of the stack's own (its vault key): partition, account and (unless given) region."""
        parts = stack_arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not _ACCOUNT.match(parts[4]):
            raise ValueError(f"{shown(stack_arn)} is not an ARN of this stack's account")
        return cls(partition=parts[1], region=region or parts[3], account_id=parts[4], **owned)

    @property
    def where(self) -> str:
        return f"account {self.account_id}, region {self.region}, partition {self.partition}"

    @property
    def own_buckets(self) -> frozenset[str]:
        return frozenset(b for b in (self.vault_bucket, self.work_bucket) if b)


@dataclass(frozen=True)
class ParsedArn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def _split(arn: str) -> ParsedArn | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return ParsedArn(*parts[1:])


def length_problem(path: str, arn: str) -> str | None:
    if len(arn) > MAX_ARN_CHARACTERS:
        return problem(path, arn, f"is longer than an ARN can be ({MAX_ARN_CHARACTERS} characters at most)",
                       "give the ARN of one resource")
    return None


def bucket_name_problem(path: str, name: str, *, existing: bool = False) -> str | None:
    """S3's rules for a general purpose bucket's name. `existing`: a bucket that may predate them (us-east-1
    accepted up to 255 letters of either case, digits, dots, hyphens and underscores until March 2018)."""
    if existing and _LEGACY_BUCKET.match(name) and not _BUCKET.match(name):
        return None
    todo = "use 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit"
    if not _BUCKET.match(name) or ".." in name:
        return problem(path, name, "is not a valid S3 bucket name", todo)
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return problem(path, name, "is formatted as an IP address, which S3 does not allow for a bucket name", todo)
    if name.startswith(_BUCKET_PREFIXES) or name.endswith(_BUCKET_SUFFIXES):
        return problem(path, name, "uses a prefix or suffix S3 reserves for its own names",
                       f"avoid {', '.join(_BUCKET_PREFIXES)} at the start and {', '.join(_BUCKET_SUFFIXES)} at the end")
    return None


def table_name_problem(path: str, name: str) -> str | None:
    if _TABLE.match(name):
        return None
    return problem(path, name, "is not a valid DynamoDB table name", "use 3-255 of a-z, A-Z, 0-9, _ . -")


def db_identifier_problem(path: str, name: str, what: str = "DB instance") -> str | None:
    if _DB_ID.match(name):
        return None
    return problem(path, name, f"is not a valid {what} identifier",
                   "use 1-63 letters, digits and hyphens, a letter first, no hyphen at the end and none doubled")


def region_problem(path: str, region: str) -> str | None:
    if _REGION.match(region):
        return None
    return problem(path, region, "is not an AWS Region name", "e.g. us-east-1")


def resource_arn_problems(arn: str, path: str = "ResourceArn") -> list[str]:
    """The shape and length rules of a resource ARN of a type Coffer protects (no context needed)."""
    too_long = length_problem(path, arn)
    if too_long:
        return [too_long]
    parsed = _split(arn)
    if parsed is None or not parsed.service or not parsed.resource:
        return [problem(path, arn, "is not an ARN", "arn:<partition>:<service>:<region>:<account>:<resource>")]
    if not _PARTITION.match(parsed.partition):
        return [problem(path, arn, f"names partition {shown(parsed.partition)}, which does not exist",
                        "aws, aws-cn, aws-us-gov, ...")]
    kind = _kind(parsed)
    if kind is None:
        types = ", ".join(t.value for t in ResourceType)
        return [problem(path, arn, "is not a resource type Coffer protects", f"one of {types}")]
    form = _RESOURCE_FORMS[kind]
    if kind is ResourceType.S3:
        if parsed.region or parsed.account:
            return [problem(path, arn, "names a region or account: an S3 bucket ARN has neither",
                            f"write {form}")]
        problem_ = bucket_name_problem(path, parsed.resource, existing=True)
        return [problem_] if problem_ else []
    problems = []
    if not _REGION.match(parsed.region):
        problems.append(problem(path, arn, f"has no valid region ({shown(parsed.region)})", f"write {form}"))
    if not _ACCOUNT.match(parsed.account):
        problems.append(problem(path, arn, f"has no valid account id ({shown(parsed.account)}: twelve digits)",
                                f"write {form}"))
    name = parsed.resource.split("/", 1)[1] if "/" in parsed.resource else parsed.resource.split(":", 1)[1]
    name_problem = {
        ResourceType.DYNAMODB: lambda: table_name_problem(path, name),
        ResourceType.EBS: lambda: None if _VOLUME.match(name) else problem(
            path, name, "is not an EBS volume id", "vol- and 8 or 17 hexadecimal digits"),
        ResourceType.EC2: lambda: None if _INSTANCE.match(name) else problem(
            path, name, "is not an EC2 instance id", "i- and 8 or 17 hexadecimal digits"),
        ResourceType.RDS: lambda: db_identifier_problem(path, name),
        ResourceType.AURORA: lambda: db_identifier_problem(path, name, "DB cluster"),
        ResourceType.DOCUMENTDB: lambda: db_identifier_problem(path, name, "DB cluster"),
        ResourceType.NEPTUNE: lambda: db_identifier_problem(path, name, "DB cluster"),
    }[kind]()
    return [*problems, *([name_problem] if name_problem else [])]


def protected_type(arn: str) -> ResourceType | None:
    """The type Coffer protects that an ARN names by its service and resource part, if any (not its validity)."""
    parsed = _split(arn)
    return None if parsed is None else _kind(parsed)


def _kind(arn: ParsedArn) -> ResourceType | None:
    resource = arn.resource
    if arn.service == "s3":
        return ResourceType.S3 if "/" not in resource else None
    if arn.service == "dynamodb" and resource.startswith("table/") and resource.count("/") == 1:
        return ResourceType.DYNAMODB
    if arn.service == "ec2" and resource.startswith("volume/"):
        return ResourceType.EBS
    if arn.service == "ec2" and resource.startswith("instance/"):
        return ResourceType.EC2
    if arn.service == "rds" and resource.startswith("db:"):
        return ResourceType.RDS
    if arn.service == "rds" and resource.startswith("cluster:"):
        return ResourceType.AURORA  # or DocumentDB, Neptune: one ARN form, the engine decides
    return None


def foreign_problem(path: str, arn: str, home: Home, *, regional: bool = True) -> str | None:
    """An ARN of another partition, account or region (`regional=False`: any region, e.g. a copy's
    destination vault; S3 bucket ARNs carry neither account nor region, and are checked by partition only)."""
    parsed = _split(arn)
    if parsed is None:
        return None
    elsewhere = []
    if parsed.partition != home.partition:
        elsewhere.append(f"partition {parsed.partition}")
    if parsed.account and regional and parsed.account != home.account_id:
        elsewhere.append(f"account {parsed.account}")
    if parsed.region and regional and parsed.region != home.region:
        elsewhere.append(f"region {parsed.region}")
    if not elsewhere:
        return None
    return problem(path, arn, f"is in {', '.join(elsewhere)}: this Coffer stack runs in {home.where}",
                   "name a resource of this account and region, or use the Coffer stack deployed where it is")


def own_resource_problem(path: str, arn: str, home: Home) -> str | None:
    """Coffer's own vault bucket, work bucket and catalog table are never backed up (a backup of the vault
    would feed the vault its own objects; of the catalog, its own records)."""
    parsed = _split(arn)
    if parsed is None:
        return None
    own = (parsed.service == "s3" and parsed.resource in home.own_buckets) or (
        parsed.service == "dynamodb" and parsed.resource == f"table/{home.catalog_table}" and home.catalog_table
        and parsed.account == home.account_id and parsed.region == home.region)
    if not own:
        return None
    return problem(path, arn, "is one of this Coffer stack's own resources (its vault, work bucket or catalog)",
                   "Coffer never backs up or restores into its own storage: name another resource")


def recovery_point_problems(path: str, value: str, home: Home | None = None) -> list[str]:
    """A recovery point named by its id or by AWS Backup's ARN,
    arn:<partition>:backup:<region>:<account>:recovery-point:<id>, in this stack's account and region."""
    if len(value) > MAX_ARN_CHARACTERS:
        return [problem(path, value, f"is longer than a recovery point ARN can be ({MAX_ARN_CHARACTERS} characters "
                        "at most)", "give the id `coffer recovery-points list` shows, or its ARN")]
    if not value.startswith("arn:"):
        return [] if RECOVERY_POINT_ID.match(value) else [
            problem(path, value, "is not a recovery point id or ARN",
                    "give the id `coffer recovery-points list` shows, or its ARN")]
    parsed = _split(value)
    if (parsed is None or parsed.service != "backup" or not parsed.resource.startswith("recovery-point:")
            or not RECOVERY_POINT_ID.match(parsed.resource.removeprefix("recovery-point:"))
            or not _REGION.match(parsed.region) or not _ACCOUNT.match(parsed.account)):
        return [problem(path, value, "is not a recovery point ARN",
                        "arn:aws:backup:<region>:<account>:recovery-point:<id>, or the id alone")]
    foreign = foreign_problem(path, value, home) if home else None
    return [foreign] if foreign else []


RECOVERY_POINT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
