"""`coffer` command groups: one module per group, each with `register(subparsers)`; cli.py lists them."""
