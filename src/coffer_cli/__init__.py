"""The `coffer` command and its local commands (demo, sample events, ticks). Not part of the Lambda layer."""
