"""Plans, plan runs and window claims in the catalog's single table (beside dynamodb.py's jobs and
recovery points). Every access pattern is a GetItem, a Query or a conditional write; nothing scans.

| access pattern                            | key                                                   | call          |
|-------------------------------------------|-------------------------------------------------------|---------------|
| plan by name (document, version)          | pk=PLAN#<name>, sk=PLAN                               | GetItem       |
| plans, by name                            | gsi1pk=PLANS, gsi1sk=<name>                           | Query gsi1    |
| plan run by id                            | pk=PLANRUN#<run id>, sk=RUN                           | GetItem       |
| runs of a plan, newest first              | gsi1pk=PLANRUNS#<plan>, gsi1sk=<scheduled>#<rule>     | Query gsi1    |
| a run's selection and page records        | pk=PLANRUN#<run id>, sk begins_with SELECT# / PAGE#   | Query         |
| who backs up a resource in a window slot  | pk=WINDOW#<resource arn>, sk=SLOT#<yyyy-mm-ddThh>     | GetItem / Put |
| a rule's resource: first selected, newest completed | pk=FRESH#<plan>#<rule>, sk=<resource arn>   | UpdateItem    |
| when a rule last fired                    | pk=FRESH#<plan>#<rule>, sk=#RULE                      | Update / GetItem |
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from coffer.adapters.catalog.conditions import condition_held
from coffer.domain.errors import ConcurrentUpdate, NotFound
from coffer.domain.plan_runs import PlanRun, WindowClaim
from coffer.domain.plans import PlanDocument
from coffer.ports.plans import StoredPlan

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: window claims outlive their slot long enough for any run of it to finish, then expire (table TTL)
CLAIM_TTL = timedelta(days=14)
#: a rule's record of a resource it selects outlives the longest schedule (yearly) once no run selects it any more
FRESHNESS_TTL = timedelta(days=400)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class PlanCatalog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    # ---- plans ----------------------------------------------------------------------------------
    def get_plan(self, name: str) -> StoredPlan | None:
        item = self._get(f"PLAN#{name}", "PLAN")
        if item is None:
            return None
        return StoredPlan(plan=PlanDocument.model_validate(json.loads(item["doc"]["S"])),
                          version=int(item["version"]["N"]), applied_at=datetime.fromisoformat(item["applied_at"]["S"]))

    def put_plan(self, plan: PlanDocument, expected_version: int | None, applied_at: datetime) -> int:
        """Write the plan's next version. `expected_version` None: the plan must not exist yet."""
        version = (expected_version or 0) + 1
        put: dict[str, Any] = {"TableName": self._table, "Item": {
            "pk": _s(f"PLAN#{plan.name}"), "sk": _s("PLAN"), "gsi1pk": _s("PLANS"), "gsi1sk": _s(plan.name),
            "plan_id": _s(plan.plan_id), "version": _n(version), "applied_at": _s(applied_at.isoformat()),
            "doc": _s(json.dumps(plan.to_document(), sort_keys=True))}}
        # Rule: a plan changes only from the version its writer read (two applies never interleave);
        # a plan created by one apply is not silently overwritten by another that thought it new.
        if expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": _n(expected_version)}
        self._conditional(self._db.put_item, put, f"plan {plan.name} changed since it was read")
        return version

    def delete_plan(self, name: str, expected_version: int) -> None:
        # Rule: delete only the version that was read and shown to the user.
        self._conditional(self._db.delete_item, {
            "TableName": self._table, "Key": {"pk": _s(f"PLAN#{name}"), "sk": _s("PLAN")},
            "ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": _n(expected_version)}},
            f"plan {name} changed since it was read")

    def list_plans(self) -> Iterator[StoredPlan]:
        for item in self._query_index("gsi1", "PLANS", ascending=True):
            yield StoredPlan(plan=PlanDocument.model_validate(json.loads(item["doc"]["S"])),
                             version=int(item["version"]["N"]),
                             applied_at=datetime.fromisoformat(item["applied_at"]["S"]))

    # ---- plan runs ------------------------------------------------------------------------------
    def _run_item(self, run: PlanRun) -> dict[str, Any]:
        return {
            "pk": _s(f"PLANRUN#{run.run_id}"), "sk": _s("RUN"),
            "gsi1pk": _s(f"PLANRUNS#{run.plan_name}"),
            "gsi1sk": _s(f"{run.scheduled_time.isoformat()}#{run.rule_name}"),
            "state": _s(run.state.value), "version": _n(run.version), "doc": _s(run.model_dump_json())}

    def create_run(self, run: PlanRun) -> PlanRun | None:
        """Write a new run; None if the run exists already (a schedule delivered twice): the caller reads it."""
        # Rule: one run per rule and scheduled time.
        if not condition_held(lambda: self._db.put_item(TableName=self._table, Item=self._run_item(run),
                                                        ConditionExpression="attribute_not_exists(pk)")):
            return None
        return run

    def get_run(self, run_id: str) -> PlanRun:
        item = self._get(f"PLANRUN#{run_id}", "RUN")
        if item is None:
            raise NotFound(f"plan run {run_id} not found")
        return PlanRun.model_validate_json(item["doc"]["S"])

    def save_run(self, run: PlanRun) -> PlanRun:
        saved = run.model_copy(update={"version": run.version + 1})
        # Rule: optimistic locking, as for jobs.
        self._conditional(self._db.put_item, {
            "TableName": self._table, "Item": self._run_item(saved), "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": _n(run.version)}}, f"plan run {run.run_id} changed")
        return saved

    def list_runs(self, plan_name: str, limit: int = 20) -> list[PlanRun]:
        runs = []
        for item in self._query_index("gsi1", f"PLANRUNS#{plan_name}", ascending=False):
            runs.append(PlanRun.model_validate_json(item["doc"]["S"]))
            if len(runs) >= limit:
                break
        return runs

    def put_run_record(self, run_id: str, kind: str, seq: int, doc: dict[str, Any]) -> None:
        """A step's record (SELECT / PAGE). A retried step overwrites its own record with the same facts."""
        self._db.put_item(TableName=self._table, Item={
            "pk": _s(f"PLANRUN#{run_id}"), "sk": _s(f"{kind}#{seq:08d}"), "doc": _s(json.dumps(doc))})

    def get_run_record(self, run_id: str, kind: str, seq: int) -> dict[str, Any] | None:
        item = self._get(f"PLANRUN#{run_id}", f"{kind}#{seq:08d}")
        return None if item is None else dict(json.loads(item["doc"]["S"]))

    def list_run_records(self, run_id: str, kind: str) -> Iterator[tuple[int, dict[str, Any]]]:
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table, KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues={":p": _s(f"PLANRUN#{run_id}"), ":s": _s(f"{kind}#")}, ConsistentRead=True,
        ):
            for item in page["Items"]:
                yield int(item["sk"]["S"].split("#", 1)[1]), json.loads(item["doc"]["S"])

    # ---- window claims --------------------------------------------------------------------------
    def claim_window(self, claim: WindowClaim, slot_start: datetime) -> WindowClaim:
        """Claim (resource, slot) for `claim.job_id`; return the claim that holds: ours, or the one before us."""
        key = {"pk": _s(f"WINDOW#{claim.resource_arn}"), "sk": _s(f"SLOT#{claim.slot}")}
        # Rule: one backup per resource and window slot; the first run to ask takes it.
        if condition_held(lambda: self._db.put_item(TableName=self._table, Item={
                **key, "job_id": _s(claim.job_id), "doc": _s(claim.model_dump_json()),
                "ttl": _n(int((slot_start + CLAIM_TTL).timestamp()))}, ConditionExpression="attribute_not_exists(pk)")):
            return claim
        item = self._get(key["pk"]["S"], key["sk"]["S"])
        if item is None:  # expired between the two calls: cannot happen within the TTL
            raise ConcurrentUpdate(f"window claim of {claim.resource_arn} in {claim.slot} vanished")
        return WindowClaim.model_validate_json(item["doc"]["S"])

    # ---- freshness: what a missed schedule is measured against -------------------------------------
    def note_selected(self, plan_name: str, rule_name: str, resource_arn: str, selected_at: datetime,
                      completed_at: datetime | None) -> tuple[datetime, datetime | None]:
        """One UpdateItem: the first selection is kept (if_not_exists), the newest completion only moves forward
        (a retried settle or a late page cannot take it back). (first selected, newest completed)."""
        key = {"pk": _s(f"FRESH#{plan_name}#{rule_name}"), "sk": _s(resource_arn)}
        selected_at = selected_at.astimezone(UTC)  # one offset: the ISO strings compare as the times they name
        completed_at = completed_at.astimezone(UTC) if completed_at is not None else None
        values: dict[str, Any] = {":sel": _s(selected_at.isoformat()),
                                  ":ttl": _n(int((selected_at + FRESHNESS_TTL).timestamp()))}
        update = "SET first_selected = if_not_exists(first_selected, :sel), #ttl = :ttl"
        if completed_at is not None:
            values[":done"] = _s(completed_at.isoformat())
            # ISO 8601 UTC strings order as the times they name
            update += ", last_completed = if_not_exists(last_completed, :done)"
        answer = self._db.update_item(TableName=self._table, Key=key, UpdateExpression=update,
                                      ExpressionAttributeNames={"#ttl": "ttl"}, ExpressionAttributeValues=values,
                                      ReturnValues="ALL_NEW")
        item = answer["Attributes"]
        newest = item.get("last_completed", {}).get("S")
        if completed_at is not None and newest is not None and newest < completed_at.isoformat():
            # a newer completion than the one recorded: move it forward, only if nobody moved it further meanwhile
            condition_held(lambda: self._db.update_item(
                TableName=self._table, Key=key, UpdateExpression="SET last_completed = :done",
                ConditionExpression="last_completed < :done",
                ExpressionAttributeValues={":done": _s(completed_at.isoformat())}))
            newest = completed_at.isoformat()
        return (datetime.fromisoformat(item["first_selected"]["S"]),
                datetime.fromisoformat(newest) if newest else None)

    def note_fired(self, plan_name: str, rule_name: str, scheduled: datetime) -> None:
        key = {"pk": _s(f"FRESH#{plan_name}#{rule_name}"), "sk": _s("#RULE")}  # no resource ARN starts with '#'
        # Rule: only forward (a late second delivery of an older fire does not take it back)
        condition_held(lambda: self._db.update_item(
            TableName=self._table, Key=key, UpdateExpression="SET last_fired = :at, #ttl = :ttl",
            ConditionExpression="attribute_not_exists(last_fired) OR last_fired < :at",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":at": _s(scheduled.astimezone(UTC).isoformat()),
                                       ":ttl": _n(int((scheduled + FRESHNESS_TTL).timestamp()))}))

    def last_fired(self, plan_name: str, rule_name: str) -> datetime | None:
        item = self._get(f"FRESH#{plan_name}#{rule_name}", "#RULE")
        return datetime.fromisoformat(item["last_fired"]["S"]) if item and "last_fired" in item else None

    # ---- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _conditional(call: Callable[..., object], request: dict[str, Any], message: str) -> None:
        if not condition_held(lambda: call(**request)):
            raise ConcurrentUpdate(message)

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=self._table, Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _query_index(self, index: str, pk: str, ascending: bool) -> Iterator[dict[str, Any]]:
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table, IndexName=index, KeyConditionExpression=f"{index}pk = :p",
            ExpressionAttributeValues={":p": _s(pk)}, ScanIndexForward=ascending,
        ):
            yield from page["Items"]
