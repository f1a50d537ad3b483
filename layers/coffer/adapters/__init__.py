"""Adapters own the AWS SDK: boto3 clients are injected, ClientError codes become Coffer's exceptions."""
