"""Bench for backup plans: selection matching CPU, and what one plan run costs at N = 10, 100, 1000 resources.

    .venv/bin/python bench/plans.py                 # everything (N = 10, 100, 1000: several minutes)
    .venv/bin/python bench/plans.py --sizes 10 100  # a quicker look
    .venv/bin/python bench/plans.py --sizes         # matching only

1. CPU time (time.process_time, best of --repeat runs) to match 100,000 resources (S3 buckets, DynamoDB tables,
   EBS volumes, with tags) against 50 selections of AWS Backup's shapes (ARN patterns, tag conditions,
   ListOfTags, NotResources) - the pure domain code a plan run uses.
2. One PlanRun execution on the twin (real template, ASL and handlers) over N tagged DynamoDB tables: its
   state transitions (StateEntered events, from GetExecutionHistory of the run and of every nested Backup
   execution; the Distributed Map's children, which moto does not keep as executions, from moto's event
   managers) and the AWS calls made meanwhile, counted by a botocore event hook (``before-call``, one per
   API call, not per retry) registered for every client. Calls are split by who makes them: Coffer's
   functions, or the Step Functions engine itself (Lambda invokes, the Map's ItemReader and ResultWriter, the
   nested StartExecution and the .sync polls - the twin polls a child every 10 to 250 ms; AWS follows
   children by events and bills none of that, so those DescribeExecution counts are the twin's).
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers"))

from coffer.domain.plans import BackupSelection  # noqa: E402
from coffer.domain.selection import SelectionMatcher  # noqa: E402


# ---- 1. matching -------------------------------------------------------------------------------------
def synthetic_resources(count: int, rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    resources = []
    for i in range(count):
        kind = i % 3
        arn = (f"arn:aws:s3:::bucket-{i:06d}" if kind == 0 else
               f"arn:aws:dynamodb:eu-west-1:111122223333:table/table-{i:06d}" if kind == 1 else
               f"arn:aws:ec2:eu-west-1:111122223333:volume/vol-{i:06x}")
        tags = {"env": rng.choice(["prod", "staging", "dev"]), "team": f"team-{rng.randrange(40)}",
                "backup": rng.choice(["daily", "hourly", "none", "weekly"]),
                "cost-center": str(rng.randrange(1000, 1100))}
        if rng.random() < 0.1:
            tags["lifecycle"] = "ephemeral"
        resources.append((arn, tags))
    return resources


def synthetic_selections(count: int, rng: random.Random) -> list[SelectionMatcher]:
    shapes: list[dict[str, Any]] = []
    for i in range(count):
        team = f"team-{rng.randrange(40)}"
        shape = i % 5
        if shape == 0:
            body: dict[str, Any] = {"Resources": ["*"], "Conditions": {"StringEquals": [
                {"ConditionKey": "aws:ResourceTag/team", "ConditionValue": team}]}}
        elif shape == 1:
            body = {"Resources": ["arn:aws:s3:::bucket-0*", "arn:aws:dynamodb:*:*:table/*"],
                    "NotResources": ["arn:aws:dynamodb:*:*:table/table-09*"],
                    "Conditions": {"StringLike": [{"ConditionKey": "aws:ResourceTag/team",
                                                   "ConditionValue": "team-1*"}],
                                   "StringNotEquals": [{"ConditionKey": "aws:ResourceTag/backup",
                                                        "ConditionValue": "none"}]}}
        elif shape == 2:
            body = {"ListOfTags": [
                {"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "daily"},
                {"ConditionType": "STRINGEQUALS", "ConditionKey": "team", "ConditionValue": team}]}
        elif shape == 3:
            body = {"Resources": ["arn:aws:ec2:*:*:volume/*"], "Conditions": {
                "StringEquals": [{"ConditionKey": "aws:ResourceTag/env", "ConditionValue": "prod"}],
                "StringNotLike": [{"ConditionKey": "aws:ResourceTag/lifecycle", "ConditionValue": "*ephem*"}]}}
        else:
            body = {"Resources": [f"arn:aws:s3:::bucket-{rng.randrange(100000):06d}",
                                  f"arn:aws:dynamodb:eu-west-1:111122223333:table/table-{rng.randrange(100000):06d}"]}
        shapes.append({"SelectionName": f"selection-{i}", **body})
    return [SelectionMatcher(BackupSelection.model_validate(s)) for s in shapes]


def bench_matching(resources: int = 100_000, selections: int = 50, repeat: int = 5) -> None:
    """Best of `repeat` runs (CPU time: other processes on the machine lengthen wall time, not this)."""
    rng = random.Random(4)
    population = synthetic_resources(resources, rng)
    matchers = synthetic_selections(selections, rng)
    times = []
    for _ in range(repeat):
        started = time.process_time()
        matched = sum(1 for arn, tags in population for m in matchers if m.matches(arn, tags))
        times.append(time.process_time() - started)
    cpu, evaluations = min(times), resources * selections
    print(f"matching: {resources:,} resources x {selections} selections = {evaluations:,} evaluations in "
          f"{cpu:.2f} s CPU, best of {repeat} (median {sorted(times)[len(times) // 2]:.2f} s; "
          f"{cpu / evaluations * 1e9:.0f} ns each); {matched:,} matches")


# ---- 2. one plan run -----------------------------------------------------------------------------------
class CallCounter:
    """A botocore `before-call` handler on every client: one count per API call, by caller and operation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.on = False

    def __call__(self, model: Any = None, request_signer: Any = None, **_: Any) -> None:
        if not self.on or model is None:
            return
        credentials = getattr(request_signer, "_credentials", None)
        if getattr(credentials, "access_key", None) == "ak":  # moto's Step Functions engine signs with "ak"
            who = "engine"
        elif threading.current_thread() is threading.main_thread():
            who = "bench"  # this script starting the run and waiting for it
        else:
            who = "functions"
        with self.lock:
            self.calls[(who, f"{model.service_model.service_name}:{model.name}")] += 1

    def install(self) -> None:
        import boto3
        from botocore.handlers import BUILTIN_HANDLERS

        BUILTIN_HANDLERS.append(("before-call", self))
        boto3.DEFAULT_SESSION = None  # sessions made from now on carry the hook


class TransitionCounter:
    """StateEntered events of every program moto runs, Distributed Map children included: moto runs those
    children with an event manager of their own that no GetExecutionHistory shows (in AWS each is a child
    execution, and its transitions are billed)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entered = 0
        self.on = False

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

        original = EventManager.add_event
        counter = self

        def add_event(manager: Any, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
            if counter.on and str(getattr(event_type, "value", event_type)).endswith("StateEntered"):
                with counter.lock:
                    counter.entered += 1
            return int(original(manager, context, event_type, *args, **kwargs))

        EventManager.add_event = add_event  # type: ignore[method-assign]


def transitions(sfn: Any, execution_arn: str) -> int:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return sum(1 for page in pages for event in page["events"] if event["type"].endswith("StateEntered"))


def bench_plan_run(size: int, counter: CallCounter, entered: TransitionCounter) -> None:
    from coffer.domain.clock import FixedClock
    from coffer_cli.commands.plan import read_documents
    from coffer_cli.local.sample_plans import plan_service
    from coffer_cli.local.session import local_twin

    five = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    with local_twin(ROOT, clock=FixedClock(five)) as coffer:
        dynamodb = coffer.client("dynamodb")
        for i in range(size):
            dynamodb.create_table(TableName=f"bench-{i:05d}", BillingMode="PAY_PER_REQUEST",
                                  KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                                  AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                                  Tags=[{"Key": "bench", "Value": "yes"}])
        plan_service(coffer).apply(read_documents([("bench", {
            "BackupPlan": {"BackupPlanName": "bench", "Rules": [
                {"RuleName": "daily", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 5 ? * * *)",
                 "Lifecycle": {"DeleteAfterDays": 7}}]},
            "Selections": [{"SelectionName": "bench", "Resources": ["arn:aws:dynamodb:*:*:table/*"],
                            "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/bench",
                                                             "ConditionValue": "yes"}]}}]})]))
        sfn = coffer.client("stepfunctions")
        counter.calls.clear()
        entered.entered = 0
        counter.on = entered.on = True
        started = time.monotonic()
        result = coffer.twin.run("PlanRunStateMachine", {"plan_name": "bench", "rule_name": "daily",
                                                         "scheduled_time": "2026-11-26T05:00:00Z"},
                                 timeout=3600)
        wall = time.monotonic() - started
        counter.on = entered.on = False
        counts = result["output"]["counts"]
        assert result["status"] == "SUCCEEDED" and counts["completed"] == size, result
        run_transitions = transitions(sfn, result["arn"])
        children = [e["executionArn"] for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=coffer.twin.physical_id("BackupStateMachine")) for e in page["executions"]]
        child_transitions = sum(transitions(sfn, arn) for arn in children)
        functions = Counter({op: n for (who, op), n in counter.calls.items() if who == "functions"})
        engine = Counter({op: n for (who, op), n in counter.calls.items() if who == "engine"})
        polls = engine.get("stepfunctions:DescribeExecution", 0)
        print(f"\nplan run over N={size} DynamoDB tables: {counts['selected']} selected, {counts['completed']} "
              f"completed, {len(children)} nested Backup executions, {wall:.1f} s on the twin")
        map_children = entered.entered - run_transitions - child_transitions
        total = entered.entered
        print(f"  state transitions: {total} ({total / size:.1f} per resource): PlanRun execution {run_transitions} "
              f"+ its Distributed Map children {map_children} + nested Backup executions {child_transitions}")
        print(f"  AWS calls by Coffer's functions: {sum(functions.values())} "
              f"({sum(functions.values()) / size:.1f} per resource)")
        for op, n in functions.most_common():
            print(f"    {op:45s} {n:6d}")
        print(f"  AWS calls by the Step Functions engine: {sum(engine.values()) - polls} "
              f"+ {polls} DescribeExecution polls of .sync tasks (the twin polls from 10 ms to 0.25 s)")
        for op, n in engine.most_common():
            if op != "stepfunctions:DescribeExecution":
                print(f"    {op:45s} {n:6d}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10, 100, 1000])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--selections", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5, help="matching runs; the best is printed")
    args = parser.parse_args()
    bench_matching(args.resources, args.selections, args.repeat)
    counter, entered = CallCounter(), TransitionCounter()
    counter.install()
    entered.install()
    import logging
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    for size in args.sizes:
        bench_plan_run(size, counter, entered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
