"""A site that has its own Flask app and its own SQLAlchemy set-up embeds jomreskit."""

import importlib
import json
import re
import sqlite3
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select, text

from jomreskit import JomresKit, get_kit
from jomreskit.domain import EventRecord


@pytest.fixture
def portal(tmp_path, database_url):
    """The portal's own app: a page model in its own database, and its own routes."""
    app = Flask("portal")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'portal.db'}",
        SECRET_KEY="the portal's own key",
        JOMRESKIT_INSTANCE_PATH=str(tmp_path / "jomreskit"),
        JOMRESKIT_DATABASE_URL=database_url,
    )
    db = SQLAlchemy(app)

    class Page(db.Model):
        id = db.Column(db.Integer, primary_key=True)
        title = db.Column(db.String(100))

    jomreskit = JomresKit()

    @app.get("/pages")
    def pages():
        return jsonify([p.title for p in db.session.scalars(select(Page))])

    @app.post("/bookings/<int:contract_uid>/touch")
    def touch(contract_uid):
        kit = jomreskit.kit
        with kit.transaction():
            event = jomreskit.fire("booking_modified", property_uid=1, contract_uid=contract_uid)
        return jsonify(event_id=event.id)

    with app.app_context():
        db.create_all()
        db.session.add(Page(title="Welcome to Torquay"))
        db.session.commit()
    jomreskit.init_app(app)
    return app


def test_the_portal_keeps_its_routes_database_and_secret_key(portal):
    client = portal.test_client()
    assert client.get("/pages").get_json() == ["Welcome to Torquay"]
    assert portal.config["SECRET_KEY"] == "the portal's own key"


def test_the_portal_gains_jomreskit_state_cli_and_events(portal):
    kit = get_kit(portal)
    assert portal.extensions["jomreskit"] is kit
    upgraded = portal.test_cli_runner().invoke(args=["jomreskit", "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    # The core's own line (api_core's ends alike).
    assert re.search(r"^core: upgraded empty -> \d{4}$", upgraded.output, re.MULTILINE)

    response = portal.test_client().post("/bookings/41/touch")

    assert response.status_code == 200
    with kit.transaction() as session:
        event = session.get(EventRecord, response.get_json()["event_id"])
        assert (event.name, event.ids) == (
            "booking_modified",
            {"property_uid": 1, "contract_uid": 41},
        )


# -- a portal that gives jomreskit its own Flask-SQLAlchemy session ---------------------------


class Receiver:
    """The remote service: records the notifications it is sent."""

    def __init__(self):
        self.bodies = []

    def __call__(self, environ, start_response):
        self.bodies.append(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        start_response("204 No Content", [])
        return [b""]


@pytest.fixture
def shared(make_site, serve_app, tmp_path):
    """A set-up jomreskit database with the demo data and a webhook of the manager's, and a
    portal on the same database that hands jomreskit its Flask-SQLAlchemy session."""
    site = make_site()
    assert site.cli("demo", "seed").exit_code == 0
    receiver = Receiver()
    created = site.cli("webhooks", "create", "--manager", "manager", "--url",
                       serve_app(receiver) + "/hook", "--authmethod", "none", "--json")
    assert created.exit_code == 0, created.output

    app = Flask("portal")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=site.kit.settings["JOMRESKIT_DATABASE_URL"],
        SECRET_KEY="the portal's own key",
        JOMRESKIT_INSTANCE_PATH=str(tmp_path / "portal"),
        JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
    )
    db = SQLAlchemy(app)

    class Stay(db.Model):
        __tablename__ = "portal_stays"
        id = db.Column(db.Integer, primary_key=True)
        guest = db.Column(db.String(100))

    @app.post("/stays/<int:stay_id>/guest")
    def rename(stay_id):
        stay = db.session.get(Stay, stay_id)
        stay.guest = request.json["guest"]
        get_kit().fire("booking_modified", property_uid=1, contract_uid=41)
        if request.json.get("card_declined"):
            raise RuntimeError("the card was declined")  # after the event: all must go
        db.session.commit()
        return jsonify(guest=stay.guest)

    with app.app_context():
        db.create_all()
        db.session.add(Stay(id=7, guest="Mrs Richards"))
        db.session.commit()
    JomresKit(app, session=db.session)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a failing view answers 500, as in production
    return SimpleNamespace(site=site, app=app, db=db, Stay=Stay, receiver=receiver)


def _guest_and_rows(shared):
    """What another connection sees: the stay's guest, events, deliveries (committed only)."""
    with shared.site.kit.engine.connect() as other:
        return (
            other.scalar(text("SELECT guest FROM portal_stays WHERE id = 7")),
            other.scalar(text("SELECT count(*) FROM events")),
            other.scalar(text("SELECT count(*) FROM webhook_deliveries")),
        )


@pytest.mark.postgres
def test_the_hosts_change_its_event_and_the_delivery_commit_together(shared):
    kit = get_kit(shared.app)
    assert kit.session is shared.db.session
    _guest, events_before, _deliveries = _guest_and_rows(shared)

    response = shared.app.test_client().post("/stays/7/guest", json={"guest": "Mr Richards"})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert _guest_and_rows(shared) == ("Mr Richards", events_before + 1, 1)
    assert shared.site.cli("worker", "--drain").exit_code == 0
    assert [json.loads(b)["data"]["contract_uid"] for b in shared.receiver.bodies] == [41]


@pytest.mark.postgres
def test_one_rollback_removes_the_hosts_change_its_event_and_the_delivery(shared):
    before = _guest_and_rows(shared)

    response = shared.app.test_client().post(
        "/stays/7/guest", json={"guest": "Mr Richards", "card_declined": True})

    assert response.status_code == 500
    assert _guest_and_rows(shared) == before == ("Mrs Richards", before[1], 0)
    assert shared.site.cli("worker", "--drain").exit_code == 0
    assert shared.receiver.bodies == []


# -- the README's portal, as a newcomer copies it --------------------------------------------


def _readme_portal(folder, database_url: str) -> str:
    """The README's embedding example as written, its folder (and, on PostgreSQL, its database
    address) moved to the test's own."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    [portal] = [block for block in blocks if "JomresKit(app, session=db.session)" in block]
    portal = portal.replace("/tmp/portal", str(folder))
    if database_url.startswith("postgresql"):
        portal = re.sub(r'SQLALCHEMY_DATABASE_URI="[^"]*"',
                        f"SQLALCHEMY_DATABASE_URI={database_url!r}", portal)
    return portal


def test_the_readmes_portal_answers_a_token_and_a_callback(tmp_path, database_url,
                                                           monkeypatch):
    source = _readme_portal(tmp_path, database_url)
    (tmp_path / "portal_example.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    portal = importlib.import_module("portal_example")
    app = portal.app
    cli = app.test_cli_runner()
    for args in (["db", "upgrade"], ["demo", "seed"]):
        result = cli.invoke(args=["jomreskit", *args])
        assert result.exit_code == 0, result.output
    # The README's next command runs in a process of its own, which starts with the plugins the
    # registry now holds.
    with app.app_context():
        portal.db.engine.dispose()
    sys.modules.pop("portal_example")
    portal = importlib.import_module("portal_example")
    app = portal.app
    cli = app.test_cli_runner()
    created = cli.invoke(args=["jomreskit", "keys", "create", "--manager", "manager", "--scope",
                               "webhooks_get", "--json"])
    assert created.exit_code == 0, created.output
    key = json.loads(created.output)
    client = app.test_client()

    issued = client.post("/api/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(key["client_id"], key["client_secret"]),
                         base_url="https://portal.example")
    assert issued.status_code == 200, issued.get_data(as_text=True)
    token = issued.get_json()["access_token"]
    changed = client.post("/stays/41", json={"guest": "Mr Richards"})
    callback = client.get("/api/webhooks/1/booking_modified/41",
                          headers={"Authorization": f"Bearer {token}"},
                          base_url="https://portal.example")

    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert callback.status_code == 200, callback.get_data(as_text=True)
    assert callback.get_json()["data"]["contract_uid"] == 41
    with app.app_context():
        portal.db.engine.dispose()
    sys.modules.pop("portal_example", None)


# -- the event feed, embedded -----------------------------------------------------------------


def test_the_event_feed_reads_what_the_host_fired_in_its_own_commit(make_api_site):
    from jomreskit_api_core.testing import auth, bearer_token

    site = make_api_site(mode="embedded")
    token = bearer_token(site, "manager", ["events_get"])
    with site.app.app_context():
        site.kit.fire("booking_modified", property_uid=1, contract_uid=4242)
        site.kit.session.commit()  # the host's commit

    seen, after = [], None
    while not any(e["ids"].get("contract_uid") == 4242 for e in seen):
        # wait: on PostgreSQL the feed hands an event out once every older transaction of the
        # server has ended, some of which may be other sites' on the same server.
        query = "types=booking_modified&limit=100&wait=20" + (f"&after={after}" if after else "")
        response = site.client().get(f"/api/events?{query}", headers=auth(token))
        assert response.status_code == 200, response.get_data(as_text=True)
        page = response.get_json()
        assert page["data"] or page["meta"]["more"], "the host's event never reached the feed"
        seen += page["data"]
        after = page["meta"]["next"]


# -- SQLite's write lock on the host's engine --------------------------------------------------


def _another_process_could_write(site) -> bool:
    """Whether another connection to the site's SQLite file gets the write lock at once."""
    other = sqlite3.connect(site.kit.engine.url.database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


def test_a_transaction_on_the_hosts_sqlite_engine_takes_the_write_lock_first_and_only_it(
        make_site):
    site = make_site(mode="embedded")
    if site.kit.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock; on PostgreSQL the writes lock rows")
    with site.app.app_context():
        with site.kit.transaction():
            # Before any read or write of its own: so racing writers take turns from here.
            locked_inside = not _another_process_could_write(site)
        assert _another_process_could_write(site)  # and let go with the commit
        # The host's own transactions stay as its engine makes them: a read takes no lock.
        site.kit.session().scalar(select(EventRecord.id).limit(1))
        assert _another_process_could_write(site)
        site.kit.session.remove()

    assert locked_inside
