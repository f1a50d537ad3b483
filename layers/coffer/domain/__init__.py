"""Pure domain: models and rules. Nothing here imports boto3 or reads the clock or the environment."""
