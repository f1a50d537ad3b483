"""The embedded twin: ``template.yaml`` deployed into an in-process moto, workflows run for real.

``Twin.deploy`` does what ``sam package && sam deploy`` do, against moto: package local artifacts,
run the SAM transform, create the stack, then apply what moto's CloudFormation leaves out (see
:mod:`.fixups`). While the twin is open, Lambda invocations of its functions run the real handler files
(:mod:`.lambda_router`), EventBridge delivers to Step Functions (:mod:`.event_delivery`), and a
Distributed Map ends and writes its results as in AWS (:mod:`.distributed_map`).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypedDict

from .asl_cache import parsed_once
from .cfn_yaml import load_template
from .client_tokens import export_arns_as_aws_makes_them, honoured_client_tokens
from .db_clusters import db_cluster_family
from .distributed_map import aws_shaped_distributed_map
from .dynamodb_atomic import atomic_dynamodb
from .dynamodb_items import fast_table_listing
from .dynamodb_transactions import transactions_by_item
from .environment import fake_aws_environment
from .event_delivery import StepFunctionsDelivery
from .fixups import FixupReport, TemplateResolver, apply_fixups
from .iam import IamEnforcement
from .lambda_router import InvocationStats, LambdaRouter, handler_threads
from .native_durations import NativeDurations
from .nested_executions import nested_executions
from .packaging import FunctionSource, PackagedTemplate, package_template, placeholder_zip
from .request_plumbing import cached_plumbing
from .s3_archive import archived_metadata_readable, restore_of_a_version
from .s3_conditional import atomic_conditional_puts
from .s3_events import S3EventBridge
from .s3_multipart import s3_multipart_checksums
from .s3_retention import retention_as_s3_rules
from .sam_transform import to_cloudformation
from .stack import (
    DeployedStack,
    TwinDeployError,
    check_parameters,
    create_stack,
    event_buses_referenced_by_name,
    names_of,
)
from .task_failures import sdk_client_errors_named, task_failures_with_causes
from .waits import ExecutionEnds, compressed_waits

__all__ = ["ExecutionResult", "Twin", "TwinDeployError", "TwinInvokeError"]

MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
_ARTIFACT_KEY = "twin/code.zip"
#: Twin.wait asks DescribeExecution again after this long even if no end was signalled (a safety net only, for a
#: lost signal: longer than the common 1-second Wait state, so that a workflow ending just after a second is not
#: asked about while it still runs)
_RECHECK_SECONDS = 5.0


#: Resource types moto's CloudFormation makes none of and the twin does not make either: nothing Coffer runs reads
#: them, and each is held against the template another way (docs/twin.md).
NOT_EMULATED = {
    "AWS::CloudWatch::Alarm": "what each alarm fires on is held against what the functions print "
                              "(tests/unit/test_job_metrics.py)",
    "AWS::CloudWatch::Dashboard": "its widgets are held with the alarms (tests/unit/test_job_metrics.py)",
    "AWS::SNS::TopicPolicy": "CloudWatch's right to publish to the topic (tests/unit/test_template.py); the twin "
                             "delivers EventBridge targets itself",
    "AWS::SNS::Subscription": "NotificationEmail's e-mail subscription: the twin sends no mail (tests subscribe an "
                              "SQS queue: tests/integration/test_job_notifications.py)",
}


class TwinInvokeError(RuntimeError):
    """A function invoked with :meth:`Twin.invoke` returned a function error."""

    def __init__(self, logical_id: str, error_type: str, error_message: str, stack_trace: list[str]) -> None:
        super().__init__(f"{logical_id} failed with {error_type}: {error_message}")
        self.logical_id = logical_id
        self.error_type = error_type
        self.error_message = error_message
        self.stack_trace = stack_trace


class ExecutionResult(TypedDict):
    """The end of an execution as DescribeExecution reports it (``output`` parsed from JSON)."""

    arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None


@contextmanager
def _on_sys_path(directories: tuple[Path, ...]) -> Iterator[None]:
    """Layers' contents are importable in Lambda (/opt/python); here they go at the end of sys.path."""
    added = [str(d) for d in directories if str(d) not in sys.path]
    sys.path.extend(added)
    try:
        yield
    finally:
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)


class Twin:
    """A deployed twin. Create with :meth:`deploy`; use as a context manager (or call :meth:`close`).

    One twin at a time per process: moto's backends and the patches the twin installs are process-wide.
    """

    _open: Twin | None = None
    _one_at_a_time = threading.Lock()

    def __init__(
        self,
        project_root: Path,
        region: str,
        parameters: dict[str, str],
        env_overrides: dict[str, str],
        stack_name: str,
    ) -> None:
        self.project_root = Path(project_root).resolve()
        self.region = region
        self.stack_name = stack_name
        self._parameters = dict(parameters)
        self._wait_scale = 1.0
        self._exit = ExitStack()
        self._router = LambdaRouter(region, env_overrides)
        self._delivery = StepFunctionsDelivery()
        self._s3_events = S3EventBridge()
        self.native = NativeDurations()
        """snapshots that take simulated minutes, and the completion events AWS sends (:mod:`.native_durations`)"""
        self._ends = ExecutionEnds()
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._functions: dict[str, FunctionSource] = {}
        self._stack: DeployedStack | None = None
        self._enforce_iam = False
        self.iam: IamEnforcement | None = None
        """the IAM enforcement (its decisions), when deployed with ``enforce_iam=True``"""
        self.account_id = ""
        self.fixups = FixupReport()
        self.template: dict[str, Any] = {}
        """The plain CloudFormation template that was deployed (after packaging and the SAM transform)."""

    # -- lifecycle --------------------------------------------------------------------------------
    @classmethod
    def deploy(
        cls,
        project_root: Path,
        region: str = "us-east-1",
        parameters: dict[str, str] | None = None,
        env_overrides: dict[str, str] | None = None,
        *,
        template_name: str = "template.yaml",
        stack_name: str = "coffer-twin",
        event_clock: Callable[[], datetime] | None = None,
        wait_scale: float = 1.0,
        enforce_iam: bool = False,
    ) -> Twin:
        """Start moto and deploy ``<project_root>/<template_name>`` into it.

        `wait_scale`: the fraction of their seconds that Wait states and Retry intervals sleep (:mod:`.waits`).
        `enforce_iam`: install the template's bucket policies and evaluate every call of a function role or a
        role session against the real role, bucket, key, event bus and trust policies (:mod:`.iam`; needs
        Node.js and the pinned evaluator, ``npm ci --prefix src/coffer_twin/iam/evaluator``).
        """
        twin = cls(project_root, region, parameters or {}, env_overrides or {}, stack_name)
        twin._wait_scale = wait_scale
        twin._enforce_iam = enforce_iam
        if event_clock is not None:
            twin._s3_events.clock = event_clock  # the time S3's events carry (:mod:`.s3_events`)
            twin.native.clock = event_clock  # the clock snapshot durations run on (:mod:`.native_durations`)
        template_path = twin.project_root / template_name
        if not template_path.is_file():
            raise TwinDeployError(f"no template at {template_path}")
        source_template = load_template(template_path)
        check_parameters(source_template, twin._parameters)
        with cls._one_at_a_time:
            if cls._open is not None:
                raise RuntimeError("another Twin is open: moto's state is process-wide, close it first")
            cls._open = twin
        try:
            twin._start(source_template, template_path.parent)
        except BaseException:
            twin.close()
            raise
        return twin

    def __enter__(self) -> Twin:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop running executions, undo every patch, stop moto, restore the environment."""
        try:
            self._exit.close()
        finally:
            with Twin._one_at_a_time:
                if Twin._open is self:
                    Twin._open = None

    def _start(self, source_template: dict[str, Any], base_dir: Path) -> None:
        from moto import mock_aws
        from moto.stepfunctions.parser.utils import TMP_THREADS

        self._exit.enter_context(fake_aws_environment(self.region))
        self._exit.enter_context(mock_aws(config=MOTO_CONFIG))  # type: ignore[call-overload]
        first_thread = len(TMP_THREADS)
        self.account_id = str(self.client("sts").get_caller_identity()["Account"])

        packaged = self._package(source_template, base_dir)
        self._exit.enter_context(_on_sys_path(packaged.layer_dirs))
        self._exit.enter_context(self._router.installed())
        self._exit.enter_context(handler_threads())  # a handler's own threads serve its function
        self._exit.enter_context(self._delivery.installed())
        self._exit.enter_context(self._s3_events.installed())  # S3 -> EventBridge as S3 sends it
        self._exit.enter_context(self.native.installed())  # snapshots that take simulated minutes, and their events
        self._exit.enter_context(aws_shaped_distributed_map())
        self._exit.enter_context(parsed_once())
        self._exit.enter_context(cached_plumbing())  # one boto3 client per service for moto's engine
        self._exit.enter_context(compressed_waits(self._wait_scale))
        self._exit.enter_context(self._ends.installed())  # Twin.wait sleeps until the execution ends
        self._exit.enter_context(archived_metadata_readable())  # tags of GLACIER objects, as in S3
        self._exit.enter_context(restore_of_a_version())  # RestoreObject of a pinned version, as in S3
        self._exit.enter_context(retention_as_s3_rules(lambda: self.native.now()))  # lock changes S3 refuses
        self._exit.enter_context(honoured_client_tokens())  # EC2's and DynamoDB's ClientToken idempotency, as in AWS
        self._exit.enter_context(export_arns_as_aws_makes_them())  # table/<name>/export/<id>, as in AWS
        self._exit.enter_context(atomic_dynamodb())
        self._exit.enter_context(fast_table_listing())  # Query without re-casting the whole table each time
        self._exit.enter_context(atomic_conditional_puts())
        self._exit.enter_context(s3_multipart_checksums())  # part checksums and Object Lock, as S3 answers
        self._exit.enter_context(nested_executions(self._ends))  # states:startExecution(.sync) tasks
        self._exit.enter_context(task_failures_with_causes())  # SendTaskFailure's cause reaches the Catch
        self._exit.enter_context(sdk_client_errors_named())  # aws-sdk tasks: <Service>.SdkClientException, as AWS
        self._exit.enter_context(transactions_by_item())  # TransactWriteItems without table copies
        self._exit.enter_context(event_buses_referenced_by_name())  # Ref of an event bus is its name
        # DocumentDB clusters, Neptune restores (moto lacks both); a restore into an existing cluster fails, as in AWS
        self._exit.enter_context(db_cluster_family())
        self._exit.callback(self._drain, first_thread)  # first to run on close: patches still in place

        self.template = to_cloudformation(packaged.template, self._parameters)
        with warnings.catch_warnings(), names_of(self.stack_name, self.region):
            warnings.filterwarnings("ignore", message=".*not supported by moto's CloudFormation.*")
            self._stack = create_stack(self.session, self.stack_name, self.template, self._parameters)
            resolver = TemplateResolver(self.account_id, self.region, self.stack_name)
            self.fixups = apply_fixups(
                self.session, resolver, self.template, dict(self._stack.physical_ids), self.stack_name
            )
        self._functions = packaged.functions
        for logical_id, source in packaged.functions.items():
            if logical_id in self._stack.physical_ids:
                self._router.register(self.account_id, self._stack.physical_ids[logical_id], source)
        if self._enforce_iam:
            self._enforce()

    def _enforce(self) -> None:
        """Bucket policies put as CloudFormation would (moto's own check of them off), then every call of a
        function role or role session evaluated (:mod:`.iam.enforcement`)."""
        lambda_client = self.client("lambda")
        roles = {logical_id: str(lambda_client.get_function_configuration(
                     FunctionName=self._deployed.physical_ids[logical_id])["Role"])
                 for logical_id in self._functions if logical_id in self._deployed.physical_ids}
        self.iam = self._exit.enter_context(IamEnforcement(self.region, roles).installed())
        s3 = self.client("s3")
        for bucket, policy in self.fixups.bucket_policies.values():
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    @contextmanager
    def bucket_policies_stored(self) -> Iterator[None]:
        """The template's bucket policies on their buckets, as CloudFormation puts them, for a test that reads them
        back (`coffer vault verify` compares them with the template) without `enforce_iam`: stored, not evaluated -
        moto's own check of them, which gets conditions wrong (see fixups), is off meanwhile; tests/security
        evaluates them. Taken away again afterwards. With `enforce_iam` they are on the buckets already."""
        from unittest import mock

        from moto.iam.access_control import PermissionResult
        from moto.s3.models import FakeBucket

        if self._enforce_iam:
            yield
            return
        s3 = self.client("s3")
        with mock.patch.object(FakeBucket, "get_permission", lambda bucket, action, resource: PermissionResult.NEUTRAL):
            for bucket, policy in self.fixups.bucket_policies.values():
                s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
            try:
                yield
            finally:
                for bucket, _ in self.fixups.bucket_policies.values():
                    s3.delete_bucket_policy(Bucket=bucket)

    def _package(self, template: dict[str, Any], base_dir: Path) -> PackagedTemplate:
        """Upload the placeholder artifact and rewrite the template's local paths to it. The bucket's name is
        the stack's (each twin is a fresh moto), so the packaged template, and its transform, repeat."""
        digest = hashlib.sha256(f"{self.stack_name}/{self.region}".encode()).hexdigest()[:12]
        bucket = f"coffer-twin-artifacts-{digest}"
        s3 = self.client("s3")
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region})
        s3.put_object(Bucket=bucket, Key=_ARTIFACT_KEY, Body=placeholder_zip())
        return package_template(template, base_dir, bucket, _ARTIFACT_KEY)

    def _drain(self, first_thread: int, timeout: float = 5.0) -> None:
        """Stop executions still running and let their threads end while moto is still mocking."""
        from moto.stepfunctions.parser.utils import TMP_THREADS

        sfn = self.client("stepfunctions")
        for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                pages = sfn.get_paginator("list_executions").paginate(
                    stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
                )
                for execution in (e for p in pages for e in p["executions"]):
                    with suppress(Exception):  # it may have ended meanwhile
                        sfn.stop_execution(executionArn=execution["executionArn"], cause="twin closed")
        deadline = time.monotonic() + timeout
        for thread in list(TMP_THREADS[first_thread:]):
            thread.join(max(0.0, deadline - time.monotonic()))
        self._router.join_background(max(0.0, deadline - time.monotonic()))

    # -- resources --------------------------------------------------------------------------------
    @property
    def session(self) -> Any:
        """A boto3 session with fake credentials (never the caller's), bound to the mock by moto."""
        if self._session is None:
            import boto3

            self._session = boto3.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                aws_session_token="testing",
                region_name=self.region,
            )
        return self._session

    def client(self, service: str) -> Any:
        """A cached boto3 client for ``service`` (botocore clients are thread-safe)."""
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    @property
    def _deployed(self) -> DeployedStack:
        if self._stack is None:
            raise RuntimeError("the twin is not deployed")
        return self._stack

    @property
    def outputs(self) -> dict[str, str]:
        return dict(self._deployed.outputs)

    @property
    def unsupported_resources(self) -> dict[str, str]:
        """Resources moto's CloudFormation skipped and the twin did not create either (NOT_EMULATED aside): logical
        id -> type."""
        return {k: v for k, v in self._deployed.unsupported.items()
                if k not in self.fixups.extra_physical_ids and v not in NOT_EMULATED}

    @property
    def not_emulated(self) -> dict[str, str]:
        """Resources of a type the twin deliberately does not make (NOT_EMULATED): logical id -> type."""
        return {k: v for k, v in self._deployed.unsupported.items() if v in NOT_EMULATED}

    def physical_id(self, logical_id: str) -> str:
        """Physical id (name or ARN, as CloudFormation's Ref) of a resource of the template."""
        ids = {**self._deployed.physical_ids, **self.fixups.extra_physical_ids}
        if logical_id in ids:
            return ids[logical_id]
        # SAM appends a content hash to layer version ids (CofferLayer -> CofferLayer0123abcdef).
        hashed = [k for k in ids if re.fullmatch(re.escape(logical_id) + "[0-9a-f]{10}", k)]
        if len(hashed) == 1:
            return ids[hashed[0]]
        raise KeyError(f"{logical_id} is not a resource of stack {self.stack_name}")

    def function_env(self, logical_id: str) -> dict[str, str]:
        """The function's environment variables as CloudFormation resolved them in moto's Lambda."""
        configuration = self.client("lambda").get_function_configuration(FunctionName=self.physical_id(logical_id))
        variables = configuration.get("Environment", {}).get("Variables", {})
        return {str(name): str(value) for name, value in variables.items()}  # moto keeps Number parameters as numbers

    def function_source(self, logical_id: str) -> FunctionSource:
        return self._functions[logical_id]

    # -- Lambda -----------------------------------------------------------------------------------
    @property
    def stats(self) -> InvocationStats:
        return self._router.stats

    @property
    def invocations(self) -> Counter[str]:
        """Invocations per function logical id, through any path (Invoke, Step Functions, async)."""
        return self._router.stats.invocations

    def wait_for_async(self, timeout: float = 30.0) -> None:
        """Let asynchronous invocations (EventBridge -> Lambda targets, Invoke with InvocationType=Event) finish."""
        self._router.join_background(timeout)

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Invoke a function through Lambda Invoke (the same path as Step Functions); raise on function error."""
        response = self.client("lambda").invoke(
            FunctionName=self.physical_id(logical_id), Payload=json.dumps(event).encode("utf-8")
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise TwinInvokeError(
                logical_id,
                str(payload.get("errorType")),
                str(payload.get("errorMessage")),
                list(payload.get("stackTrace") or []),
            )
        return payload

    def session_as(self, role_arn: str, region: str | None = None, session_name: str = "twin",
                   tags: dict[str, str] | None = None) -> Any:
        """A boto3 session of a role (credentials from moto's STS, with `tags` as session tags): with
        ``enforce_iam``, its calls are evaluated as that role's, as a user or service holding those credentials
        would be."""
        import boto3

        asked = [{"Key": key, "Value": value} for key, value in (tags or {}).items()]
        credentials = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name,
                                                     **({"Tags": asked} if asked else {}))["Credentials"]
        return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                             aws_secret_access_key=credentials["SecretAccessKey"],
                             aws_session_token=credentials["SessionToken"], region_name=region or self.region)

    # -- events -----------------------------------------------------------------------------------
    def put_event(
        self, source: str, detail_type: str, detail: dict[str, Any], *, resources: list[str] | None = None,
        bus: str | None = None, events_client: Any = None,
    ) -> list[str]:
        """PutEvents on `bus` (name or ARN; the default bus when None), with the twin's own credentials or
        `events_client`'s; return the ARNs of the executions it started."""
        entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
        if resources:
            entry["Resources"] = resources  # type: ignore[assignment]
        if bus:
            entry["EventBusName"] = bus
        result = (events_client or self.client("events")).put_events(Entries=[entry])["Entries"][0]
        if "EventId" not in result:
            raise ValueError(f"PutEvents rejected the event: {result.get('ErrorCode')}: {result.get('ErrorMessage')}")
        return self._delivery.executions_started_by(result["EventId"])

    # -- Step Functions ---------------------------------------------------------------------------
    def start_execution(self, logical_id: str, input: Any, name: str | None = None) -> str:
        """StartExecution of the template's state machine ``logical_id``; returns the execution ARN."""
        return str(
            self.client("stepfunctions").start_execution(
                stateMachineArn=self.physical_id(logical_id),
                name=name or str(uuid.uuid4()),
                input=json.dumps(input),
            )["executionArn"]
        )

    def wait(self, execution_arn: str, timeout: float = 30.0) -> ExecutionResult:
        """Sleep until the execution is no longer RUNNING (moto runs it in a thread, which says when it ends:
        :class:`.waits.ExecutionEnds`), then describe it."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                output = described.get("output")
                return ExecutionResult(
                    arn=execution_arn,
                    status=described["status"],
                    output=json.loads(output) if output is not None else None,
                    error=described.get("error"),
                    cause=described.get("cause"),
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout}s")
            self._ends.wait_for(execution_arn, min(remaining, _RECHECK_SECONDS))

    def run(self, logical_id: str, input: Any, timeout: float = 30.0) -> ExecutionResult:
        """Start an execution and wait for its end."""
        return self.wait(self.start_execution(logical_id, input), timeout)

    def cold_start(self) -> None:
        """Every function starts cold at its next invocation (its handler module imported again)."""
        self._router.cold_start()

    def run_s3_lifecycle(self, now: datetime) -> dict[str, int]:
        """What S3's daily lifecycle run does, as of `now` (transitions only, :mod:`.s3_lifecycle`)."""
        from .s3_lifecycle import run_transitions

        return run_transitions(self.session, self.account_id, now)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """All history events of an execution (GetExecutionHistory, every page)."""
        paginator = self.client("stepfunctions").get_paginator("get_execution_history")
        return [event for page in paginator.paginate(executionArn=execution_arn) for event in page["events"]]
