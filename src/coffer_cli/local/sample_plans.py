"""The sample plan (examples/plans/sample.yaml) on the twin: the sample resources tagged for it, and the plan
applied, as `coffer local tick` and the sample events of the PlanRun functions need."""

from __future__ import annotations

from coffer.adapters.aws_services.schedules import PlanSchedules
from coffer.adapters.catalog.plans import PlanCatalog
from coffer.services.plans import ApplyResult, PlanService
from coffer.stack_outputs import StackRefs
from coffer_cli.commands.common import plan_rules
from coffer_cli.local.samples import SAMPLE_BUCKET, SAMPLE_TABLE
from coffer_cli.local.session import LocalCoffer

SAMPLE_PLAN = "examples/plans/sample.yaml"
#: the tag the sample plan selects
SAMPLE_TAG = {"Key": "coffer-sample", "Value": "true"}


def plan_service(coffer: LocalCoffer) -> PlanService:
    """`coffer plan`'s service, wired to the twin's stack from its CloudFormation outputs."""
    refs = StackRefs.from_outputs(coffer.twin.stack_name, coffer.twin.outputs)
    actor = str(coffer.client("sts").get_caller_identity()["Arn"])
    return PlanService(PlanCatalog(coffer.client("dynamodb"), refs.catalog_table),
                       PlanSchedules(coffer.client("scheduler"), refs.schedule_group), refs, coffer.clock,
                       plan_rules(coffer.twin.outputs, coffer.twin.session), audit=coffer.deps.audit_log(actor))


def tag_samples(coffer: LocalCoffer) -> None:
    """Tag the sample bucket and table (made by coffer_cli.local.samples) so that the sample plan selects them."""
    coffer.client("s3").put_bucket_tagging(Bucket=SAMPLE_BUCKET, Tagging={"TagSet": [SAMPLE_TAG]})
    dynamodb = coffer.client("dynamodb")
    table_arn = dynamodb.describe_table(TableName=SAMPLE_TABLE)["Table"]["TableArn"]
    dynamodb.tag_resource(ResourceArn=table_arn, Tags=[SAMPLE_TAG])


def apply_plan_files(coffer: LocalCoffer, *paths: str) -> ApplyResult:
    from coffer_cli.commands.plan import read_files

    return plan_service(coffer).apply(read_files([str(coffer.twin.project_root / p) for p in paths]))


def apply_sample_plan(coffer: LocalCoffer) -> ApplyResult:
    tag_samples(coffer)
    return apply_plan_files(coffer, SAMPLE_PLAN)
