"""Dagster's run, event-log and schedule storage: dagster-postgres, with the URL the contract promises.

``DAGSTER_PG_URL`` when set (rewritten to the psycopg2 driver that dagster-postgres's NOTIFY needs), else
the embedded server's ``dagster`` database. Resolving it here rather than with ``{env: DAGSTER_PG_URL}``
in dagster.yaml means ``dg dev``, ``dg launch``, ``dg check defs`` and ``dagster-webserver`` all work on a
fresh checkout without any variable set.
"""

from __future__ import annotations

import os

import dagster as dg
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from y3d_pipeline.settings import normalize_postgres_url


def dagster_storage_url() -> str:
    url = os.environ.get("DAGSTER_PG_URL", "").strip()
    if url:
        return normalize_postgres_url(url, variable="DAGSTER_PG_URL")
    from y3d_pipeline.db.embedded import ensure_embedded_databases

    return ensure_embedded_databases().dagster_url


class _ResolvedUrlStorage:
    @classmethod
    def config_type(cls):
        return {"should_autocreate_tables": dg.Field(bool, is_required=False, default_value=True)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(
            inst_data=inst_data,
            postgres_url=dagster_storage_url(),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
        )


class RunStorage(_ResolvedUrlStorage, PostgresRunStorage):
    pass


class EventLogStorage(_ResolvedUrlStorage, PostgresEventLogStorage):
    pass


class ScheduleStorage(_ResolvedUrlStorage, PostgresScheduleStorage):
    pass
