"""In-memory fakes of Coffer's ports (coffer.ports), for service tests that need no AWS and run in milliseconds.

Each fake keeps the rules its adapter keeps - conditional writes, versions, a lock never shortened - and runs through
the same contract suite as the moto-backed adapter (tests/contract/test_*_port.py, params "moto" and "memory"), so a
fake cannot drift from the real thing. They live here, never in the layer: production code has no use for them.
"""
