"""Use cases: what handlers and the CLI call. They depend on ports and domain, wired in `wiring.py`."""
