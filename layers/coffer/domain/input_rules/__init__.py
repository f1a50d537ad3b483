"""One set of input rules for every way a request reaches Coffer: plan files (`coffer plan validate/apply`), events
on the bus (StartBackupJob, StartRestoreJob, StartCopyJob), the CLI and the handlers.

Two layers, both pure:

- field rules that need nothing but the value (strict numbers and booleans, tag rules, the shape and length of
  each service's ARNs and names): the request models call them while parsing (`scalars`, `tags`, `arns`), so a
  request that does not parse is refused the same way wherever it is parsed;
- rules that need the stack (`gates`): the account, region and partition Coffer runs in, the resources it owns
  (vault bucket, work bucket, catalog table), and the type of the resource or recovery point a request is about
  (lifecycle options, restore metadata). Each service's start method calls its gate first, before any write.

Every message names the field's path, the value (shortened, on one line: `text.shown`), the rule and what to do.
"""
