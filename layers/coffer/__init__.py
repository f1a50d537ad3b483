"""Coffer: a backup control plane for AWS accounts (AWS Backup's concepts, deployed with SAM)."""

__version__ = "0.1.0"
