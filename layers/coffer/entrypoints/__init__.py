"""Entry points: Lambda runtime glue and the composition root (bootstrap.py), the one place where adapters are
built and handed to services."""
