"""The ports: what the services need of the world, one protocol per module, in Coffer's own types.

Adapters (coffer.adapters) implement them with AWS; the composition root (entrypoints/bootstrap.py) builds one of
each and hands it to the services; tests hand in-memory fakes (tests/fakes) run through the same contract suite.

| port                                   | implemented by                                         |
|----------------------------------------|--------------------------------------------------------|
| catalog.Catalog                        | adapters/catalog/dynamodb.py DynamoCatalog             |
| plans.PlanStore                        | adapters/catalog/plans.py PlanCatalog                  |
| vault_records.VaultRecords             | adapters/catalog/vaults.py VaultCatalog                |
| sweeps.SweepStore                      | adapters/catalog/sweeps.py SweepRecords                |
| continuous_records.ContinuousStore     | adapters/catalog/continuous.py ContinuousCatalog       |
| restore_leases.RestoreLeaseStore       | adapters/catalog/restore_leases.py RestoreLeases       |
| quotas.SlotQuotas                      | adapters/catalog/copy_quota.py CopyQuotas              |
| turns.Turns                            | adapters/catalog/turns.py TurnQueue                    |
| listing_marks.ListingMarkStore         | adapters/catalog/listing_marks.py ListingMarks         |
| vault.VaultStore                       | adapters/vault/s3_vault.py S3Vault                     |
| vault_versions.VaultVersionStore       | adapters/vault/versions.py VaultVersions               |
| multipart.MultipartCopies              | adapters/vault/multipart.py MultipartCopier            |
| vault_keys.VaultKeyStore               | adapters/vault/admin.py VaultKeys                      |
| bucket_policy.BucketPolicyStore        | adapters/vault/admin.py VaultBucketPolicy              |
| work_area.WorkArea                     | adapters/vault/work_area.py S3WorkArea                 |
| key_grants.KeyGrants                   | adapters/aws_services/kms_grants.py KmsKeyGrants       |
| workflows.Workflows                    | adapters/aws_services/step_functions.py                |
| schedules.Schedules                    | adapters/aws_services/schedules.py PlanSchedules       |
| destinations.Destinations              | adapters/aws_services/copy_destinations.py             |
| resources.ResourceAdapter              | adapters/resources/{s3,dynamodb,ebs,ec2,rds,aurora}.py |
| resource_registry.ResourceAdapters     | adapters/resources/__init__.py ResourceRegistry        |
| source_buckets.SourceBuckets           | adapters/resources/s3.py S3Adapter                     |
| inventories.Inventories                | adapters/resources/s3_inventory.py S3Inventory         |
| table_exports.TableExports             | adapters/resources/dynamodb.py DynamoDBAdapter         |
| continuous.ContinuousAdapter           | adapters/resources/continuous.py                       |
| continuous_registry.ContinuousAdapters | adapters/resources/continuous.py ContinuousRegistry    |
| directory.ResourceDirectory            | adapters/resources/directory.py AwsResourceDirectory   |

Errors are Coffer's (domain/errors.py, and DuplicateRequest here): an adapter turns the AWS codes it knows into them
in one place; what a retry may cure reaches the function's runtime as it came (adapters/aws.py `transient`).
"""
