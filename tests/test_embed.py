"""A site that has its own Flask app and its own SQLAlchemy set-up embeds jomreskit."""

import pytest
from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select

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
    assert "core: upgraded empty -> 0001" in upgraded.output

    response = portal.test_client().post("/bookings/41/touch")

    assert response.status_code == 200
    with kit.transaction() as session:
        event = session.get(EventRecord, response.get_json()["event_id"])
        assert (event.name, event.ids) == (
            "booking_modified",
            {"property_uid": 1, "contract_uid": 41},
        )
