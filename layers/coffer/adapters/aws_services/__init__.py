"""AWS services Coffer drives besides its catalog, vault and resources: Scheduler, CloudFormation, STS."""
