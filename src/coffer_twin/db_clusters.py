"""DocumentDB and Neptune clusters on the twin: what moto 5.2.5's RDS backend lacks for them.

AWS serves DocumentDB's and Neptune's management APIs from RDS (their clients sign as `rds`; their clusters
answer DescribeDBClusters with Engine `docdb` / `neptune`), so Coffer protects them with RDS calls. moto:

- has no DocumentDB: no `docdb` service, and its RDS backend refuses a DB cluster whose engine is `docdb` (its
  ClusterEngine enum lists aurora-mysql, aurora-postgresql, neptune, mysql and postgres). The twin adds `docdb`
  to the engines it accepts, with DocumentDB's defaults (engine version 5.0.0, port 27017); every cluster and
  cluster snapshot call then runs through moto's ordinary RDS code. DocumentDB DB instances are not taught
  (`create_db_instance(Engine="docdb")` is still refused): the twin's sample DocumentDB cluster has no members.
  Coffer records members but never needs them (a restored cluster has none, as after AWS Backup's restore).
- replaces an existing DB cluster silently when a new one takes its identifier (CreateDBCluster,
  RestoreDBClusterFromSnapshot, RestoreDBClusterToPointInTime: moto 5.2.5 has no DBClusterAlreadyExistsFault);
  a restore named after someone's cluster would overwrite it. The twin refuses it as AWS does, with
  DBClusterAlreadyExistsFault.
- crashes restoring a Neptune cluster snapshot: RestoreDBClusterFromSnapshot copies the source cluster's
  settings with `DBCluster.get_cfg`, which reads a master password a Neptune cluster never has (KeyError, an
  HTTP 500). The twin reads it as absent, as AWS has none for Neptune.

docs/twin.md lists these differences.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

__all__ = ["DOCDB", "db_cluster_family"]

DOCDB = "docdb"
DOCDB_VERSION = "5.0.0"
DOCDB_PORT = 27017


@contextmanager
def db_cluster_family() -> Iterator[None]:
    """While open, moto's RDS backend keeps DB clusters of engine `docdb`, refuses a second cluster of one
    identifier, and restores Neptune snapshots."""
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import DBCluster, RDSBackend
    from moto.rds.utils import ClusterEngine

    engines = ClusterEngine.list_cluster_engines
    version, port, storage = (DBCluster.default_engine_version, DBCluster.default_port,
                              DBCluster.default_allocated_storage)
    get_cfg = DBCluster.get_cfg
    create = RDSBackend.create_db_cluster

    def create_db_cluster(backend: Any, kwargs: dict[str, Any]) -> Any:
        if kwargs["db_cluster_identifier"] in backend.clusters:
            raise RDSClientError("DBClusterAlreadyExistsFault", "DB cluster already exists")
        return create(backend, kwargs)

    def list_cluster_engines(cls: Any) -> list[str]:
        return sorted({*engines(), DOCDB})

    def default_engine_version(engine: str) -> str:
        return DOCDB_VERSION if engine == DOCDB else version(engine)

    def default_port(engine: str) -> int:
        return DOCDB_PORT if engine == DOCDB else port(engine)

    def default_allocated_storage(engine: str, storage_type: str) -> int:
        return 1 if engine == DOCDB else storage(engine, storage_type)  # cluster storage grows itself, as Aurora's

    def cluster_cfg(cluster: Any) -> dict[str, Any]:
        if "_master_user_password" not in cluster.__dict__:  # Neptune: no master user at all
            cluster._master_user_password = None
            try:
                return get_cfg(cluster)
            finally:
                del cluster._master_user_password
        return get_cfg(cluster)

    with mock.patch.object(ClusterEngine, "list_cluster_engines", classmethod(list_cluster_engines)), \
            mock.patch.object(DBCluster, "default_engine_version", staticmethod(default_engine_version)), \
            mock.patch.object(DBCluster, "default_port", staticmethod(default_port)), \
            mock.patch.object(DBCluster, "default_allocated_storage", staticmethod(default_allocated_storage)), \
            mock.patch.object(DBCluster, "get_cfg", cluster_cfg), \
            mock.patch.object(RDSBackend, "create_db_cluster", create_db_cluster):
        yield
