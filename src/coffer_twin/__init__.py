"""The embedded twin: Coffer's SAM ``template.yaml`` deployed into an in-process moto, run for real.

Usage::

    from coffer_twin import Twin

    with Twin.deploy(project_root, parameters={"PollSeconds": "1"}) as twin:
        arns = twin.put_event("coffer", "StartBackupJob", {...})  # EventBridge rule -> state machine
        result = twin.wait(arns[0])                                 # {"arn", "status", "output", "error", "cause"}
        twin.invocations["CopyBatchFunction"], twin.history(result["arn"])

Nothing is set up by hand: ``Twin.deploy`` packages local paths (:mod:`.packaging`), runs the SAM transform
(:mod:`.sam_transform`), creates the stack in moto's CloudFormation (:mod:`.stack`) and applies what
moto's CloudFormation leaves out, read from the template (:mod:`.fixups`). While the twin is open,
invocations of the template's functions run the real handler files in-process (:mod:`.lambda_router`),
EventBridge rules start their Step Functions targets (:mod:`.event_delivery`), and a Distributed Map
honours its failure tolerance and writes its results as AWS does (:mod:`.distributed_map`).

Works (tests/integration/test_twin_*.py, and Coffer's backup workflow end to end):
Lambda tasks (``arn:aws:states:::lambda:invoke``, ``Payload.$``, function ARNs from DefinitionSubstitutions);
Retry/Catch on a handler's exception class name; Choice/Pass/Wait/Parallel/Map; Distributed Map with an
``s3:listObjectsV2`` ItemReader, ItemSelector, tolerated failures and ResultWriter; EventBridge
pattern matching (moto's own) with ``Input``/``InputPath``/``InputTransformer``; asynchronous Invoke (and
EventBridge -> Lambda targets, asynchronous: ``Twin.wait_for_async()``); S3 -> EventBridge notifications as S3
sends them (:mod:`.s3_events`: moto's own repeat one id and sequencer, miss delete markers, use the wall clock);
Object Lock default retention and its refusal to delete a locked version; Number/String parameters,
conditions and ``!If``/``AWS::NoValue`` in the template. Nested workflows
(``arn:aws:states:::states:startExecution``, ``.sync``, ``.sync:2``) with AWS's request and response
shapes (:mod:`.nested_executions`); TransactWriteItems at a cost proportional to its items
(:mod:`.dynamodb_transactions`). Scheduler schedules are fired by ``coffer_cli.local.ticks``.
DynamoDB calls serialised, so a transaction is atomic under concurrency as in DynamoDB
(:mod:`.dynamodb_atomic`); a failed ItemReader/ResultWriter S3 call named ``States.ItemReaderFailed`` /
``States.ResultWriterFailed`` as in AWS (:mod:`.distributed_map`); each ASL parsed once per twin
(:mod:`.asl_cache`). UploadPartCopy part checksums, composite checksums and multipart Object Lock as S3 answers
(:mod:`.s3_multipart`); archived objects' tags readable as in S3 (:mod:`.s3_archive`); bucket lifecycle
transitions applied when asked, ``Twin.run_s3_lifecycle`` (:mod:`.s3_lifecycle`; ``coffer local tick`` runs it
once a simulated day).

Fault injection and call accounting (:mod:`.faults`, :mod:`.calls`): every attempt of every AWS call made
while the twin is open passes one seam (moto's botocore ``before-send`` stubber), attributed to the function
whose handler runs in that thread (``lambda_router.running_function``), to Step Functions itself, or to the
test. ``FaultInjector`` makes chosen calls fail — throttling, 5xx, access denied in the service's own
protocol, a connection error before the call, a read timeout after it took effect — once, N times or for
good; ``CallRecorder`` counts them for bench.

Does not, or differs from AWS:
- Nothing runs by time: EventBridge schedules and Scheduler schedules never fire (fire them from the test,
  or with ``coffer_cli.local.ticks.TwinScheduler``);
  ``Wait`` states and Retry intervals sleep ``wait_scale`` of their seconds (:mod:`.waits`; 1.0 by default,
  ``coffer local`` and the tests compress them: nothing on the twin takes time to finish).
- IAM is evaluated only when asked (``Twin.deploy(..., enforce_iam=True)``, :mod:`.iam`: every call of a function
  role or a role session judged by iam-simulate against the real role, bucket, key, event bus and trust policies;
  Step Functions' own calls and the harness's are not); otherwise roles and policies exist but allow everything and
  bucket policies are resolved but not put (moto evaluates their conditions wrongly, see :mod:`.fixups`). Bucket
  lifecycle rules run only when asked (transitions only); OwnershipControls and notifications are not applied.
- Lambda: timeouts, memory, concurrency and payload limits are not enforced (``twin.stats`` records the
  largest request/response per function for bench to compare with Lambda's 6 MB and Step Functions'
  256 KiB); functions without a local ``CodeUri`` directory get moto's echo.
- moto's ASL parser: no ``ItemBatcher``; an integer ``ToleratedFailurePercentage`` is rewritten to a
  float for it; a Distributed Map without ``MaxConcurrency`` runs one thread per item; ItemReader listings
  carry datetimes DescribeExecution cannot serialise (select the fields you need with ``ItemSelector``).
- Distributed Map children are not executions in moto (no ListExecutions, no history of their own); a
  ``.sync`` task polls its child every 10 ms on the twin (AWS follows it by events).
- moto quirks seen: ``Ref`` to a ``AWS::Lambda::LayerVersion`` resolves to an object's repr (in Outputs);
  S3 Object Lock lets COMPLIANCE retention be shortened (S3 refuses).
- One twin per process at a time (moto's state and the patches are process-wide). ``os.environ`` holds a
  function's environment only while its invocations run (:mod:`.environment`). Handler files are imported
  once per twin under a private module name; layer packages (``coffer``) and modules a handler imports by
  bare name are imported once per process and shared by every twin and by the test code.
"""

from .stack import TwinDeployError
from .twin import ExecutionResult, Twin, TwinInvokeError

__all__ = ["ExecutionResult", "Twin", "TwinDeployError", "TwinInvokeError"]
