"""Deploying a SAM template into the twin: what comes from the template, and what the twin fixes up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from twins import Twins

from coffer_twin import Twin, TwinDeployError
from coffer_twin.cfn_yaml import load_template, loads_template
from coffer_twin.packaging import package_template

FIXTURE_APP = Path(__file__).resolve().parents[1] / "fixtures" / "twin"


@pytest.fixture(scope="module")
def twin(twins: Twins) -> Iterator[Twin]:
    with twins.deploy(FIXTURE_APP, parameters={"Stage": "qa", "LockDays": "2"}) as deployed:
        yield deployed


def test_short_form_tags_load_as_long_form() -> None:
    text = """
    A: !Ref Thing
    B: !GetAtt Bucket.Arn
    C: !Sub "${AWS::Region}-x"
    D: !If [IsProd, !Ref Big, !Ref AWS::NoValue]
    E: !Join ["", [a, !Select [0, !Split [",", "x,y"]]]]
    F: !Not [!Equals [!Ref P, ""]]
    G: !GetAtt Stack.Outputs.Name
    H: !FindInMap [M, !Ref AWS::Region, k]
    """
    loaded = loads_template(text)
    assert loaded["A"] == {"Ref": "Thing"}
    assert loaded["B"] == {"Fn::GetAtt": ["Bucket", "Arn"]}
    assert loaded["C"] == {"Fn::Sub": "${AWS::Region}-x"}
    assert loaded["D"] == {"Fn::If": ["IsProd", {"Ref": "Big"}, {"Ref": "AWS::NoValue"}]}
    assert loaded["E"] == {"Fn::Join": ["", ["a", {"Fn::Select": [0, {"Fn::Split": [",", "x,y"]}]}]]}
    assert loaded["F"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "P"}, ""]}]}
    assert loaded["G"] == {"Fn::GetAtt": ["Stack", "Outputs.Name"]}
    assert loaded["H"] == {"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "k"]}


def test_packaging_rewrites_local_paths_and_remembers_the_code() -> None:
    packaged = package_template(load_template(FIXTURE_APP / "template.yaml"), FIXTURE_APP, "art", "code.zip")
    resources = packaged.template["Resources"]
    assert resources["EchoFunction"]["Properties"]["CodeUri"] == "s3://art/code.zip"
    assert resources["SharedLayer"]["Properties"]["ContentUri"] == "s3://art/code.zip"
    machine = resources["FlowStateMachine"]["Properties"]
    assert "DefinitionUri" not in machine
    assert machine["Definition"]["StartAt"] == "Route"
    echo = packaged.functions["EchoFunction"]
    assert echo.code_dir == FIXTURE_APP / "functions" / "echo"
    assert echo.handler == "app.lambda_handler"  # from Globals
    assert echo.handler_file == FIXTURE_APP / "functions" / "echo" / "app.py"
    assert packaged.layer_dirs == (FIXTURE_APP / "layers",)


def test_parameters_and_references_reach_the_function_environment(twin: Twin) -> None:
    env = twin.function_env("EchoFunction")
    assert env["STAGE"] == "qa"
    assert env["DATA_BUCKET"] == twin.physical_id("DataBucket") == twin.outputs["DataBucketName"]


def test_state_machine_runs_with_definition_substitutions_applied(twin: Twin) -> None:
    sfn = twin.client("stepfunctions")
    described = sfn.describe_state_machine(stateMachineArn=twin.physical_id("FlowStateMachine"))
    definition = json.loads(described["definition"])
    invoke = definition["States"]["Echo"]["Parameters"]["FunctionName"]
    echo_arn = twin.client("lambda").get_function(FunctionName=twin.physical_id("EchoFunction"))
    assert invoke == echo_arn["Configuration"]["FunctionArn"]
    assert "${" not in described["definition"]


def test_object_lock_bucket_is_configured_from_the_template(twin: Twin) -> None:
    s3 = twin.client("s3")
    vault = twin.physical_id("VaultBucket")
    assert s3.get_bucket_versioning(Bucket=vault)["Status"] == "Enabled"
    lock = s3.get_object_lock_configuration(Bucket=vault)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    assert lock["Rule"]["DefaultRetention"]["Days"] == 2  # the LockDays parameter, not a constant
    assert s3.get_public_access_block(Bucket=vault)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]


def test_object_lock_refuses_deleting_a_locked_version(twin: Twin) -> None:
    s3 = twin.client("s3")
    vault = twin.physical_id("VaultBucket")
    put = s3.put_object(Bucket=vault, Key="rp/manifest.json", Body=b"{}", ChecksumAlgorithm="SHA256")
    head = s3.head_object(Bucket=vault, Key="rp/manifest.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"  # the bucket's default retention applied
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=vault, Key="rp/manifest.json", VersionId=put["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    versions = s3.list_object_versions(Bucket=vault, Prefix="rp/")["Versions"]
    assert [v["VersionId"] for v in versions] == [put["VersionId"]]


def test_bucket_policy_is_resolved_but_not_enforced_by_moto(twin: Twin) -> None:
    bucket, policy = twin.fixups.bucket_policies["VaultBucketPolicy"]
    assert bucket == twin.physical_id("VaultBucket")
    assert policy["Statement"][0]["Resource"][0] == f"arn:aws:s3:::{bucket}"
    assert twin.unsupported_resources == {}


def test_unknown_parameter_is_refused() -> None:
    with (
        pytest.raises(TwinDeployError, match="NoSuchParameter"),
        Twin.deploy(FIXTURE_APP, parameters={"NoSuchParameter": "x"}),
    ):
        pass  # pragma: no cover
