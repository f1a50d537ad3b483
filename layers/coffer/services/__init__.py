"""Use cases: what handlers and the CLI call. They depend on ports (coffer.ports) and the domain only; every adapter
is built in the composition root, entrypoints/bootstrap.py, and handed to them in their constructors."""
