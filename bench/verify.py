"""The Verify workflow's AWS calls on the twin: per object and per run, by operation, priced at list price.

    .venv/bin/python bench/verify.py                    # one S3 backup of 300 objects (BatchSize 100), then Verify
    .venv/bin/python bench/verify.py --objects 1000

Counted at botocore's ``before-send`` (coffer_twin.calls), handlers only (not Step Functions' own ItemReader and
ResultWriter calls, nor the bench's setup). The vault holds one recovery point: its manifest, one part per
BatchSize objects, one blob per object. The template's bucket policy is stored on the bucket and the vaults'
statements applied (as after a deploy and `coffer vault apply-policies`), so the run is clean. Results are merged
into bench/results.json under ``verify``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers"))

#: list prices (us-east-1): S3 Standard GET/HEAD-class and LIST-class requests, KMS requests; CloudFormation's
#: read APIs are free; DynamoDB on-demand reads per read request unit
PRICE = {"get": 0.0004 / 1000, "list": 0.005 / 1000, "kms": 0.03 / 10000, "cloudformation": 0.0,
         "dynamodb": 0.125 / 1_000_000}
LIST_OPERATIONS = {"ListObjectsV2", "ListObjectVersions", "ListObjects"}


def price_class(service: str, operation: str) -> str:
    if service == "s3":
        return "list" if operation in LIST_OPERATIONS else "get"
    return service if service in PRICE else "other"


def measure(objects: int) -> dict[str, Any]:
    from coffer_cli.cli import main as coffer
    from coffer_cli.local.session import local_twin
    from coffer_twin.calls import DRIVER, ENGINE, CallRecorder

    with local_twin(ROOT, parameters={"BatchSize": "100"}) as twin_coffer, \
            twin_coffer.twin.bucket_policies_stored():
        s3 = twin_coffer.client("s3")
        s3.create_bucket(Bucket="verify-bench")
        for n in range(objects):
            s3.put_object(Bucket="verify-bench", Key=f"objects/{n:06d}", Body=f"object {n}".encode())
        done = twin_coffer.start_backup({"ResourceArn": "arn:aws:s3:::verify-bench", "IdempotencyToken": "bench"})
        assert done["status"] == "SUCCEEDED", done
        assert coffer(["vault", "apply-policies", "--stack", twin_coffer.twin.stack_name]) == 0
        with CallRecorder() as calls:
            arn = twin_coffer.twin.start_execution("VerifyStateMachine", {"vaults": [], "deep": False})
            run = twin_coffer.twin.wait(arn, timeout=600)
        assert run["status"] == "SUCCEEDED", run
        handled = Counter((c.service, c.operation) for c in calls.snapshot() if c.caller not in (ENGINE, DRIVER))
    by_class: Counter[str] = Counter()
    dollars = 0.0
    for (service, operation), count in handled.items():
        kind = price_class(service, operation)
        by_class[kind] += count
        dollars += count * PRICE.get(kind, 0.0)
    return {"objects": objects, "date": datetime.date.today().isoformat(),
            "calls": {f"{s}:{o}": n for (s, o), n in sorted(handled.items())},
            "by_price_class": dict(by_class), "dollars_per_run": round(dollars, 8),
            "dollars_per_million_objects": round(dollars / objects * 1_000_000, 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=300)
    args = parser.parse_args()
    result = measure(args.objects)
    for name, count in result["calls"].items():
        print(f"{name:48} {count:6}  {count / args.objects:8.3f} per object")
    print(f"by price class: {result['by_price_class']}")
    print(f"${result['dollars_per_run']:.6f} per run, ${result['dollars_per_million_objects']:.2f} per million objects")
    out = ROOT / "bench" / "results.json"  # merged as bench/scale.py merges: the other keys kept as they are
    results = json.loads(out.read_text()) if out.exists() else {}
    results["verify"] = result
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
