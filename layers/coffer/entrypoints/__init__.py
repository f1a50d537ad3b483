"""Entry points: Lambda runtime glue and the CLI. The only places where adapters are wired."""
