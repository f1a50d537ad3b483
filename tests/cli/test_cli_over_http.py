"""Every verb of `coffer` against a deployed stack, driven as a user's shell drives it: a subprocess with no
terminal and no stdin, AWS_ENDPOINT_URL naming a real HTTP endpoint (moto's server mode) that serves a twin
deployed in this process (conftest.py). The workflows its requests start are the real ones."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from twins import Twins

from coffer_cli.local.samples import (
    SAMPLE_BUCKET,
    SAMPLE_TABLE,
    bucket_snapshot,
    create_sample_bucket,
    create_sample_table,
)
from coffer_cli.local.session import LocalCoffer

from .conftest import ROOT, Shell, assert_one_line

STACK = ("--stack", "coffer-twin")
WAIT = ("--wait", "--poll", "0.2", "--timeout", "180")
BUCKET_ARN = f"arn:aws:s3:::{SAMPLE_BUCKET}"


@dataclass(frozen=True)
class Site:
    coffer: LocalCoffer
    shell: Shell
    backup: subprocess.CompletedProcess[str]

    def run(self, *argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.shell.run(*argv, *STACK, **kwargs)

    def ok(self, *argv: str, **kwargs: Any) -> str:
        result = self.run(*argv, **kwargs)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode == 0, (argv, result.returncode, result.stderr)
        return result.stdout

    def json(self, *argv: str) -> Any:
        return json.loads(self.ok(*argv))

    @property
    def backed_up(self) -> dict[str, Any]:
        return dict(json.loads(self.backup.stdout))

    @property
    def recovery_point_arn(self) -> str:
        return f"arn:aws:backup:us-east-1:123456789012:recovery-point:{self.backed_up['recovery_point_id']}"


@pytest.fixture(scope="module")
def site(moto_server: str, twins: Twins) -> Iterator[Site]:
    with twins.fresh() as coffer:
        create_sample_bucket(coffer.client("s3"))
        create_sample_table(coffer.client("dynamodb"))
        shell = Shell(moto_server)
        backup = shell.run("backup", "start", "--resource-arn", BUCKET_ARN, "--idempotency-token", "http-1",
                           *WAIT, *STACK)
        yield Site(coffer, shell, backup)


# ---- starting jobs --------------------------------------------------------------------------------------
def test_backup_start_wait_follows_the_job_to_completed_with_plain_progress_lines(site: Site) -> None:
    assert site.backup.returncode == 0, site.backup.stderr
    result = site.backed_up
    assert (result["state"], result["idempotency_token"]) == ("COMPLETED", "http-1")
    job = site.coffer.deps.catalog.get_job(result["job_id"])
    assert job.recovery_point_id == result["recovery_point_id"]
    # No terminal: one plain line per change on stderr (stdout is the JSON alone), the last one the end state.
    lines = site.backup.stderr.strip().splitlines()
    assert all(line.startswith(f"job {job.job_id} ") for line in lines), lines
    assert "RUNNING" in site.backup.stderr and "\x1b[" not in site.backup.stderr  # no terminal codes
    assert lines[-1].split()[2:9] == ["COMPLETED", "objects", "15/15", "bytes", "8.5", "MB/8.5", "MB"], lines[-1]


def test_backup_start_wait_reports_a_refusal_at_once_instead_of_waiting_out_its_timeout(site: Site) -> None:
    started = time.monotonic()
    result = site.run("backup", "start", "--resource-arn", "arn:aws:s3:::another-bucket", "--idempotency-token",
                      "http-1", "--wait", "--poll", "0.2", "--timeout", "3600")
    line = assert_one_line(result, 1, "StartBackupJob refused: IdempotencyConflict: IdempotencyToken 'http-1' was "
                                      "used for a different request")
    assert time.monotonic() - started < 120, line  # not the hour of --timeout
    printed = json.loads(result.stdout)
    assert printed["state"] == "REFUSED" and printed["error"] == "IdempotencyConflict"
    assert printed["execution_arn"].startswith("arn:aws:states:us-east-1:123456789012:execution:coffer-twin-backup:")


def test_the_same_request_again_names_the_same_job_and_waits_for_it(site: Site) -> None:
    again = site.json("backup", "start", "--resource-arn", BUCKET_ARN, "--idempotency-token", "http-1", *WAIT)
    assert (again["job_id"], again["state"]) == (site.backed_up["job_id"], "COMPLETED")


def test_start_backup_job_takes_aws_backups_option_spellings(site: Site) -> None:
    table_arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{SAMPLE_TABLE}"
    started = site.json("start-backup-job", "--backup-vault-name", "Default", "--resource-arn", table_arn,
                        "--idempotency-token", "http-aws-1", "--lifecycle", "DeleteAfterDays=9",
                        "--recovery-point-tags", "team=platform,tier=gold", *WAIT)
    assert started["state"] == "COMPLETED", started
    arn = f"arn:aws:backup:us-east-1:123456789012:recovery-point:{started['recovery_point_id']}"
    point = site.json("describe-recovery-point", "--backup-vault-name", "Default", "--recovery-point-arn", arn)
    assert point["Lifecycle"] == {"DeleteAfterDays": 9}
    assert point["RecoveryPointTags"] == {"team": "platform", "tier": "gold"}
    assert (point["ResourceType"], point["Status"]) == ("DynamoDB", "COMPLETED")


def test_restore_start_wait_restores_and_list_restore_jobs_shows_it(site: Site) -> None:
    restored = site.json("start-restore-job", "--recovery-point-arn", site.recovery_point_arn,
                         "--metadata", "DestinationBucketName=http-restored,NewBucket=true",
                         "--idempotency-token", "http-r1", *WAIT)
    assert restored["state"] == "COMPLETED", restored
    s3 = site.coffer.client("s3")
    assert bucket_snapshot(s3, "http-restored") == bucket_snapshot(s3, SAMPLE_BUCKET)
    listed = site.json("list-restore-jobs", "--output", "json")["RestoreJobs"]
    [job] = [j for j in listed if j["RestoreJobId"] == restored["job_id"]]
    assert (job["Status"], job["RecoveryPointArn"]) == ("COMPLETED", site.recovery_point_arn)


def test_restore_start_without_wait_prints_the_job_and_jobs_watch_follows_it(site: Site) -> None:
    started = site.json("restore", "start", "--recovery-point", site.backed_up["recovery_point_id"],
                        "--metadata", "DestinationBucketName=http-watched", "--metadata", "NewBucket=true",
                        "--token", "http-r2")
    watched = site.run("jobs", "watch", started["job_id"], "--poll", "0.2", "--timeout", "180")
    assert watched.returncode == 0 and "Traceback" not in watched.stderr, watched.stderr
    lines = watched.stdout.strip().splitlines()
    assert lines[-1].startswith(f"job {started['job_id']} ended COMPLETED"), lines
    # a restore knows its totals from the recovery point: 15 objects
    assert any("objects 15/15" in line for line in lines), lines


def test_jobs_watch_of_a_job_that_never_appears_ends_with_exit_8(site: Site) -> None:
    assert_one_line(site.run("jobs", "watch", "no-such-job", "--poll", "0.2", "--timeout", "1"), 8,
                    "job no-such-job is still not found after 1 s")


def test_start_copy_job_wait_reports_the_workflows_refusal_of_a_destination_without_coffer(site: Site) -> None:
    result = site.run("start-copy-job", "--recovery-point-arn", site.recovery_point_arn,
                      "--destination-backup-vault-arn", "arn:aws:backup:us-west-2:123456789012:backup-vault:Nowhere",
                      "--idempotency-token", "http-c1", *WAIT)
    assert_one_line(result, 1, "StartCopyJob refused:")
    assert json.loads(result.stdout)["state"] == "REFUSED"
    copy = site.run("copy", "start", "--recovery-point", "no-such-point",
                    "--destination-vault-arn", "arn:aws:backup:us-west-2:123456789012:backup-vault:Nowhere")
    assert_one_line(copy, 1, "--recovery-point-arn: recovery point no-such-point not found")


# ---- listing and describing jobs ------------------------------------------------------------------------
def test_jobs_list_filters_by_state_type_vault_resource_account_and_time(site: Site) -> None:
    job_id = site.backed_up["job_id"]

    def listed(*filters: str) -> set[str]:
        return {j["job_id"] for j in site.json("jobs", "list", "--output", "json", *filters)}

    assert job_id in listed("--kind", "BACKUP", "--by-state", "COMPLETED", "--by-resource-type", "s3",
                            "--by-backup-vault-name", "Default", "--by-resource-arn", BUCKET_ARN,
                            "--by-account-id", "123456789012")
    for excluded in (("--kind", "RESTORE"), ("--by-state", "FAILED"), ("--by-resource-type", "DynamoDB"),
                     ("--by-backup-vault-name", "Gold"), ("--by-resource-arn", "arn:aws:s3:::other"),
                     ("--by-account-id", "999999999999"), ("--by-created-after", "2099-01-01"),
                     ("--by-created-before", "2000-01-01", "--by-created-after", "1999-12-01")):
        assert job_id not in listed(*excluded), excluded
    assert job_id in site.ok("jobs", "list")  # today's jobs, as a table
    usage = site.run("jobs", "list", "--day", "2026-12-01", "--by-created-after", "2026-11-01")
    assert_one_line(usage, 2, "--day: give either --day or --by-created-after/--by-created-before")
    too_long = site.run("list-backup-jobs", "--by-created-after", "2000-01-01")
    assert_one_line(too_long, 2, "at most 400")


def test_list_job_verbs_print_aws_backups_response_shapes(site: Site) -> None:
    [job] = site.json("list-backup-jobs", "--output", "json", "--by-resource-arn", BUCKET_ARN)["BackupJobs"]
    assert job["BackupJobId"] == site.backed_up["job_id"] and job["State"] == "COMPLETED"
    assert job["RecoveryPointArn"] == site.recovery_point_arn
    assert job["BackupVaultArn"] == "arn:aws:backup:us-east-1:123456789012:backup-vault:Default"
    assert job["BackupSizeInBytes"] == 8459418 and job["AccountId"] == "123456789012"
    assert site.json("list-copy-jobs", "--output", "json", "--by-state", "COMPLETED") == {"CopyJobs": []}
    table = site.ok("list-backup-jobs", "--by-resource-arn", BUCKET_ARN).splitlines()
    assert table[0].split() == ["job", "kind", "type", "state", "created", "resource", "message"]
    assert table[2].split()[:4] == [site.backed_up["job_id"], "BACKUP", "S3", "COMPLETED"]


def test_describe_job_verbs_and_a_job_of_the_wrong_kind_refused(site: Site) -> None:
    job_id = site.backed_up["job_id"]
    described = site.json("jobs", "describe", job_id)
    assert [t["state"] for t in described["history"]] == ["CREATED", "RUNNING", "COMPLETED"]
    table = site.ok("jobs", "describe", job_id, "--output", "table").splitlines()
    assert ["job_id", job_id] in [line.split() for line in table]
    assert site.json("describe-backup-job", "--backup-job-id", job_id)["State"] == "COMPLETED"
    assert_one_line(site.run("describe-restore-job", "--restore-job-id", job_id), 1,
                    f"job {job_id} is a BACKUP job: describe it with describe-backup-job")
    assert_one_line(site.run("describe-copy-job", "--copy-job-id", "nope"), 1, "NotFound: job nope not found")


# ---- recovery points ------------------------------------------------------------------------------------
def test_recovery_point_verbs_list_filter_and_describe(site: Site) -> None:
    point_id = site.backed_up["recovery_point_id"]
    assert point_id in site.ok("recovery-points", "list")
    assert point_id in site.ok("recovery-points", "list", "--vault", "Default", "--by-resource-type", "S3",
                               "--by-created-after", "2000-01-01")
    assert point_id not in site.ok("recovery-points", "list", "--by-resource-type", "DynamoDB")
    assert point_id not in site.ok("recovery-points", "list", "--by-created-before", "2000-01-01")
    listed = site.json("list-recovery-points-by-backup-vault", "--backup-vault-name", "Default", "--output", "json",
                       "--by-resource-arn", BUCKET_ARN)["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in listed] == [site.recovery_point_arn]
    by_resource = site.json("list-recovery-points-by-resource", "--resource-arn", BUCKET_ARN, "--output", "json")
    assert [p["RecoveryPointArn"] for p in by_resource["RecoveryPoints"]] == [site.recovery_point_arn]
    assert point_id in site.ok("recovery-points", "list-by-resource", "--resource-arn", BUCKET_ARN)
    assert site.json("recovery-points", "describe", site.recovery_point_arn)["status"] == "COMPLETED"
    point = site.json("describe-recovery-point", "--backup-vault-name", "Default",
                      "--recovery-point-arn", site.recovery_point_arn)
    assert (point["Status"], point["StorageClass"], point["BackupSizeInBytes"]) == ("COMPLETED", "WARM", 8459418)
    assert_one_line(site.run("describe-recovery-point", "--backup-vault-name", "Gold",
                             "--recovery-point-arn", site.recovery_point_arn), 1, "is in vault Default, not Gold")


def test_restore_metadata_names_the_source_and_the_keys_a_restore_takes(site: Site) -> None:
    metadata = site.json("get-recovery-point-restore-metadata", "--backup-vault-name", "Default",
                         "--recovery-point-arn", site.recovery_point_arn)
    assert metadata["RestoreMetadata"] == {"bucket": SAMPLE_BUCKET, "region": "us-east-1"}
    assert metadata["ResourceType"] == "S3" and metadata["RestoreKeys"]["Required"] == ["DestinationBucketName"]
    assert "NewBucket" in metadata["RestoreKeys"]["Optional"]
    assert "DestinationBucketName" in site.ok("recovery-points", "restore-metadata",
                                              site.backed_up["recovery_point_id"], "--output", "table")


# ---- the rest of the stack's verbs ----------------------------------------------------------------------
def test_env_json_writes_each_functions_environment_from_the_deployed_stack(site: Site) -> None:
    document = site.json("env-json")
    twin = site.coffer.twin
    functions = [k for k, r in twin.template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"]
    assert sorted(document) == sorted(functions)
    for name in functions:
        assert document[name] == twin.function_env(name), name
    assert document["StartBackupJobFunction"]["CATALOG_TABLE"] == twin.outputs["CatalogTableName"]


def test_plan_verbs_over_http(site: Site, tmp_path: Path) -> None:
    plan_file = str(ROOT / "examples/plans/sample.yaml")
    assert "is valid" in site.shell.run("plan", "validate", plan_file).stdout
    assert "sample-hourly-daily" in site.ok("plan", "diff", plan_file)
    assert "applied plan sample-hourly-daily" in site.ok("plan", "apply", plan_file, "--yes")
    assert "sample-hourly-daily" in site.ok("plan", "list")
    [listed] = site.json("list-backup-plans", "--output", "json")
    assert listed["name"] == "sample-hourly-daily" and listed["version"] == 1
    assert "BackupPlanName: sample-hourly-daily" in site.ok("plan", "export", "sample-hourly-daily")
    assert site.json("plan", "runs", "sample-hourly-daily", "--output", "json") == []
    refused = site.run("plan", "delete", "sample-hourly-daily")  # no terminal, no --yes: not deleted
    assert refused.returncode == 1 and "pass --yes" in refused.stderr and "Traceback" not in refused.stderr
    assert "deleted plan sample-hourly-daily" in site.ok("plan", "delete", "sample-hourly-daily", "--yes")


def test_vault_verbs_over_http(site: Site, tmp_path: Path) -> None:
    """As tests/integration/test_vault_locks.py does: the twin installs no template policy on the vault bucket,
    so a stand-in for it (the template's Sid) goes on before the policy verbs (verify reports it as drift from the
    template's), and the whole policy comes off at the end (moto ignores the statements' conditions: with a vault's
    statements on, it refuses every write under the vault's prefix, so the lock verbs run first)."""
    assert json.loads(site.ok("vault", "create", "Gold"))["name"] == "Gold"
    assert "Gold" in site.ok("vault", "list")
    assert {v["name"] for v in site.json("list-backup-vaults", "--output", "json")} >= {"Default", "Gold"}
    assert site.json("vault", "describe", "Gold")["name"] == "Gold"
    assert site.json("describe-backup-vault", "--backup-vault-name", "Gold")["name"] == "Gold"
    assert json.loads(site.ok("vault", "lock", "Gold", "--min-retention-days", "3"))["min_retention_days"] == 3
    assert "lock removed" in site.ok("vault", "unlock", "Gold")
    s3, bucket = site.coffer.client("s3"), site.coffer.settings.vault_bucket
    stand_in = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/nothing-here/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [stand_in]}))
    try:
        (tmp_path / "policy.json").write_text(json.dumps({"Statement": [{
            "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:role/intern"},
            "Action": "s3:GetObject"}]}))
        assert len(site.json("vault", "set-policy", "Gold", "--policy", str(tmp_path / "policy.json"))) == 1
        assert "installed" in site.ok("vault", "apply-policies")
        # verify compares the bucket policy with the template's: the stand-in is not it, and verify says so (exit 1);
        # the recovery point's objects are all as pinned
        verified = site.run("vault", "verify", "Default")
        kinds = {line.split()[0] for line in verified.stdout.splitlines()[2:] if line.strip() and
                 not line.startswith("checked")}
        assert verified.returncode == 1 and kinds == {"BUCKET_POLICY_DRIFT"}, verified.stdout
        assert "deleted" in site.ok("vault", "delete", "Gold")
        assert_one_line(site.run("vault", "describe", "Gold"), 1, "vault Gold does not exist")
    finally:
        s3.delete_bucket_policy(Bucket=bucket)


def test_legal_hold_audit_catalog_and_sweep_verbs_over_http(site: Site) -> None:
    point_id = site.backed_up["recovery_point_id"]
    hold = json.loads(site.ok("legalhold", "create", "--title", "http", "--recovery-point", point_id))
    assert hold["legal_hold_id"] in site.ok("legalhold", "list")
    assert hold["legal_hold_id"] in {h["legal_hold_id"] for h in site.json("list-legal-holds", "--output", "json")}
    assert site.json("legalhold", "describe", hold["legal_hold_id"])["status"] == "ACTIVE"
    assert json.loads(site.ok("legalhold", "release", hold["legal_hold_id"], "--reason", "done"))["status"] \
        == "CANCELED"
    assert "chain intact" in site.ok("audit", "verify")
    assert {"legalhold.create", "legalhold.release"} <= {r["action"] for r in site.json("audit", "show", "--output",
                                                                                         "json")}
    assert json.loads(site.ok("catalog", "rebuild", "--vault", "Default"))["already_present"] >= 1
    assert site.json("sweep", "runs", "--output", "json") == []
    assert_one_line(site.run("sweep", "show", "no-such-run"), 1, "no-such-run")


def test_bypass_governance_over_http(site: Site) -> None:
    create_sample_bucket(site.coffer.client("s3"), "http-bypassed")
    started = site.json("backup", "start", "--resource-arn", "arn:aws:s3:::http-bypassed", *WAIT)
    point_id = started["recovery_point_id"]
    assert_one_line(site.run("vault", "bypass-governance", "--recovery-point", point_id, "--reason",
                             "a test of the bypass", "--confirm", "another"), 2, "--confirm")
    deleted = json.loads(site.ok("vault", "bypass-governance", "--recovery-point", point_id, "--reason",
                                 "a test of the bypass", "--confirm", point_id))
    assert deleted["recovery_point_id"] == point_id


# ---- where the region and the credentials come from ----------------------------------------------------
def test_aws_region_wins_over_aws_default_region_and_region_over_both(site: Site) -> None:
    job_id = site.backed_up["job_id"]
    assert job_id in site.ok("jobs", "list", env={"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert job_id in site.ok("jobs", "list", env={"AWS_REGION": None, "AWS_DEFAULT_REGION": "us-east-1"})
    assert_one_line(site.run("jobs", "list", env={"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}),
                    4, "no stack coffer-twin in eu-west-1: deploy the stack first: sam build && sam deploy")
    assert job_id in site.ok("jobs", "list", "--region", "us-east-1", env={"AWS_REGION": "eu-west-1"})


def test_aws_profile_names_the_region_and_the_credentials(site: Site, tmp_path: Path) -> None:
    (tmp_path / "config").write_text("[profile coffer-ops]\nregion = us-east-1\n")
    (tmp_path / "credentials").write_text("[coffer-ops]\naws_access_key_id = testing\naws_secret_access_key = x\n")
    files = {"AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
             "AWS_REGION": None, "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}
    assert site.backed_up["job_id"] in site.ok("jobs", "list", env={**files, "AWS_PROFILE": "coffer-ops"})
    assert site.backed_up["job_id"] in site.ok("jobs", "list", "--profile", "coffer-ops", env=files)
    assert_one_line(site.run("jobs", "list", env={**files, "AWS_PROFILE": "nobody"}), 4,
                    "The config profile (nobody) could not be found")


def test_vault_notifications_and_job_stop_over_http(site: Site) -> None:
    """`vault notifications put/get/delete` (and AWS Backup's names) and `jobs stop` / `stop-backup-job`, as a
    user's shell runs them against the stack's endpoint."""
    put = site.json("vault", "notifications", "put", "Default", "--events", "BACKUP_JOB_FAILED,COPY_JOB_FAILED")
    assert put["BackupVaultEvents"] == ["BACKUP_JOB_FAILED", "COPY_JOB_FAILED"]
    got = site.json("vault", "notifications", "get-backup-vault-notifications", "Default")
    assert got == put
    assert_one_line(site.run("vault", "notifications", "put", "Default", "--events", "NOPE"), 1,
                    "BackupVaultEvents.0")
    assert "deleted" in site.ok("vault", "notifications", "delete", "Default")
    # a job that has not ended: a backup of the sample table, started and left running (its lease held)
    event = {"version": "0", "id": "http-stop", "detail-type": "StartBackupJob", "source": "coffer",
             "account": "123456789012", "time": site.coffer.clock.now().isoformat(), "region": "us-east-1",
             "resources": [], "detail": {"IdempotencyToken": "http-stop", "ResourceArn":
                                         "arn:aws:dynamodb:us-east-1:123456789012:table/coffer-sample-orders"}}
    job_id = site.coffer.twin.invoke("StartBackupJobFunction", {"event": event, "execution_arn": "arn:x"})["job_id"]
    assert site.json("stop-backup-job", "--backup-job-id", job_id)["state"] == "ABORTED"
    assert_one_line(site.run("jobs", "stop", job_id), 1, "has ended already (ABORTED)")
