"""Migrations build exactly what the models describe, and sessions commit as they say, on SQLite
and PostgreSQL."""

import os
import re
import shutil
import time
import warnings

import pytest
from sqlalchemy import create_engine, select, text, update

from jomreskit.core import db, migrate
from jomreskit.domain import Property
from jomreskit.testing import POSTGRES_ENV, scratch_database


def test_after_db_upgrade_the_database_matches_every_model(make_site):
    site = make_site()
    assert migrate.pending_changes(site.kit.engine) == ""


def test_db_upgrade_is_repeatable_and_reports_each_plugin(make_site):
    site = make_site()
    result = site.cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    # Each plugin on a line of its own (the core's line, not api_core's, which ends alike).
    assert re.search(r"^core: up to date \(\d{4}\)$", result.output, re.MULTILINE)
    assert re.search(r"^api_core: up to date \(\d{4}\)$", result.output, re.MULTILINE)
    assert "building the plugin registry" not in result.output


def test_a_fresh_database_builds_the_registry_on_first_upgrade(make_site):
    site = make_site()
    assert site.kit.loaded.names  # make_site ran the first `db upgrade`
    assert "api_core" in site.kit.loaded.names


def _name_seen_by_another_connection(kit):
    # The other connection reads without a transaction of its own, so on SQLite it does not
    # queue for the write lock the session may hold.
    with kit.engine.connect() as other:
        other = other.execution_options(**db.autocommit_options(kit.engine))
        return other.scalar(select(Property.name).where(Property.property_uid == 1))


def test_an_autocommit_session_commits_each_statement_by_itself(site):
    kit = site.kit
    with site.app.app_context():
        kit.autocommit()
        kit.session().execute(
            update(Property).where(Property.property_uid == 1).values(name="At once"))
        assert _name_seen_by_another_connection(kit) == "At once"
        kit.session.remove()

        # The next session on the same pooled connection is transactional again.
        kit.session().execute(
            update(Property).where(Property.property_uid == 1).values(name="After commit"))
        assert _name_seen_by_another_connection(kit) == "At once"
        kit.session.rollback()
        kit.session.remove()
        assert _name_seen_by_another_connection(kit) == "At once"


def test_autocommit_changes_nothing_once_the_session_has_begun(site):
    kit = site.kit
    with site.app.app_context():
        kit.session().scalar(select(Property.name).where(Property.property_uid == 1))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # not even an attempt SQLAlchemy would ignore
            kit.autocommit()
        kit.session().execute(
            update(Property).where(Property.property_uid == 1).values(name="Not yet"))
        assert _name_seen_by_another_connection(kit) != "Not yet"
        kit.session.rollback()
        kit.session.remove()


def test_autocommitting_makes_a_session_only_when_the_block_uses_one(site):
    kit = site.kit
    with site.app.app_context():
        with kit.autocommitting():
            pass
        assert not kit.session.registry.has()  # an API read answered without the ORM

        with kit.autocommitting():
            kit.session().execute(
                update(Property).where(Property.property_uid == 1).values(name="Made in it"))
            assert _name_seen_by_another_connection(kit) == "Made in it"
        kit.session.remove()

        # A session made after the block is transactional again.
        kit.session().execute(
            update(Property).where(Property.property_uid == 1).values(name="After the block"))
        assert _name_seen_by_another_connection(kit) == "Made in it"
        kit.session.rollback()
        kit.session.remove()


def property_names(site) -> list[str]:
    with site.kit.transaction() as session:
        names = list(session.scalars(select(Property.name).order_by(Property.property_uid)))
    site.kit.session.remove()
    return names


def test_a_transaction_inside_another_is_a_savepoint_only_the_outer_commits(site):
    kit = site.kit
    with site.app.app_context():
        before = property_names(site)
        with pytest.raises(RuntimeError), kit.transaction() as session:
            with kit.transaction():
                session.get(Property, 1).name = "changed inside"
            raise RuntimeError("the outer change fails after the inner one ended")
        assert property_names(site) == before  # the inner block committed nothing by itself

        with kit.transaction() as session:
            session.get(Property, 1).name = "changed outside"
            with pytest.raises(RuntimeError), kit.transaction():
                session.get(Property, 2).name = "changed inside"
                raise RuntimeError("the inner change fails")
        assert property_names(site) == ["changed outside", *before[1:]]


def test_a_pooled_connection_lost_while_resting_is_replaced_unnoticed(tmp_path, monkeypatch):
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    with scratch_database(server, tmp_path) as url:
        engine = db.make_engine(url)
        try:
            with engine.connect() as connection:
                pid = connection.scalar(text("SELECT pg_backend_pid()"))
            # The database drops the connection while it rests in the pool (a restart would).
            admin = create_engine(url)
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.dispose()
            time.sleep(0.2)
            monkeypatch.setattr(db, "IDLE_BEFORE_PING", 0.1)
            with engine.connect() as connection:
                assert connection.scalar(text("SELECT pg_backend_pid()")) != pid
        finally:
            engine.dispose()


def test_a_written_migration_names_column_types_through_the_public_surface(tmp_path):
    # An empty database lacks every table, so the code covers every model's columns.
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    code = migrate.pending_changes(engine)
    engine.dispose()
    assert "jomreskit.db.UTCDateTime(timezone=True)" in code
    assert "jomreskit.core" not in code
    assert "import jomreskit.db\n" in migrate.REVISION_TEMPLATE


def test_a_revision_folder_whose_path_has_a_space_upgrades(tmp_path):
    core = migrate.ENVIRONMENT.parent / "migrations"
    folder = tmp_path / "site plugins" / "core migrations"
    folder.parent.mkdir()
    shutil.copytree(core, folder, ignore=shutil.ignore_patterns("__pycache__"))
    engine = create_engine(f"sqlite:///{tmp_path / 'spaced.db'}")

    newest = sorted(p.name for p in core.glob("0*.py"))[-1][:4]  # the core's latest revision
    assert migrate.upgrade(engine, "core", str(folder)) == (None, newest)
    assert migrate.upgrade(engine, "core", str(folder)) == (newest, newest)
    engine.dispose()
