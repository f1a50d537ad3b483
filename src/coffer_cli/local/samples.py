"""Sample resources for the demo and for the sample events: a bucket and a table worth backing up."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

SAMPLE_BUCKET = "coffer-sample-bucket"
SAMPLE_TABLE = "coffer-sample-orders"
BIG_OBJECT_BYTES = 8 * 1024 * 1024 + 123  # over 8 MiB: bigger than one default multipart chunk


@dataclass(frozen=True)
class SampleObject:
    key: str
    body: bytes
    content_type: str
    metadata: dict[str, str]
    tags: dict[str, str]


def _pattern(size: int, seed: str) -> bytes:
    """Deterministic, incompressible-looking bytes (a hash chain), so sizes and checksums are meaningful."""
    out = bytearray()
    block = seed.encode()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out.extend(block)
    return bytes(out[:size])


def sample_objects() -> list[SampleObject]:
    objects = [
        SampleObject("README.txt", b"Sample data protected by Coffer.\n", "text/plain", {"owner": "platform"}, {}),
        SampleObject("reports/2026/11/summary.json", b'{"orders": 42, "refunds": 1}\n', "application/json",
                     {"generated-by": "reporting"}, {"classification": "internal", "team": "finance"}),
        SampleObject("images/logo.bin", _pattern(70_000, "logo"), "application/octet-stream", {}, {"public": "no"}),
        SampleObject("deep/nested/path/to/data.csv", b"id,amount\n1,10\n2,20\n", "text/csv", {}, {}),
        SampleObject("archive/big.bin", _pattern(BIG_OBJECT_BYTES, "big"), "application/octet-stream",
                     {"purpose": "over-8-MiB"}, {"size": "large"}),
    ]
    objects += [SampleObject(f"logs/day-{i:02d}.log", f"log line {i}\n".encode() * (i + 1), "text/plain", {}, {})
                for i in range(10)]
    return objects


def create_sample_bucket(s3: Any, bucket: str = SAMPLE_BUCKET) -> list[SampleObject]:
    s3.create_bucket(Bucket=bucket)
    objects = sample_objects()
    for obj in objects:
        s3.put_object(Bucket=bucket, Key=obj.key, Body=obj.body, ContentType=obj.content_type,
                      Metadata=obj.metadata, Tagging="&".join(f"{k}={v}" for k, v in obj.tags.items()))
    return objects


#: a versioned bucket (S3 continuous backup needs versioning): the continuous backup samples protect it
SAMPLE_VERSIONED_BUCKET = "coffer-sample-versioned"


def create_sample_versioned_bucket(s3: Any, bucket: str = SAMPLE_VERSIONED_BUCKET) -> list[SampleObject]:
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    objects = [obj for obj in sample_objects() if obj.key != "archive/big.bin"][:5]
    for obj in objects:
        s3.put_object(Bucket=bucket, Key=obj.key, Body=obj.body, ContentType=obj.content_type,
                      Metadata=obj.metadata, Tagging="&".join(f"{k}={v}" for k, v in obj.tags.items()))
    return objects


def sample_items(count: int = 25) -> list[dict[str, Any]]:
    return [{"order_id": {"S": f"order-{i:04d}"}, "customer": {"S": f"customer-{i % 7}"},
             "amount": {"N": str(10 * i + 1)}} for i in range(count)]


def create_sample_table(dynamodb: Any, table: str = SAMPLE_TABLE) -> list[dict[str, Any]]:
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}])
    items = sample_items()
    for item in items:
        dynamodb.put_item(TableName=table, Item=item)
    return items


def bucket_snapshot(s3: Any, bucket: str, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Everything a byte-identical restore must keep, per key (relative to prefix): bytes, headers, tags."""
    snapshot: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for listed in page.get("Contents", []):
            key = listed["Key"]
            got = s3.get_object(Bucket=bucket, Key=key)
            tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
            snapshot[key[len(prefix):]] = {
                "sha256": hashlib.sha256(got["Body"].read()).hexdigest(),
                "size": got["ContentLength"],
                "content_type": got.get("ContentType"),
                "metadata": got.get("Metadata", {}),
                "tags": {t["Key"]: t["Value"] for t in tags},
            }
    return snapshot


def table_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items.extend(page["Items"])
    return sorted(items, key=lambda item: str(item["order_id"]))


# ---- native resources: an EBS volume, an EC2 instance, an RDS instance, Aurora, DocumentDB, Neptune clusters
SAMPLE_VOLUME = "coffer-sample-volume"
SAMPLE_INSTANCE = "coffer-sample-web"
SAMPLE_DB = "coffer-sample-db"
SAMPLE_CLUSTER = "coffer-sample-ledger"
SAMPLE_DOCUMENTDB = "coffer-sample-profiles"
SAMPLE_NEPTUNE = "coffer-sample-graph"
SAMPLE_NETWORK = "coffer-sample-network"
SAMPLE_TAGS = {"team": "platform", "cost-centre": "42"}


def _tags(name: str, **more: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in {"Name": name, **SAMPLE_TAGS, **more}.items()]


def _account(client: Any) -> str:
    """The account of the client's credentials (moto's default account on the twin)."""
    import boto3  # only samples need STS; the adapters never do

    session = boto3.Session(region_name=client.meta.region_name)
    return str(session.client("sts").get_caller_identity()["Account"])


def sample_network(ec2: Any) -> dict[str, Any]:
    """The default VPC's first two subnets and a security group for the samples (made once)."""
    region = ec2.meta.region_name
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = sorted(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"],
                     key=lambda s: s["AvailabilityZone"])
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [SAMPLE_NETWORK]},
                                                   {"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    group = groups[0]["GroupId"] if groups else ec2.create_security_group(
        GroupName=SAMPLE_NETWORK, Description="Coffer samples", VpcId=vpc)["GroupId"]
    return {"vpc_id": vpc, "subnet_ids": [s["SubnetId"] for s in subnets[:2]], "security_group_id": group,
            "availability_zone": subnets[0]["AvailabilityZone"] if subnets else f"{region}a"}


def create_sample_volume(ec2: Any, name: str = SAMPLE_VOLUME) -> str:
    """An encrypted 8 GiB gp3 volume with tags; returns its ARN."""
    zone = sample_network(ec2)["availability_zone"]
    volume = ec2.create_volume(Size=8, AvailabilityZone=zone, VolumeType="gp3", Encrypted=True,
                               TagSpecifications=[{"ResourceType": "volume", "Tags": _tags(name)}])
    return f"arn:aws:ec2:{ec2.meta.region_name}:{_account(ec2)}:volume/{volume['VolumeId']}"


def create_sample_instance(ec2: Any, name: str = SAMPLE_INSTANCE) -> str:
    """A running instance (root volume plus a 20 GiB data volume) in a subnet and security group; its ARN."""
    network = sample_network(ec2)
    images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023*-x86_64"]}])
    image = max(images["Images"], key=lambda i: (i.get("CreationDate", ""), i["Name"]))["ImageId"]  # Amazon Linux
    instance = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=network["subnet_ids"][0],
        SecurityGroupIds=[network["security_group_id"]],
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 20, "VolumeType": "gp3"}}],
        TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(name, role="web")}])["Instances"][0]
    return f"arn:aws:ec2:{ec2.meta.region_name}:{_account(ec2)}:instance/{instance['InstanceId']}"


def _subnet_group(rds: Any, ec2: Any) -> tuple[str, str]:
    network = sample_network(ec2)
    groups = rds.describe_db_subnet_groups()["DBSubnetGroups"]
    if not any(g["DBSubnetGroupName"] == SAMPLE_NETWORK for g in groups):
        rds.create_db_subnet_group(DBSubnetGroupName=SAMPLE_NETWORK, DBSubnetGroupDescription="Coffer samples",
                                   SubnetIds=network["subnet_ids"])
    return SAMPLE_NETWORK, network["security_group_id"]


def create_sample_db_instance(rds: Any, ec2: Any, identifier: str = SAMPLE_DB) -> str:
    """An encrypted PostgreSQL DB instance in a subnet group and security group; returns its ARN."""
    subnet_group, group = _subnet_group(rds, ec2)
    db = rds.create_db_instance(
        DBInstanceIdentifier=identifier, Engine="postgres", DBInstanceClass="db.t3.micro", AllocatedStorage=20,
        MasterUsername="coffer", MasterUserPassword="not-a-secret-1", DBSubnetGroupName=subnet_group,
        VpcSecurityGroupIds=[group], StorageEncrypted=True, Tags=_tags(identifier))["DBInstance"]
    return str(db["DBInstanceArn"])


def create_sample_cluster(rds: Any, ec2: Any, identifier: str = SAMPLE_CLUSTER) -> str:
    """An encrypted Aurora PostgreSQL cluster with one writer instance; returns the cluster's ARN."""
    subnet_group, group = _subnet_group(rds, ec2)
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=identifier, Engine="aurora-postgresql", MasterUsername="coffer",
        MasterUserPassword="not-a-secret-1", DBSubnetGroupName=subnet_group, VpcSecurityGroupIds=[group],
        StorageEncrypted=True, Tags=_tags(identifier))["DBCluster"]
    rds.create_db_instance(DBInstanceIdentifier=f"{identifier}-1", DBClusterIdentifier=identifier,
                           Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    return str(cluster["DBClusterArn"])


def create_sample_documentdb_cluster(rds: Any, ec2: Any, identifier: str = SAMPLE_DOCUMENTDB) -> str:
    """An encrypted DocumentDB cluster (engine docdb, created through RDS's API as AWS serves it); its ARN.
    No member instances: the twin's moto knows DocumentDB clusters only (coffer_twin/db_clusters.py)."""
    subnet_group, group = _subnet_group(rds, ec2)
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=identifier, Engine="docdb", MasterUsername="coffer", MasterUserPassword="not-a-secret-1",
        DBSubnetGroupName=subnet_group, VpcSecurityGroupIds=[group], StorageEncrypted=True,
        Tags=_tags(identifier))["DBCluster"]
    return str(cluster["DBClusterArn"])


def create_sample_neptune_cluster(rds: Any, ec2: Any, identifier: str = SAMPLE_NEPTUNE) -> str:
    """An encrypted Neptune cluster with one instance (engine neptune, through RDS's API); its ARN."""
    subnet_group, group = _subnet_group(rds, ec2)
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=identifier, Engine="neptune", DBSubnetGroupName=subnet_group,
        VpcSecurityGroupIds=[group], StorageEncrypted=True, Tags=_tags(identifier))["DBCluster"]
    rds.create_db_instance(DBInstanceIdentifier=f"{identifier}-1", DBClusterIdentifier=identifier, Engine="neptune",
                           DBInstanceClass="db.r6g.large")
    return str(cluster["DBClusterArn"])
