"""The Alembic migrations and the SQLAlchemy models describe the same schema."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from y3d_pipeline.db import migrate
from y3d_pipeline.db.engine import make_engine
from y3d_pipeline.db.models import Base


def _diff(url: str):
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_models_and_migrations_agree(app_db_url):
    assert _diff(app_db_url) == []


def test_upgrade_downgrade_upgrade(database_factory):
    url = database_factory.create("y3d_migrate")
    migrate.upgrade(url)
    assert _tables(url) == set(Base.metadata.tables)
    assert migrate.current_revision(url) is not None
    migrate.downgrade(url, "base")
    assert _tables(url) == set()
    assert migrate.current_revision(url) is None
    migrate.upgrade(url)
    assert _tables(url) == set(Base.metadata.tables)
    assert _diff(url) == []


def test_constraints_reject_bad_rows(clean_db):
    with clean_db.begin() as conn:
        order_id = conn.execute(sa.text("INSERT INTO orders (shipstation_order_id) VALUES (1) RETURNING id")).scalar()
    for bad in (0, -2):
        try:
            with clean_db.begin() as conn:
                conn.execute(sa.text("INSERT INTO order_items (order_id, quantity) VALUES (:o, :q)"),
                             {"o": order_id, "q": bad})
        except sa.exc.IntegrityError as exc:
            assert "quantity_positive" in str(exc)
        else:
            raise AssertionError(f"quantity {bad} was accepted")
    try:
        with clean_db.begin() as conn:
            conn.execute(sa.text("INSERT INTO orders (shipstation_order_id) VALUES (1)"))
    except sa.exc.IntegrityError as exc:
        assert "uq_orders_shipstation_order_id" in str(exc)
    else:
        raise AssertionError("duplicate shipstation_order_id accepted")
