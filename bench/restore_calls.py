"""AWS calls of an S3 restore on the twin, per job and per restored object (`bench/README.md`, section Restore).

    .venv/bin/python bench/restore_calls.py [--objects 40] [--batch-size 10]

Backs up a bucket of small objects with the Backup workflow, then restores it twice through the Restore workflow -
into a new bucket (the default) and into an existing versioned bucket (NewBucket=false) - counting every S3 call the
restore's functions make (the twin's call recorder), by operation. Prints a JSON record and merges it into
bench/results.json under "restore_calls".
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from coffer_cli.local.session import local_twin
from coffer_twin.calls import CallRecorder

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"


def restore_calls(coffer: Any, recovery_point_id: str, token: str, metadata: dict[str, str]) -> Counter[str]:
    with CallRecorder() as calls:
        done = coffer.start_restore({"RecoveryPointArn": recovery_point_id, "IdempotencyToken": token,
                                     "Metadata": metadata}, timeout=300)
    assert done["status"] == "SUCCEEDED", done
    return Counter(f"{c.service}:{c.operation}" for c in calls.snapshot()
                   if c.service == "s3" and c.caller and "Restore" in c.caller)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=10)
    args = parser.parse_args()
    with local_twin(ROOT, parameters={"BatchSize": str(args.batch_size)}) as coffer:
        s3 = coffer.client("s3")
        s3.create_bucket(Bucket="bench-source")
        for n in range(args.objects):
            s3.put_object(Bucket="bench-source", Key=f"object-{n:05d}", Body=f"object {n}\n".encode() * 10)
        done = coffer.start_backup({"ResourceArn": "arn:aws:s3:::bench-source", "IdempotencyToken": "bench"},
                                   timeout=300)
        assert done["status"] == "SUCCEEDED", done
        rp = coffer.deps.catalog.get_job(done["output"]["job_id"]).recovery_point_id
        s3.create_bucket(Bucket="bench-versioned")
        s3.put_bucket_versioning(Bucket="bench-versioned", VersioningConfiguration={"Status": "Enabled"})
        record: dict[str, Any] = {"objects": args.objects, "batch_size": args.batch_size}
        for name, metadata in (("new_bucket", {"DestinationBucketName": "bench-restored"}),
                               ("existing_versioned", {"DestinationBucketName": "bench-versioned",
                                                       "NewBucket": "false"})):
            counted = restore_calls(coffer, rp, f"bench-{name}", metadata)
            per_object = {op: n for op, n in counted.items() if n >= args.objects}
            record[name] = {"calls": dict(sorted(counted.items())), "total": sum(counted.values()),
                            "per_object": {op: n / args.objects for op, n in sorted(per_object.items())},
                            "per_job": {op: n for op, n in sorted(counted.items()) if op not in per_object}}
    print(json.dumps(record, indent=2))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["restore_calls"] = record  # every other key kept, as bench/scale.py merges its own
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
