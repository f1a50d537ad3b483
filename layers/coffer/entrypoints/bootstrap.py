"""The composition root: every adapter is built here, once, from Settings, and handed to the services that use it.

Handlers (entrypoints/lambda_runtime.py `cold_start_deps`), the CLI and the twin each make one `Root` and ask it for
the service they run: `root.backup_jobs`, `root.sweeper` ... Services see only ports (coffer.ports); nothing is
wired after construction.

Everything is made on first use, and made once (a cached property): a function's cold start builds only the
adapters and clients its own service needs, and imports only their modules - which is why the imports below sit
in the properties that need them (this module is the one place in the package that imports that way; nothing
imports it but entry points, so no import cycle can hide here). `dataclasses.replace(root, clock=...)` gives a root
wired the same way with another clock or settings (the clients are shared).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from coffer.adapters.aws import Clients
from coffer.domain.clock import Clock, SystemClock
from coffer.domain.resources import ResourceType
from coffer.settings import Settings

if TYPE_CHECKING:
    import boto3

    from coffer.ports.alert_metrics import AlertMetrics
    from coffer.ports.blob_records import BlobRecords
    from coffer.ports.catalog import Catalog
    from coffer.ports.continuous_records import ContinuousStore
    from coffer.ports.continuous_registry import ContinuousAdapters
    from coffer.ports.destinations import DestinationPorts, Destinations
    from coffer.ports.directory import ResourceDirectory
    from coffer.ports.inventories import Inventories
    from coffer.ports.job_events import JobEvents
    from coffer.ports.key_grants import KeyGrants
    from coffer.ports.listing_marks import ListingMarkStore
    from coffer.ports.multipart import MultipartCopies
    from coffer.ports.notices import Notices
    from coffer.ports.plans import PlanStore
    from coffer.ports.quotas import SlotQuotas
    from coffer.ports.resource_registry import ResourceAdapters
    from coffer.ports.resources import ResourceAdapter
    from coffer.ports.restore_leases import RestoreLeaseStore
    from coffer.ports.source_buckets import SourceBuckets
    from coffer.ports.sweeps import SweepStore
    from coffer.ports.table_exports import TableExports
    from coffer.ports.tag_marks import TagMarks
    from coffer.ports.turns import Turns
    from coffer.ports.vault import VaultStore
    from coffer.ports.vault_notifications import VaultNotificationStore
    from coffer.ports.vault_records import VaultRecords
    from coffer.ports.vault_versions import VaultVersionStore
    from coffer.ports.work_area import WorkArea
    from coffer.ports.workflows import Workflows
    from coffer.services.alerts import Alerts
    from coffer.services.audit_log import AuditLog
    from coffer.services.backup_jobs import BackupJobs
    from coffer.services.catalog_rebuild import CatalogRebuild
    from coffer.services.continuous import ContinuousBackups
    from coffer.services.copy_batches import CopyBatches
    from coffer.services.copy_jobs import CopyJobs
    from coffer.services.inventory_batches import InventoryBatches
    from coffer.services.job_control import JobControl
    from coffer.services.job_failures import JobFailures
    from coffer.services.large_objects import LargeObjects
    from coffer.services.legal_holds import LegalHolds
    from coffer.services.lock_renewal import LockRenewals
    from coffer.services.native_waits import NativeWaits
    from coffer.services.notifications import Notifier, VaultNotificationSettings
    from coffer.services.object_batches import ObjectBatches
    from coffer.services.object_restores import ObjectRestores
    from coffer.services.object_tiering import ObjectTiering
    from coffer.services.plan_runs import PlanRuns
    from coffer.services.restore_jobs import RestoreJobs
    from coffer.services.retention import RecoveryPointRetention
    from coffer.services.retention_guard import RetentionGuard
    from coffer.services.sweeper import Sweeper
    from coffer.services.tag_changes import TagChanges
    from coffer.services.vault_admin import VaultAdmin
    from coffer.services.vault_verify import VaultVerifier
    from coffer.services.vaults import Vaults


def bootstrap(settings: Settings, clock: Clock | None = None, session: boto3.Session | None = None,
              metrics_namespace: str | None = None) -> Root:
    """`metrics_namespace`: a Lambda function's root (entrypoints/lambda_runtime.py) counts every job state change it
    writes as EMF metrics there; the CLI's and the twin driver's roots print none."""
    return Root(settings, clock or SystemClock(), Clients(settings.region, session), metrics_namespace)


@dataclass(frozen=True)
class Root:
    settings: Settings
    clock: Clock
    #: boto3 clients, each made once, when a call is first made (adapters hold stand-ins until then; boto3 itself
    #: is imported with the first client): a cold start pays for no client, an invocation for the ones it calls
    clients: Clients
    #: where job metrics go (EMF, in the function's log); None: not counted (not a Lambda function)
    metrics_namespace: str | None = None

    @property
    def client_for(self) -> Clients:
        return self.clients

    @property
    def session(self) -> boto3.Session:
        return self.clients.session

    # ---- the catalog ----------------------------------------------------------------------------------------
    @cached_property
    def catalog(self) -> Catalog:
        from coffer.adapters.catalog.dynamodb import DynamoCatalog

        # A backup job that ends wakes the jobs queued behind it (its resource's lease, its volumes' snapshot slots);
        # every state change written is announced as a job event.
        return DynamoCatalog(self.clients.lazy("dynamodb"), self.settings.catalog_table, turns=self.turns,
                             events=self.job_events)

    @cached_property
    def job_events(self) -> JobEvents | None:
        """Every state change the catalog writes: put on the settings' bus (none: not announced) and, in a Lambda
        function, counted as metrics. None when neither applies."""
        announced: JobEvents | None = None
        if self.settings.job_events_bus is not None:
            from coffer.adapters.aws_services.job_events import EventBridgeJobEvents

            announced = EventBridgeJobEvents(self.clients.lazy("events"), self.settings.job_events_bus,
                                             self.settings.home)
        if self.metrics_namespace is None:
            return announced
        from coffer.adapters.aws_services.job_metrics import AnnouncedAndCounted, EmfJobMetrics

        return AnnouncedAndCounted(EmfJobMetrics(self.metrics_namespace), announced)

    @cached_property
    def turns(self) -> Turns:
        from coffer.adapters.catalog.turns import TurnQueue

        return TurnQueue(self.clients.lazy("dynamodb"), self.settings.catalog_table, self.workflows)

    @cached_property
    def quotas(self) -> SlotQuotas:
        from coffer.adapters.catalog.copy_quota import CopyQuotas

        return CopyQuotas(self.clients.lazy("dynamodb"), self.settings.catalog_table)

    @cached_property
    def restore_leases(self) -> RestoreLeaseStore:
        from coffer.adapters.catalog.restore_leases import RestoreLeases

        return RestoreLeases(self.clients.lazy("dynamodb"), self.settings.catalog_table)

    @cached_property
    def vault_records(self) -> VaultRecords:
        from coffer.adapters.catalog.vaults import VaultCatalog

        return VaultCatalog(self.clients.lazy("dynamodb"), self.settings.catalog_table)

    @cached_property
    def plans(self) -> PlanStore:
        from coffer.adapters.catalog.plans import PlanCatalog

        return PlanCatalog(self.clients.lazy("dynamodb"), self.settings.catalog_table)

    @cached_property
    def sweeps(self) -> SweepStore:
        from coffer.adapters.catalog.sweeps import SweepRecords

        return SweepRecords(self.clients.lazy("dynamodb"), self.settings.catalog_table)

    @cached_property
    def continuous_records(self) -> ContinuousStore:
        from coffer.adapters.catalog.continuous import ContinuousCatalog

        return ContinuousCatalog(self.clients.lazy("dynamodb"), self.settings.catalog_table)

    @cached_property
    def vault_notifications(self) -> VaultNotificationStore:
        from coffer.adapters.catalog.vault_notifications import VaultNotificationRecords

        return VaultNotificationRecords(self.clients.lazy("dynamodb"), self.settings.catalog_table)

    @cached_property
    def listing_marks(self) -> ListingMarkStore:
        from coffer.adapters.catalog.listing_marks import ListingMarks

        return ListingMarks(self.clients.lazy("dynamodb"), self.settings.catalog_table)

    @cached_property
    def tag_marks(self) -> TagMarks:
        from datetime import timedelta

        from coffer.adapters.catalog.tag_marks import DynamoTagMarks

        # a mark older than the refresh period is useless (the rolling refresh read the key since): a day's margin
        return DynamoTagMarks(self.clients.lazy("dynamodb"), self.settings.catalog_table,
                              timedelta(days=self.settings.tag_refresh_days + 1))

    @cached_property
    def blob_records(self) -> BlobRecords:
        from coffer.adapters.catalog.blob_records import DynamoBlobRecords

        return DynamoBlobRecords(self.clients.lazy("dynamodb"), self.settings.catalog_table)

    @cached_property
    def tag_changes(self) -> TagChanges:
        from coffer.services.tag_changes import TagChanges

        return TagChanges(self.tag_marks, self.clock)

    # ---- the vault and the work bucket ----------------------------------------------------------------------
    @cached_property
    def vault(self) -> VaultStore:
        from coffer.adapters.vault.s3_vault import S3Vault

        return S3Vault(self.clients.lazy("s3"), self.settings.vault_bucket, self.settings.vault_lock_mode, self.clock)

    @cached_property
    def versions(self) -> VaultVersionStore:
        from coffer.adapters.vault.versions import VaultVersions

        return VaultVersions(self.clients.lazy("s3"), self.settings.vault_bucket)

    @cached_property
    def multipart(self) -> MultipartCopies:
        from coffer.adapters.vault.multipart import MultipartCopier

        return MultipartCopier(self.clients.lazy("s3"))

    @cached_property
    def work(self) -> WorkArea:
        from coffer.adapters.vault.work_area import S3WorkArea

        return S3WorkArea(self.clients.lazy("s3"), self.settings.work_bucket)

    # ---- resources --------------------------------------------------------------------------------------------
    @cached_property
    def resources(self) -> ResourceAdapters:
        from coffer.adapters.resources import ResourceRegistry

        return ResourceRegistry(self.clients.lazy)

    def adapter(self, resource_type: ResourceType) -> ResourceAdapter:
        return self.resources.adapter(resource_type)

    @cached_property
    def s3(self) -> SourceBuckets:
        """The buckets Coffer backs up and restores into, object by object."""
        from coffer.adapters.resources.s3 import S3Adapter

        return S3Adapter(self.clients.lazy("s3"))

    @cached_property
    def continuous_adapters(self) -> ContinuousAdapters:
        from coffer.adapters.resources.continuous import ContinuousRegistry

        return ContinuousRegistry(self.clients.lazy)

    @cached_property
    def inventories(self) -> Inventories:
        from coffer.adapters.resources.s3_inventory import S3Inventory

        return S3Inventory(self.clients.lazy("s3"))

    @cached_property
    def exports(self) -> TableExports:
        from coffer.adapters.resources.dynamodb import DynamoDBAdapter

        return DynamoDBAdapter(self.clients.lazy("dynamodb"))

    @cached_property
    def directory(self) -> ResourceDirectory:
        from coffer.adapters.resources.directory import AwsResourceDirectory

        return AwsResourceDirectory(self.clients.lazy("resourcegroupstaggingapi"), self.clients.lazy("s3"),
                                    self.clients.lazy("dynamodb"), self.resources, self.settings.region)

    # ---- other AWS services -----------------------------------------------------------------------------------
    @cached_property
    def workflows(self) -> Workflows:
        from coffer.adapters.aws_services.step_functions import StepFunctionsWorkflows

        return StepFunctionsWorkflows(self.clients.lazy("stepfunctions"))

    @cached_property
    def notices(self) -> Notices:
        from coffer.adapters.aws_services.sns_notices import SnsNotices

        return SnsNotices(self.clients.lazy("sns"))

    @cached_property
    def key_grants(self) -> KeyGrants:
        from coffer.adapters.aws_services.kms_grants import KmsKeyGrants

        return KmsKeyGrants(self.clients.lazy("kms"))

    @cached_property
    def destinations(self) -> Destinations:
        from coffer.adapters.aws_services.copy_destinations import DestinationResolver

        return DestinationResolver(self.clients.lazy("sts"), self.settings, self._destination_ports)

    def _destination_ports(self, settings: Settings, clients: Clients) -> DestinationPorts:
        """A copy's destination stack, reached with its copy role's clients: built like this account's."""
        from coffer.adapters.catalog.dynamodb import DynamoCatalog
        from coffer.adapters.catalog.vaults import VaultCatalog
        from coffer.adapters.resources import ResourceRegistry
        from coffer.adapters.vault.multipart import MultipartCopier
        from coffer.adapters.vault.s3_vault import S3Vault
        from coffer.ports.destinations import DestinationPorts

        return DestinationPorts(
            catalog=DynamoCatalog(clients.lazy("dynamodb"), settings.catalog_table),
            vault_records=VaultCatalog(clients.lazy("dynamodb"), settings.catalog_table),
            vault=S3Vault(clients.lazy("s3"), settings.vault_bucket, settings.vault_lock_mode, self.clock),
            multipart=MultipartCopier(clients.lazy("s3")), resources=ResourceRegistry(clients.lazy))

    # ---- services ---------------------------------------------------------------------------------------------
    @cached_property
    def vaults(self) -> Vaults:
        from coffer.services.vaults import Vaults

        return Vaults(self.vault_records, self.settings, self.clock)

    @cached_property
    def guard(self) -> RetentionGuard:
        from coffer.services.retention_guard import RetentionGuard

        return RetentionGuard(self.vault_records, self.vaults)

    @cached_property
    def large_objects(self) -> LargeObjects:
        from coffer.services.large_objects import LargeObjects

        return LargeObjects(self.catalog, self.vault, self.work, self.multipart, self.vaults, self.settings)

    @cached_property
    def continuous(self) -> ContinuousBackups:
        from coffer.services.continuous import ContinuousBackups

        return ContinuousBackups(self.catalog, self.continuous_records, self.continuous_adapters, self.s3, self.vault,
                                 self.work, self.vaults, self.large_objects, self.settings, self.clock)

    @cached_property
    def inventory_batches(self) -> InventoryBatches:
        from coffer.services.inventory_batches import InventoryBatches

        return InventoryBatches(self.catalog, self.inventories, self.listing_marks, self.work, self.settings,
                                self.clock)

    @cached_property
    def object_batches(self) -> ObjectBatches:
        from coffer.services.object_batches import ObjectBatches

        return ObjectBatches(self.catalog, self.vault, self.work, self.s3, self.inventory_batches, self.large_objects,
                             self.vaults, self.settings, self.clock, self.tag_marks, self.blob_records)

    @cached_property
    def object_restores(self) -> ObjectRestores:
        from coffer.services.object_restores import ObjectRestores

        return ObjectRestores(self.catalog, self.vault, self.s3, self.continuous, self.large_objects, self.settings)

    @cached_property
    def backup_jobs(self) -> BackupJobs:
        from coffer.services.backup_jobs import BackupJobs

        return BackupJobs(self.catalog, self.vault, self.work, self.resources, self.quotas, self.turns,
                          self.continuous, self.vaults, self.settings, self.clock, self.audit_log("coffer:backup"))

    @cached_property
    def native_waits(self) -> NativeWaits:
        from coffer.adapters.catalog.native_waiters import DynamoNativeWaiters
        from coffer.services.native_waits import NativeWaits

        return NativeWaits(DynamoNativeWaiters(self.clients.lazy("dynamodb"), self.settings.catalog_table),
                           self.resources, self.workflows, self.settings, self.clock)

    @cached_property
    def restore_jobs(self) -> RestoreJobs:
        from coffer.services.restore_jobs import RestoreJobs

        return RestoreJobs(self.catalog, self.vault, self.resources, self.restore_leases, self.continuous, self.s3,
                           self.settings, self.clock)

    @cached_property
    def copy_jobs(self) -> CopyJobs:
        from coffer.services.copy_access import CopyAccess
        from coffer.services.copy_jobs import CopyJobs

        access = CopyAccess(self.catalog, self.resources, self.restore_leases, self.key_grants)
        return CopyJobs(self.catalog, self.vault, self.work, self.resources, self.restore_leases, self.quotas,
                        self.destinations, access, self.exports, self.settings, self.clock)

    @cached_property
    def copy_batches(self) -> CopyBatches:
        from coffer.services.copy_batches import CopyBatches

        return CopyBatches(self.catalog, self.vault, self.work, self.multipart, self.destinations, self.vaults,
                           self.settings, self.clock)

    @cached_property
    def job_failures(self) -> JobFailures:
        from coffer.services.job_failures import JobFailures

        # the copy service only when a copy job is ended: FailJob ends every workflow's jobs, most of them no copy
        return JobFailures(self.catalog, self.quotas, self.restore_leases, self.turns, lambda: self.copy_jobs,
                           self.settings, self.clock)

    @cached_property
    def job_control(self) -> JobControl:
        from coffer.services.job_control import JobControl

        return JobControl(self.catalog, self.workflows, self.job_failures)

    @cached_property
    def notifier(self) -> Notifier:
        from coffer.domain.errors import InvalidInput
        from coffer.services.notifications import Notifier

        if self.settings.notification_topic_arn is None:
            raise InvalidInput(["environment: NOTIFICATION_TOPIC_ARN is not set (the notifier needs the stack's "
                                "notification topic)"])
        return Notifier(self.vault_notifications, self.notices, self.settings.notification_topic_arn,
                        self.settings.stack_name or "coffer")

    @cached_property
    def alerts(self) -> Alerts:
        """Missed schedules, blocked expiries, a broken audit chain: counted (in a Lambda function) and told to the
        stack's topic (when the settings name one)."""
        from coffer.services.alerts import Alerts

        metrics: AlertMetrics | None = None
        if self.metrics_namespace is not None:
            from coffer.adapters.aws_services.alert_metrics import EmfAlertMetrics

            metrics = EmfAlertMetrics(self.metrics_namespace)
        return Alerts(self.notices, self.settings.notification_topic_arn, self.settings.stack_name or "coffer",
                      metrics)

    @cached_property
    def notification_settings(self) -> VaultNotificationSettings:
        from coffer.services.notifications import VaultNotificationSettings

        return VaultNotificationSettings(self.vault_notifications, self.vaults)

    @cached_property
    def tiering(self) -> ObjectTiering:
        from coffer.services.object_tiering import ObjectTiering

        return ObjectTiering(self.vault, self.workflows, self.settings, self.clock)

    @cached_property
    def sweeper(self) -> Sweeper:
        from coffer.services.sweeper import Sweeper

        return Sweeper(self.catalog, self.guard, self.restore_leases, self.sweeps, self.vault_records, self.versions,
                       self.work, self.resources, self.tiering, self.continuous_records, self.vaults, self.settings,
                       self.clock, renewals=self.lock_renewals, alerts=self.alerts)

    @cached_property
    def lock_renewals(self) -> LockRenewals:
        from coffer.services.lock_renewal import LockRenewals

        return LockRenewals(self.catalog, self.vault, self.versions, self.sweeps, self.work, self.clock)

    @cached_property
    def verifier(self) -> VaultVerifier:
        from coffer.adapters.aws_services.stack_template import CloudFormationStack
        from coffer.adapters.vault.inspection import KmsKeyInspection, S3VaultInspection
        from coffer.services.bucket_checks import BucketChecks
        from coffer.services.vault_verify import VaultVerifier

        inspection = S3VaultInspection(self.clients.lazy("s3"), self.settings.vault_bucket)
        stack = CloudFormationStack(self.clients.lazy("cloudformation"), self.settings.stack_name)
        rules = BucketChecks(inspection, KmsKeyInspection(self.clients.lazy("kms")), stack, self.vaults, self.vault)
        return VaultVerifier(self.catalog, self.vault, self.work, self.multipart, self.continuous_records,
                             self.vaults, self.settings, self.clock, inspection, rules, alerts=self.alerts)

    @cached_property
    def retention(self) -> RecoveryPointRetention:
        from coffer.services.retention import RecoveryPointRetention

        return RecoveryPointRetention(self.catalog, self.vault, self.vaults, self.settings)

    @cached_property
    def plan_runs(self) -> PlanRuns:
        from coffer.services.plan_runs import PlanRuns

        return PlanRuns(self.catalog, self.plans, self.directory, self.work, self.retention,
                        self.resources.supported, self.settings, self.clock, self.alerts)

    # ---- what the operator's commands run, as an actor the audit log names -------------------------------------
    def audit_log(self, actor: str) -> AuditLog:
        from coffer.services.audit_log import AuditLog

        return AuditLog(self.vault_records, self.vault, self.settings, self.clock, actor)

    def legal_holds(self, actor: str) -> LegalHolds:
        from coffer.services.legal_holds import LegalHolds

        return LegalHolds(self.vault_records, self.catalog, self.vault, self.clock, self.audit_log(actor))

    def catalog_rebuild(self, actor: str) -> CatalogRebuild:
        from coffer.services.catalog_rebuild import CatalogRebuild

        return CatalogRebuild(self.catalog, self.vault, self.vaults)

    def vault_admin(self, stack: str, bucket_arn: str | None, actor: str) -> VaultAdmin:
        """`stack` tags the keys vaults are made with; `bucket_arn` is the vault bucket's (from the stack's outputs)."""
        from coffer.adapters.vault.admin import VaultBucketPolicy, VaultKeys
        from coffer.services.vault_admin import VaultAdmin

        policy = VaultBucketPolicy(self.clients.lazy("s3"), self.settings.vault_bucket, bucket_arn)
        return VaultAdmin(self.vaults, self.catalog, self.vault, VaultKeys(self.clients.lazy("kms"), stack), policy,
                          self.audit_log(actor), self.clock, self.settings.default_retention_days)
