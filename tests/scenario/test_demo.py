"""README command one, as a test: the demo runs end to end and every claim it prints was checked."""

from pathlib import Path

from coffer_cli.local.demo import run_demo


def test_demo_backs_up_restores_equal_copies_and_shows_the_vault_refusing_deletion(project_root: Path) -> None:
    lines: list[str] = []
    assert run_demo(project_root, say=lines.append) == 0, "\n".join(lines)
    text = "\n".join(lines)
    for claim in (
        "both backup jobs COMPLETED",
        "the same event delivered again makes no second job",
        "restored bucket is byte-identical, with content types, metadata and tags",
        "restored table holds the same items",
        "second backup copied 1 object and reused 14",
        "deleting a locked manifest version was refused",
        "EBS, EC2 and RDS backup jobs COMPLETED",
        "the snapshot, the AMI and the DB snapshot each carry their recovery point id",
        "the EC2 manifest records the instance's type, subnet, security groups and tags",
        "EBS, EC2 and RDS restore jobs COMPLETED",
        "restored volume: same size, type, encryption and availability zone",
        "restored instance: the recorded subnet and security groups, type t3.small as the restore asked",
        "restored DB instance: same engine, class, storage, encryption, subnet group and security groups",
        "cold storage for RDS is refused by name",
    ):
        assert f"ok  {claim}" in text
