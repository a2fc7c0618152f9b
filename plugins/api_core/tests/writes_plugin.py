"""A plugin for api_core's write tests: writes to the demo's bookings, guests and rooms, as a
feature plugin writes them, and the ways a write can go wrong after it changed something."""

from datetime import date

from flask import Response
from jomreskit_api_core import (
    Api,
    ApiError,
    check_if_match,
    current_json,
    require_property,
)

from jomreskit import NotFound, Scope, ValidationError, hookimpl
from jomreskit.domain import Contract, Guest, RoomBooking, services

requires = ["api_core"]

CRASHED_ONCE: set[str] = set()  # the "attempt"s that already crashed once, in this process


@hookimpl
def register_scopes():
    return [
        Scope("notes_write", "Add notes to bookings."),
        Scope("guests_get", "Read guests."),
        Scope("guests_write", "Change guests."),
    ]


def guest_json(guest: Guest) -> dict:
    return {"guest_uid": guest.guest_uid, "property_uid": guest.property_uid,
            "firstname": guest.firstname, "surname": guest.surname, "email": guest.email}


@hookimpl
def register_api_routes(api: Api):
    kit = api.kit

    @api.route("/bookings/<int:property_uid>/<int:contract_uid>/notes", methods=("POST",),
               scope="notes_write", summary="Add a note to a booking")
    def add_note(property_uid: int, contract_uid: int):
        require_property(property_uid)
        body = current_json()
        contract = kit.session().get(Contract, contract_uid)
        if contract is None or contract.property_uid != property_uid:
            raise NotFound(f"no booking {contract_uid} at property {property_uid}",
                           code="invalid_contract_uid")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValidationError("text: a note needs some text", code="invalid_text",
                                  field="text")
        then = body.get("then")  # what goes wrong once the note is written
        if then == "nested":  # the view brackets its change itself, as older views do
            with kit.transaction():
                note = services.save_note(kit, contract_uid, text)
        else:
            note = services.save_note(kit, contract_uid, text)
        if then in ("refuse", "nested"):
            raise ApiError(422, "refused", "refused after writing", field="then")
        if then == "crash":
            raise RuntimeError("the ink ran out")
        if then == "crash_once" and body.get("attempt") not in CRASHED_ONCE:
            CRASHED_ONCE.add(body.get("attempt"))
            raise RuntimeError("the ink ran out, this once")
        if then == "answer_error":  # an error answered, not raised
            return Response('{"error": {"code": "teapot", "message": "no"}}', status=418,
                            mimetype="application/json")
        location = api.path(f"/bookings/{property_uid}/{contract_uid}/notes/{note.note_id}")
        return ({"note_id": note.note_id, "text": note.text}, {}, 201,
                {"Location": location})

    def find_guest(property_uid: int, guest_uid: int) -> Guest:
        require_property(property_uid)
        guest = kit.session().get(Guest, guest_uid)
        if guest is None or guest.property_uid != property_uid:
            raise NotFound(f"no guest {guest_uid} at property {property_uid}",
                           code="invalid_guest_uid")
        return guest

    @api.route("/guests/<int:property_uid>/<int:guest_uid>", scope="guests_get", etag=True,
               summary="A guest")
    def read_guest(property_uid: int, guest_uid: int):
        return guest_json(find_guest(property_uid, guest_uid))

    @api.route("/guests/<int:property_uid>/<int:guest_uid>", methods=("PUT",),
               scope="guests_write", etag=True, summary="Change a guest")
    def change_guest(property_uid: int, guest_uid: int):
        guest = find_guest(property_uid, guest_uid)
        check_if_match(guest_json(guest))
        body = current_json()
        fields = {name: body[name] for name in ("firstname", "surname", "email") if name in body}
        for name, value in fields.items():
            if not isinstance(value, str):
                raise ValidationError(f"{name} must be text", code=f"invalid_{name}", field=name)
        return guest_json(services.save_guest(kit, property_uid, guest_uid, **fields))

    @api.route("/rooms/<int:property_uid>/<int:room_uid>/closed-nights", methods=("POST",),
               scope="notes_write", summary="Close a room for a night")
    def close_night(property_uid: int, room_uid: int):
        # Straight into room_bookings, whose (room_uid, date) is unique: a night taken twice
        # is the database's refusal, met at the commit.
        require_property(property_uid)
        night = date.fromisoformat(current_json()["date"])
        kit.session().add(RoomBooking(contract_uid=41, property_uid=property_uid,
                                      room_uid=room_uid, date=night))
        return {"room_uid": room_uid, "date": night}
