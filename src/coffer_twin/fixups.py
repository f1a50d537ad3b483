"""After ``create_stack``: apply what the template says and moto's CloudFormation leaves out.

Every value comes from the transformed template, with intrinsics resolved by moto's own resolver
(``clean_json`` over the stack's resource map), so parameters and references mean what they mean to
CloudFormation. What moto 5.2.5's CloudFormation does not do, and the twin therefore does:

- ``AWS::S3::Bucket``: only encryption and tags are applied. The twin applies
  ``VersioningConfiguration``, ``ObjectLockEnabled``/``ObjectLockConfiguration`` (versioning on, Object
  Lock on, the default retention), ``PublicAccessBlockConfiguration`` and ``LifecycleConfiguration`` (moto
  stores the rules but never runs them: ``twin.s3_lifecycle`` does the transitions).
- ``AWS::S3::BucketPolicy``: not supported (skipped with a warning). The twin resolves it
  (``FixupReport.bucket_policies``) but does NOT put it here: moto's S3 evaluates bucket policies per object
  request and gets conditions wrong - a ``Deny s3:*`` conditioned on ``aws:SecureTransport: false`` (the
  usual TLS-only statement) refuses every PutObject with 403. With ``enforce_iam`` the twin puts them after
  switching moto's own check off, and evaluates them itself (:mod:`.iam`).
- ``AWS::StepFunctions::StateMachine``: created in moto's plain Step Functions backend, which the API
  does not use when ``execute_state_machine`` is on (ListStateMachines is empty, StartExecution fails),
  and with ``DefinitionSubstitutions`` ignored. The twin substitutes them into the definition and
  creates the machine, same name so same ARN, in the executing backend. moto's ASL grammar refuses an
  integer ``ToleratedFailurePercentage`` (AWS takes 100; moto only 100.0): the twin writes it as a float.
- ``AWS::KMS::Key``: the ``KeyPolicy`` is stored as a dict, which moto's DescribeKey then fails to parse.
  The twin puts it again through the KMS API, as JSON.
- ``AWS::Events::EventBus``: the ``Policy`` is ignored. The twin puts it through PutPermission (moto stores it
  and never applies it; ``Twin.deploy(..., enforce_iam=True)`` evaluates it, :mod:`.iam`).
- ``AWS::Scheduler::ScheduleGroup``/``Schedule``: not supported. The twin creates them through the
  Scheduler API; nothing fires them (moto has no clock), the caller must.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .stack import TwinDeployError

__all__ = ["FixupError", "FixupReport", "TemplateResolver", "apply_fixups", "substitute_definition"]

_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


class FixupError(TwinDeployError):
    """A fix-up failed; the message names the resource (e.g. an ASL that moto's parser rejects)."""


class TemplateResolver:
    """Resolve template fragments against the deployed moto stack (Ref, GetAtt, Sub, If, Join...)."""

    def __init__(self, account_id: str, region: str, stack_name: str) -> None:
        from moto.cloudformation.models import cloudformation_backends

        self._stack = cloudformation_backends[account_id][region].get_stack(stack_name)

    def resolve(self, fragment: Any) -> Any:
        from moto.cloudformation.parsing import clean_json

        return clean_json(copy.deepcopy(fragment), self._stack.resource_map)


@dataclass
class FixupReport:
    applied: list[str] = field(default_factory=list)
    extra_physical_ids: dict[str, str] = field(default_factory=dict)
    bucket_policies: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """BucketPolicy logical id -> (bucket name, resolved policy document), for tests to inspect."""


def apply_fixups(
    session: Any,
    resolver: TemplateResolver,
    template: dict[str, Any],
    physical_ids: dict[str, str],
    stack_name: str,
) -> FixupReport:
    """Apply every fix-up the template asks for; ``physical_ids`` are those moto created."""
    report = FixupReport()
    resources: dict[str, Any] = template.get("Resources") or {}
    s3 = session.client("s3")
    for logical_id, resource in resources.items():
        try:
            _fix_resource(session, s3, resolver, logical_id, resource, physical_ids, report)
        except Exception as exc:
            raise FixupError(f"{logical_id} ({resource.get('Type')}): {type(exc).__name__}: {exc}") from exc
    try:
        _create_schedules(session, resolver, resources, physical_ids, stack_name, report)
    except Exception as exc:
        raise FixupError(f"schedules: {type(exc).__name__}: {exc}") from exc
    return report


def _fix_resource(
    session: Any,
    s3: Any,
    resolver: TemplateResolver,
    logical_id: str,
    resource: dict[str, Any],
    physical_ids: dict[str, str],
    report: FixupReport,
) -> None:
    kind, props = resource.get("Type"), resource.get("Properties") or {}
    if kind == "AWS::S3::Bucket" and logical_id in physical_ids:
        _configure_bucket(s3, physical_ids[logical_id], resolver.resolve(props), logical_id, report)
    elif kind == "AWS::S3::BucketPolicy" and logical_id not in physical_ids:
        resolved = resolver.resolve(props)
        report.bucket_policies[logical_id] = (resolved["Bucket"], resolved["PolicyDocument"])
        report.extra_physical_ids[logical_id] = resolved["Bucket"]
        report.applied.append(f"{logical_id}: resolved, deliberately not put (see module docstring)")
    elif kind == "AWS::KMS::Key" and logical_id in physical_ids and "KeyPolicy" in props:
        # moto's CloudFormation keeps KeyPolicy as a dict, which its own KMS cannot read back (DescribeKey
        # raises): put the same policy through the KMS API, as JSON (issue 7: copies describe their keys).
        policy = resolver.resolve(props["KeyPolicy"])
        session.client("kms").put_key_policy(KeyId=physical_ids[logical_id], PolicyName="default",
                                             Policy=policy if isinstance(policy, str) else json.dumps(policy))
        report.applied.append(f"{logical_id}: key policy put as JSON")
    elif kind == "AWS::Events::EventBus" and logical_id in physical_ids and "Policy" in props:
        policy = resolver.resolve(props["Policy"])
        if policy:  # an !If that chose AWS::NoValue resolves to nothing: the bus keeps no policy
            session.client("events").put_permission(EventBusName=physical_ids[logical_id], Policy=json.dumps(policy))
            report.applied.append(f"{logical_id}: event bus policy put")
    elif kind == "AWS::StepFunctions::StateMachine" and logical_id in physical_ids:
        _deploy_state_machine(session.client("stepfunctions"), physical_ids[logical_id], props, resolver)
        report.applied.append(f"{logical_id}: definition substituted, machine created in the executing backend")


def _configure_bucket(s3: Any, bucket: str, props: dict[str, Any], logical_id: str, report: FixupReport) -> None:
    lock = props.get("ObjectLockConfiguration")
    lock_enabled = str(props.get("ObjectLockEnabled", "")).lower() == "true" or bool(lock)
    versioning = (props.get("VersioningConfiguration") or {}).get("Status")
    if versioning or lock_enabled:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": versioning or "Enabled"})
        report.applied.append(f"{logical_id}: versioning {versioning or 'Enabled'}")
    if lock_enabled:
        configuration: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
        retention = ((lock or {}).get("Rule") or {}).get("DefaultRetention")
        if retention:
            configuration["Rule"] = {
                "DefaultRetention": {
                    key: (int(value) if key in ("Days", "Years") else value) for key, value in retention.items()
                }
            }
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=configuration)
        report.applied.append(f"{logical_id}: object lock {configuration}")
    if public_access := props.get("PublicAccessBlockConfiguration"):
        flags = {key: str(value).lower() == "true" for key, value in public_access.items()}
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=flags)
        report.applied.append(f"{logical_id}: public access block")
    if rules := (props.get("LifecycleConfiguration") or {}).get("Rules"):
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [lifecycle_rule_from_cfn(rule) for rule in rules]})
        report.applied.append(f"{logical_id}: lifecycle rules {[rule.get('Id') for rule in rules]}")


def lifecycle_rule_from_cfn(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's S3 lifecycle rule shape -> PutBucketLifecycleConfiguration's (the parts Coffer uses)."""
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in rule.get("TagFilters", [])]
    prefix = rule.get("Prefix", "")
    if tags:
        filter_: dict[str, Any] = ({"And": {"Prefix": prefix, "Tags": tags}} if prefix or len(tags) > 1
                                   else {"Tag": tags[0]})
    else:
        filter_ = {"Prefix": prefix}
    api: dict[str, Any] = {"ID": rule.get("Id", ""), "Status": rule.get("Status", "Enabled"), "Filter": filter_}
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    transitions = rule.get("Transitions") or ([rule["Transition"]] if "Transition" in rule else [])
    if transitions:
        api["Transitions"] = [{"Days": int(t.get("TransitionInDays", 0)), "StorageClass": t["StorageClass"]}
                              for t in transitions]
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])}
    return api


def substitute_definition(definition: str, substitutions: dict[str, Any]) -> str:
    """Replace ``${Key}`` as Step Functions does; an unknown key is an error, not a runtime surprise."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in substitutions:
            raise KeyError(f"${{{key}}} in the definition has no DefinitionSubstitutions entry")
        found = substitutions[key]
        return json.dumps(found) if isinstance(found, bool) else str(found)

    return _SUBSTITUTION.sub(value, definition)


def _parsable_by_moto(definition: str) -> str:
    """moto's ASL grammar takes ``ToleratedFailurePercentage`` only as a decimal (100.0, not 100)."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: float(value) if key == "ToleratedFailurePercentage" and type(value) is int else walk(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return json.dumps(walk(json.loads(definition)))


def _deploy_state_machine(sfn: Any, arn: str, props: dict[str, Any], resolver: TemplateResolver) -> None:
    if "DefinitionString" in props:
        definition = resolver.resolve(props["DefinitionString"])
    else:
        definition = json.dumps(resolver.resolve(props.get("Definition") or {}))
    substitutions = resolver.resolve(props.get("DefinitionSubstitutions") or {})
    definition = _parsable_by_moto(substitute_definition(definition, substitutions))
    role_arn = resolver.resolve(props.get("RoleArn", ""))
    name = arn.rsplit(":", 1)[1]
    existing = {machine["name"] for machine in sfn.list_state_machines()["stateMachines"]}
    if name in existing:
        sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role_arn)
        return
    options: dict[str, Any] = {"type": props.get("StateMachineType", "STANDARD")}
    if tracing := props.get("TracingConfiguration"):
        options["tracingConfiguration"] = {"enabled": str(tracing.get("Enabled")).lower() == "true"}
    created = sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn, **options)
    if created["stateMachineArn"] != arn:
        raise RuntimeError(f"state machine re-created as {created['stateMachineArn']}, expected {arn}")


def _create_schedules(
    session: Any,
    resolver: TemplateResolver,
    resources: dict[str, Any],
    physical_ids: dict[str, str],
    stack_name: str,
    report: FixupReport,
) -> None:
    groups = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Scheduler::ScheduleGroup"}
    schedules = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Scheduler::Schedule"}
    if not groups and not schedules:
        return
    scheduler = session.client("scheduler")
    for logical_id, resource in groups.items():
        if logical_id in physical_ids:
            continue
        props = resolver.resolve(resource.get("Properties") or {})
        name = props.get("Name") or f"{stack_name}-{logical_id}"
        scheduler.create_schedule_group(Name=name)
        report.extra_physical_ids[logical_id] = name
        report.applied.append(f"{logical_id}: schedule group created")
    for logical_id, resource in schedules.items():
        if logical_id in physical_ids:
            continue
        raw = resource.get("Properties") or {}
        props = resolver.resolve(raw)
        props.setdefault("Name", f"{stack_name}-{logical_id}")
        group_ref = raw.get("GroupName")
        if isinstance(group_ref, dict) and group_ref.get("Ref") in report.extra_physical_ids:
            props["GroupName"] = report.extra_physical_ids[group_ref["Ref"]]  # moto resolved it to nothing
        scheduler.create_schedule(**props)
        report.extra_physical_ids[logical_id] = props["Name"]
        report.applied.append(f"{logical_id}: schedule created (not fired by moto)")
