"""Service functions: the one way data changes, each firing its catalog event.

They work in the caller's transaction (``kit.transaction()`` or a request's session) and do not
commit, so a caller can make several changes and fire several events atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from ..errors import Conflict, NotFound, ValidationError
from ..events import MAX_ID
from .models import (
    CONTRACT_STATUSES,
    ROLES,
    Contract,
    ContractNote,
    Coupon,
    Deposit,
    Extra,
    Guest,
    Invoice,
    InvoiceLine,
    ManagerProperty,
    Property,
    Review,
    Room,
    RoomBooking,
    Tariff,
    User,
    UserSession,
)

if TYPE_CHECKING:
    from ..kit import Kit

M = TypeVar("M")


def get(kit: Kit, model: type[M], uid: int, what: str | None = None) -> M:
    """The row of ``model`` with primary key ``uid``, or NotFound naming it."""
    row = kit.session().get(model, uid) if 0 < uid <= MAX_ID else None
    if row is None:
        what = what or model.__name__.lower()
        raise NotFound(f"no {what} {uid}", code=f"invalid_{what}_uid")
    return row


def lock_property(kit: Kit, property_uid: int) -> Property:
    """The property, its row locked until the caller's transaction ends, or NotFound.

    The changes that read a property's rates, nights or stay restrictions and then write them
    (``set_rates``, ``close_nights``, ``open_nights``, a booking's rooms, the restrictions'
    writers) take it first, so on PostgreSQL concurrent ones run one after the other and each
    reads what the one before committed: a booking racing a stop sell either commits before
    it or reads it and is refused. ``FOR NO KEY UPDATE``: rows
    that merely refer to the property (a booking's contract) are still added meanwhile. SQLite
    needs no lock: its writers take turns from their first statement (``BEGIN IMMEDIATE``, or
    ``db.take_write_lock`` on a host app's engine).
    """
    found = None
    if 0 < property_uid <= MAX_ID:
        found = kit.session().get(Property, property_uid, populate_existing=True,
                                  with_for_update={"key_share": True})
    if found is None:
        raise NotFound(f"no property {property_uid}", code="invalid_property_uid")
    return found


def _set(row: Any, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if not hasattr(type(row), key):
            raise ValidationError(f"{type(row).__name__.lower()} has no field {key!r}")
        setattr(row, key, value)


def _add(kit: Kit, row: M) -> M:
    session = kit.session()
    session.add(row)
    session.flush()
    return row


def _changed(kit: Kit, row: M, event: str | None, **ids: int) -> M:
    """Write what was changed on ``row`` and fire ``event`` with ``ids`` (none when ``event``
    is None: a bulk push fires one of its own); returns the row."""
    kit.session().flush()
    if event is not None:
        kit.fire(event, **ids)
    return row


def _delete(kit: Kit, row: Any, event: str, **ids: int) -> None:
    """Delete ``row`` and fire ``event`` with ``ids`` (read from the row before it went)."""
    session = kit.session()
    session.delete(row)
    session.flush()
    kit.fire(event, **ids)


def _save_at_property(kit: Kit, model: type[M], key: str, property_uid: int, uid: int | None,
                      fields: dict[str, Any], saved: str, updated: str | None = None) -> M:
    """Create a record of ``model`` at the property (firing ``saved``) or, given the uid
    (its ``key``) of one of the property's own, change it (firing ``updated``, or ``saved``
    when the kind has one event for both)."""
    get(kit, Property, property_uid)
    row = kit.session().get(model, uid) if uid else None
    if row is None:
        row = _add(kit, model(property_uid=property_uid, **{key: uid}, **fields))
        return _changed(kit, row, saved, property_uid=property_uid, **{key: getattr(row, key)})
    if row.property_uid != property_uid:
        what = key.removesuffix("_uid")
        raise NotFound(f"no {what} {uid} at property {property_uid}", code=f"invalid_{key}")
    _set(row, fields)
    return _changed(kit, row, updated or saved, property_uid=property_uid, **{key: uid})


# -- managers ----------------------------------------------------------------------------


def user_by_name(kit: Kit, username: str) -> User:
    user = kit.session().scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}", code="invalid_manager")
    return user


def find_manager(kit: Kit, manager: User | int | str) -> User:
    """The one rule for naming a manager, everywhere: by id (a whole number) or by username
    (which is never a whole number, so the two cannot be mistaken for each other)."""
    if isinstance(manager, User):
        return manager
    text = str(manager).strip()
    if text.isdigit():
        user = kit.session().get(User, int(text)) if 0 < int(text) <= MAX_ID else None
    else:
        user = kit.session().scalar(select(User).where(User.username == text))
    if user is None:
        raise NotFound(f"no manager {text!r} (name one by username or by id)",
                       code="invalid_manager")
    return user


def create_user(
    kit: Kit,
    username: str,
    role: str = "manager",
    password: str | None = None,
    property_uids: Iterable[int] = (),
    **fields: Any,
) -> User:
    """Create a manager or super manager, optionally linked to properties."""
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    username = username.strip()
    if not username:
        raise ValidationError("a username is needed")
    if username.isdigit():
        raise ValidationError(
            f"a username cannot be a whole number ({username!r}): numbers name managers by id"
        )
    session = kit.session()
    if session.scalar(select(User.manager_id).where(User.username == username)) is not None:
        raise Conflict(f"a user named {username!r} already exists", code="duplicate_user")
    user = User(username=username, role=role, **fields)
    if password:
        user.password_hash = generate_password_hash(password)
    _add(kit, user)
    for property_uid in property_uids:
        get(kit, Property, property_uid)
        session.add(ManagerProperty(manager_id=user.manager_id, property_uid=property_uid))
    session.flush()
    kit.fire("manager_added", manager_id=user.manager_id)
    return user


def update_user(kit: Kit, manager_id: int, password: str | None = None, **fields: Any) -> User:
    """Change a user; a new password or role ends every console session they have."""
    user = get(kit, User, manager_id, "manager")
    if "role" in fields and fields["role"] not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}")
    role_changes = "role" in fields and fields["role"] != user.role
    _set(user, fields)
    if password:
        user.password_hash = generate_password_hash(password)
    if password or role_changes:
        kit.session().execute(delete(UserSession).where(UserSession.manager_id == manager_id))
    return _changed(kit, user, "manager_updated", manager_id=manager_id)


def link_property(kit: Kit, manager_id: int, property_uid: int) -> None:
    """Add a property to a manager's properties (the cross-reference)."""
    get(kit, User, manager_id, "manager")
    get(kit, Property, property_uid)
    session = kit.session()
    if session.get(ManagerProperty, (manager_id, property_uid)) is None:
        session.add(ManagerProperty(manager_id=manager_id, property_uid=property_uid))
        session.flush()
        kit.fire("manager_updated", manager_id=manager_id)


def delete_user(kit: Kit, manager_id: int) -> None:
    _delete(kit, get(kit, User, manager_id, "manager"), "manager_deleted", manager_id=manager_id)


# API calls on a property run it (api_core's require_property): built once.
_LINK_QUERY = select(ManagerProperty.manager_id).where(
    ManagerProperty.manager_id == bindparam("manager_id"),
    ManagerProperty.property_uid == bindparam("property_uid"),
)


def is_linked(kit: Kit, manager_id: int, property_uid: int) -> bool:
    """True when the cross-reference links the manager to the property."""
    found = kit.session().execute(
        _LINK_QUERY, {"manager_id": manager_id, "property_uid": property_uid}).first()
    return found is not None


# -- properties and rooms ------------------------------------------------------------------


def create_property(kit: Kit, name: str, **fields: Any) -> Property:
    prop = _add(kit, Property(name=name, **fields))
    kit.fire("property_created", property_uid=prop.property_uid)
    return prop


def update_property(kit: Kit, property_uid: int, **fields: Any) -> Property:
    prop = get(kit, Property, property_uid)
    _set(prop, fields)
    return _changed(kit, prop, "property_updated", property_uid=property_uid)


def set_published(kit: Kit, property_uid: int, published: bool) -> Property:
    prop = get(kit, Property, property_uid)
    prop.published = published
    event = "property_published" if published else "property_unpublished"
    return _changed(kit, prop, event, property_uid=property_uid)


def delete_property(kit: Kit, property_uid: int) -> None:
    _delete(kit, get(kit, Property, property_uid), "property_deleted", property_uid=property_uid)


def add_room(kit: Kit, property_uid: int, **fields: Any) -> Room:
    get(kit, Property, property_uid)
    room = _add(kit, Room(property_uid=property_uid, **fields))
    kit.fire("room_added", property_uid=property_uid, room_uid=room.room_uid)
    return room


def update_room(kit: Kit, room_uid: int, **fields: Any) -> Room:
    room = get(kit, Room, room_uid)
    _set(room, fields)
    return _changed(kit, room, "room_updated", property_uid=room.property_uid, room_uid=room_uid)


def delete_room(kit: Kit, room_uid: int) -> None:
    room = get(kit, Room, room_uid)
    _delete(kit, room, "room_deleted", property_uid=room.property_uid, room_uid=room_uid)


def nights_covered(first: date, last: date) -> dict[str, str]:
    """The first and last night a change covered, as the events about nights carry them
    (``tariffs_updated``'s ``valid_from`` and ``valid_to``)."""
    return {"valid_from": first.isoformat(), "valid_to": last.isoformat()}


def update_tariffs(kit: Kit, property_uid: int, tariffs: Iterable[dict[str, Any]]) -> list[Tariff]:
    """Replace a property's tariffs (``tariffs_updated`` names no nights: all may have
    changed)."""
    get(kit, Property, property_uid)
    session = kit.session()
    for old in session.scalars(select(Tariff).where(Tariff.property_uid == property_uid)):
        session.delete(old)
    rows = [Tariff(property_uid=property_uid, **t) for t in tariffs]
    session.add_all(rows)
    session.flush()
    kit.fire("tariffs_updated", property_uid=property_uid)
    return rows


def set_rates(
    kit: Kit,
    property_uid: int,
    room_type: str,
    valid_from: date,
    valid_to: date,
    price_per_night: Decimal,
) -> list[Tariff]:
    """Price a room type's nights from ``valid_from`` to ``valid_to`` (both included).

    The room type's tariffs that cover some of those nights are cut back (or split) around
    them, so each night has one price; fires ``tariffs_updated`` (naming the nights) and
    returns the room type's tariffs now.
    """
    lock_property(kit, property_uid)
    if valid_to < valid_from:
        raise ValidationError("valid_to must not be before valid_from", code="invalid_valid_to",
                              field="valid_to")
    session = kit.session()
    day = timedelta(days=1)
    overlapping = session.scalars(select(Tariff).where(
        Tariff.property_uid == property_uid, Tariff.room_type == room_type,
        Tariff.valid_from <= valid_to, Tariff.valid_to >= valid_from)).all()
    for old in overlapping:
        if old.valid_to > valid_to:  # what runs on after the new range stays
            session.add(Tariff(property_uid=property_uid, room_type=room_type,
                               valid_from=valid_to + day, valid_to=old.valid_to,
                               price_per_night=old.price_per_night))
        if old.valid_from < valid_from:  # and what comes before it
            old.valid_to = valid_from - day
        else:
            session.delete(old)
    session.add(Tariff(property_uid=property_uid, room_type=room_type, valid_from=valid_from,
                       valid_to=valid_to, price_per_night=Decimal(price_per_night)))
    session.flush()
    kit.fire("tariffs_updated", property_uid=property_uid, **nights_covered(valid_from, valid_to))
    return list(session.scalars(select(Tariff).where(
        Tariff.property_uid == property_uid, Tariff.room_type == room_type,
    ).order_by(Tariff.valid_from)))


def price_nights(
    kit: Kit,
    property_uid: int,
    room_type: str,
    prices: Mapping[date, Decimal],
    fire: bool = True,
) -> None:
    """Price some of a room type's nights (any set of them, such as the Fridays of a summer),
    each at its own price (``{night: price per night}``).

    Set-based: the room type's tariffs over the nights' span are read once, deleted, and
    written back as runs of equal price (what lay outside the span as it was), so each night
    keeps one price. Fires ``tariffs_updated`` (naming the first and last night) unless
    ``fire`` is false, for a caller that prices many ranges in one change and fires once.
    """
    lock_property(kit, property_uid)
    wanted = sorted(prices)
    if not wanted:
        return
    session = kit.session()
    first, last = wanted[0], wanted[-1]
    day = timedelta(days=1)
    overlapping = session.execute(select(Tariff.tariff_uid, Tariff.valid_from, Tariff.valid_to,
                                         Tariff.price_per_night).where(
        Tariff.property_uid == property_uid, Tariff.room_type == room_type,
        Tariff.valid_from <= last, Tariff.valid_to >= first)).all()
    priced: dict[date, Decimal] = {}
    runs: list[tuple[date, date, Decimal]] = []
    for old in overlapping:
        if old.valid_from < first:
            runs.append((old.valid_from, first - day, old.price_per_night))
        if old.valid_to > last:
            runs.append((last + day, old.valid_to, old.price_per_night))
        night = max(old.valid_from, first)
        while night <= min(old.valid_to, last):
            priced[night] = old.price_per_night
            night += day
    for night in wanted:
        priced[night] = Decimal(prices[night])
    start = previous = None
    for night in sorted(priced):
        if start is None or night != previous + day or priced[night] != priced[start]:
            if start is not None:
                runs.append((start, previous, priced[start]))
            start = night
        previous = night
    runs.append((start, previous, priced[start]))
    if overlapping:  # the same rows as read, under the property's lock
        session.execute(Tariff.__table__.delete().where(
            Tariff.property_uid == property_uid, Tariff.room_type == room_type,
            Tariff.valid_from <= last, Tariff.valid_to >= first))
    session.execute(Tariff.__table__.insert(), [
        {"property_uid": property_uid, "room_type": room_type, "valid_from": a,
         "valid_to": b, "price_per_night": price} for a, b, price in runs])
    if fire:
        kit.fire("tariffs_updated", property_uid=property_uid, **nights_covered(first, last))


# -- guests --------------------------------------------------------------------------------


def save_guest(kit: Kit, property_uid: int, guest_uid: int | None = None, **fields: Any) -> Guest:
    """Create a guest (guest_saved) or, given an existing guest_uid, update it (guest_updated)."""
    return _save_at_property(kit, Guest, "guest_uid", property_uid, guest_uid, fields,
                             "guest_saved", "guest_updated")


def delete_guest(kit: Kit, guest_uid: int) -> None:
    guest = get(kit, Guest, guest_uid)
    _delete(kit, guest, "guest_deleted", property_uid=guest.property_uid, guest_uid=guest_uid)


# -- bookings ------------------------------------------------------------------------------


def _book_rooms(kit: Kit, contract: Contract, room_uids: Iterable[int]) -> None:
    """Take each room for each night of the contract, refusing rooms already taken, under the
    property's lock (the restrictions ``check_booking`` reads are those last committed)."""
    lock_property(kit, contract.property_uid)
    session = kit.session()
    room_uids = list(dict.fromkeys(room_uids))  # a room named twice is booked once
    if contract.departure <= contract.arrival:
        raise ValidationError("departure must be after arrival", code="invalid_dates",
                              field="departure")
    for room_uid in room_uids:
        room = get(kit, Room, room_uid)
        if room.property_uid != contract.property_uid:
            raise ValidationError(
                f"room {room_uid} is not at property {contract.property_uid}",
                code="invalid_room_uid",
                field="room_uids",
            )
    if not contract.blackbooking:  # a plugin may refuse a guest's stay (restrictions)
        kit.hooks.check_booking(kit=kit, property_uid=contract.property_uid,
                                arrival=contract.arrival, departure=contract.departure,
                                room_uids=room_uids)
    contract.room_bookings.clear()
    session.flush()
    nights = (contract.departure - contract.arrival).days
    dates = [contract.arrival + timedelta(days=n) for n in range(nights)]
    taken = session.execute(
        select(RoomBooking.room_uid, RoomBooking.date)
        .where(RoomBooking.room_uid.in_(room_uids), RoomBooking.date.in_(dates))
        .order_by(RoomBooking.date, RoomBooking.room_uid)
    ).first()
    if taken is not None:
        raise Conflict(
            f"room {taken.room_uid} is already taken on the night of {taken.date.isoformat()}",
            code="room_unavailable",
        )
    # The check above sees only committed nights: on PostgreSQL a booking of the same nights
    # committing meanwhile makes the insert wait for it and then break the unique
    # (room_uid, date) constraint. In a savepoint (begun before the rows are added, as
    # beginning one flushes), so the caller's transaction stays usable to answer the conflict.
    try:
        with session.begin_nested():
            for room_uid in room_uids:
                for night in dates:
                    contract.room_bookings.append(RoomBooking(
                        property_uid=contract.property_uid, room_uid=room_uid, date=night))
    except IntegrityError:
        raise Conflict(
            "a room was booked on some of those nights at the same moment",
            code="room_unavailable",
        ) from None


def add_booking(
    kit: Kit,
    property_uid: int,
    arrival: date,
    departure: date,
    room_uids: Iterable[int],
    *,
    fire: bool = True,
    **fields: Any,
) -> Contract:
    """Book rooms for a stay, firing ``booking_added`` (``blackbooking_created`` for a black
    booking) unless ``fire`` is false."""
    get(kit, Property, property_uid)
    # room_bookings given empty: a new contract's rooms are not read back from the database.
    contract = Contract(property_uid=property_uid, arrival=arrival, departure=departure,
                        room_bookings=[], **fields)
    _add(kit, contract)
    _book_rooms(kit, contract, room_uids)
    if not contract.booking_number:
        contract.booking_number = f"{property_uid:03d}-{contract.contract_uid:06d}"
    if fire:
        kit.fire(
            "blackbooking_created" if contract.blackbooking else "booking_added",
            property_uid=property_uid,
            contract_uid=contract.contract_uid,
        )
    return contract


def create_blackbooking(
    kit: Kit,
    property_uid: int,
    arrival: date,
    departure: date,
    room_uids: Iterable[int],
    *,
    fire: bool = True,
    **fields: Any,
) -> Contract:
    """Take rooms out of sale for some nights."""
    return add_booking(
        kit, property_uid, arrival, departure, room_uids, fire=fire, blackbooking=True, **fields
    )


def _nights(arrival: date, departure: date) -> list[date]:
    return [arrival + timedelta(days=n) for n in range((departure - arrival).days)]


def _blocks(taken: Iterable[tuple[int, date]]) -> list[tuple[date, date, list[int]]]:
    """(arrival, departure, room_uids) of each black booking that holds exactly ``taken``
    (room, night) pairs: each room's nights cut into runs of consecutive nights, and the
    rooms with the same run held together."""
    by_room: dict[int, list[date]] = {}
    for room_uid, night in sorted(taken):
        by_room.setdefault(room_uid, []).append(night)
    runs: dict[tuple[date, date], list[int]] = {}
    for room_uid, nights in by_room.items():
        start = previous = nights[0]
        for night in nights[1:] + [None]:
            if night is None or night != previous + timedelta(days=1):
                runs.setdefault((start, previous + timedelta(days=1)), []).append(room_uid)
                start = night
            previous = night
    return [(arrival, departure, rooms) for (arrival, departure), rooms in sorted(runs.items())]


def _property_rooms(kit: Kit, property_uid: int, room_uids: Iterable[int]) -> list[int]:
    room_uids = list(dict.fromkeys(room_uids))
    if not room_uids:
        raise ValidationError("name at least one room", code="invalid_room_uids",
                              field="room_uids")
    found = set(kit.session().scalars(select(Room.room_uid).where(
        Room.property_uid == property_uid, Room.room_uid.in_(room_uids))))
    for room_uid in room_uids:
        if room_uid not in found:
            raise ValidationError(f"room {room_uid} is not at property {property_uid}",
                                  code="invalid_room_uids", field="room_uids")
    return room_uids


def close_nights(
    kit: Kit, property_uid: int, room_uids: Iterable[int], arrival: date, departure: date,
    fire: bool = True,
) -> list[Contract]:
    """Take rooms out of sale from ``arrival`` to the night before ``departure``.

    Nights already closed stay as they are; the others become black bookings (one per run of
    nights shared by some rooms, each firing ``blackbooking_created``), which are returned. A
    night already sold to a guest is a Conflict (``room_unavailable``) and closes nothing.
    ``fire`` false fires none, for a caller that closes many ranges and tells of them once.
    """
    lock_property(kit, property_uid)
    if departure <= arrival:
        raise ValidationError("departure must be after arrival", code="invalid_departure",
                              field="departure")
    room_uids = _property_rooms(kit, property_uid, room_uids)
    nights = _nights(arrival, departure)
    held = kit.session().execute(
        select(RoomBooking.room_uid, RoomBooking.date, Contract.blackbooking)
        .join(Contract, Contract.contract_uid == RoomBooking.contract_uid)
        .where(RoomBooking.room_uid.in_(room_uids), RoomBooking.date.in_(nights))
        .order_by(RoomBooking.date, RoomBooking.room_uid)
    ).all()
    sold = next((row for row in held if not row.blackbooking), None)
    if sold is not None:
        raise Conflict(
            f"room {sold.room_uid} is booked on the night of {sold.date.isoformat()}",
            code="room_unavailable",
        )
    closed = {(row.room_uid, row.date) for row in held}
    free = [(room_uid, night) for room_uid in room_uids for night in nights
            if (room_uid, night) not in closed]
    return [create_blackbooking(kit, property_uid, start, end, rooms, fire=fire)
            for start, end, rooms in _blocks(free)]


def open_nights(
    kit: Kit, property_uid: int, room_uids: Iterable[int], arrival: date, departure: date,
    fire: bool = True,
) -> list[Contract]:
    """Put rooms back on sale from ``arrival`` to the night before ``departure``.

    Each black booking holding some of those nights gives them up: one left with no night is
    cancelled (``booking_cancelled``); one left with nights keeps its first run of them
    (``booking_modified``), and any later run becomes a black booking of its own
    (``blackbooking_created``). Nights sold to guests are left alone. Returns the black
    bookings changed or created. ``fire`` false fires none of those events.
    """
    lock_property(kit, property_uid)
    if departure <= arrival:
        raise ValidationError("departure must be after arrival", code="invalid_departure",
                              field="departure")
    room_uids = _property_rooms(kit, property_uid, room_uids)
    opened = {(room_uid, night) for room_uid in room_uids for night in _nights(arrival, departure)}
    session = kit.session()
    contracts = session.scalars(
        select(Contract).where(
            Contract.property_uid == property_uid,
            Contract.blackbooking.is_(True),
            Contract.contract_uid.in_(
                select(RoomBooking.contract_uid).where(
                    RoomBooking.room_uid.in_(room_uids),
                    RoomBooking.date >= arrival,
                    RoomBooking.date < departure,
                )
            ),
        ).order_by(Contract.contract_uid)
    ).all()
    changed: list[Contract] = []
    for contract in contracts:
        left = [(rb.room_uid, rb.date) for rb in contract.room_bookings
                if (rb.room_uid, rb.date) not in opened]
        blocks = _blocks(left)
        if not blocks:
            changed.append(cancel_booking(kit, contract.contract_uid, fire=fire))
            continue
        (start, end, rooms), *others = blocks
        changed.append(modify_booking(kit, contract.contract_uid, room_uids=rooms, fire=fire,
                                      arrival=start, departure=end))
        changed.extend(create_blackbooking(kit, property_uid, a, d, r, fire=fire)
                       for a, d, r in others)
    return changed


def modify_booking(
    kit: Kit, contract_uid: int, room_uids: Iterable[int] | None = None, *, fire: bool = True,
    **fields: Any
) -> Contract:
    contract = get(kit, Contract, contract_uid)
    if "status" in fields and fields["status"] not in CONTRACT_STATUSES:
        raise ValidationError(f"status must be one of {', '.join(CONTRACT_STATUSES)}")
    rooms = list(room_uids) if room_uids is not None else contract.room_uids
    _set(contract, fields)
    if room_uids is not None or {"arrival", "departure"} & set(fields):
        _book_rooms(kit, contract, rooms)
    return _changed(kit, contract, "booking_modified" if fire else None,
                    property_uid=contract.property_uid, contract_uid=contract_uid)


def _booking_state(kit: Kit, contract_uid: int, event: str | None, **changes: Any) -> Contract:
    contract = get(kit, Contract, contract_uid)
    _set(contract, changes)
    return _changed(kit, contract, event, property_uid=contract.property_uid,
                    contract_uid=contract_uid)


def cancel_booking(kit: Kit, contract_uid: int, fire: bool = True) -> Contract:
    """Cancel a booking and free its rooms (``booking_cancelled``, unless ``fire`` is
    false)."""
    contract = get(kit, Contract, contract_uid)
    if contract.status == "cancelled":
        raise Conflict(f"booking {contract_uid} is already cancelled", code="already_cancelled")
    contract.room_bookings.clear()
    return _booking_state(kit, contract_uid, "booking_cancelled" if fire else None,
                          status="cancelled")


def mark_noshow(kit: Kit, contract_uid: int) -> Contract:
    return _booking_state(kit, contract_uid, "booking_marked_noshow", status="noshow")


def check_in(kit: Kit, contract_uid: int, undo: bool = False) -> Contract:
    event = "guest_checkedin_undone" if undo else "guest_checkedin"
    return _booking_state(kit, contract_uid, event, checked_in=not undo)


def check_out(kit: Kit, contract_uid: int, undo: bool = False) -> Contract:
    event = "guest_checkedout_undone" if undo else "guest_checkedout"
    return _booking_state(kit, contract_uid, event, checked_out=not undo)


def save_deposit(
    kit: Kit, contract_uid: int, amount: Decimal, reference: str = "", **fields: Any
) -> Deposit:
    contract = get(kit, Contract, contract_uid)
    deposit = _add(
        kit,
        Deposit(contract_uid=contract_uid, amount=Decimal(amount), reference=reference, **fields),
    )
    kit.fire(
        "deposit_saved",
        property_uid=contract.property_uid,
        contract_uid=contract_uid,
        deposit_id=deposit.deposit_id,
    )
    return deposit


def save_note(kit: Kit, contract_uid: int, text: str, **fields: Any) -> ContractNote:
    contract = get(kit, Contract, contract_uid)
    note = _add(kit, ContractNote(contract_uid=contract_uid, text=text, **fields))
    kit.fire(
        "booking_note_saved",
        property_uid=contract.property_uid,
        contract_uid=contract_uid,
        note_id=note.note_id,
    )
    return note


def delete_note(kit: Kit, note_id: int) -> None:
    note = get(kit, ContractNote, note_id, "note")
    _delete(kit, note, "booking_note_deleted", property_uid=note.contract.property_uid,
            contract_uid=note.contract_uid, note_id=note_id)


# -- invoices ------------------------------------------------------------------------------


def _lines(lines: Iterable[dict[str, Any]]) -> list[InvoiceLine]:
    return [
        InvoiceLine(**{**line, "unit_price": Decimal(str(line["unit_price"]))}) for line in lines
    ]


def create_invoice(
    kit: Kit, property_uid: int, lines: Iterable[dict[str, Any]], **fields: Any
) -> Invoice:
    get(kit, Property, property_uid)
    invoice = Invoice(property_uid=property_uid, **fields)
    invoice.lines = _lines(lines)
    _add(kit, invoice)
    kit.fire("invoice_created", property_uid=property_uid, invoice_uid=invoice.invoice_uid)
    return invoice


def update_invoice(
    kit: Kit, invoice_uid: int, lines: Iterable[dict[str, Any]] | None = None, **fields: Any
) -> Invoice:
    invoice = get(kit, Invoice, invoice_uid)
    _set(invoice, fields)
    if lines is not None:
        invoice.lines = _lines(lines)
    return _changed(kit, invoice, "invoice_updated", property_uid=invoice.property_uid,
                    invoice_uid=invoice_uid)


def cancel_invoice(kit: Kit, invoice_uid: int) -> Invoice:
    invoice = get(kit, Invoice, invoice_uid)
    invoice.status = "cancelled"
    return _changed(kit, invoice, "invoice_cancelled", property_uid=invoice.property_uid,
                    invoice_uid=invoice_uid)


# -- reviews, extras, coupons --------------------------------------------------------------


def save_review(kit: Kit, property_uid: int, rating: int, **fields: Any) -> Review:
    get(kit, Property, property_uid)
    if not 1 <= int(rating) <= 10:
        raise ValidationError("rating must be from 1 to 10", code="invalid_rating")
    review = _add(kit, Review(property_uid=property_uid, rating=int(rating), **fields))
    kit.fire("review_saved", property_uid=property_uid, review_uid=review.review_uid)
    return review


def set_review_published(kit: Kit, review_uid: int, published: bool) -> Review:
    review = get(kit, Review, review_uid)
    review.published = published
    event = "review_published" if published else "review_unpublished"
    return _changed(kit, review, event, property_uid=review.property_uid, review_uid=review_uid)


def delete_review(kit: Kit, review_uid: int) -> None:
    review = get(kit, Review, review_uid)
    _delete(kit, review, "review_deleted", property_uid=review.property_uid, review_uid=review_uid)


def save_extra(kit: Kit, property_uid: int, extra_uid: int | None = None, **fields: Any) -> Extra:
    """Create or (given an existing extra_uid of the property's) change an optional extra."""
    return _save_at_property(kit, Extra, "extra_uid", property_uid, extra_uid, fields,
                             "extra_saved")


def delete_extra(kit: Kit, extra_uid: int) -> None:
    extra = get(kit, Extra, extra_uid)
    _delete(kit, extra, "extra_deleted", property_uid=extra.property_uid, extra_uid=extra_uid)


def save_coupon(
    kit: Kit, property_uid: int, coupon_uid: int | None = None, **fields: Any
) -> Coupon:
    """Create or (given an existing coupon_uid of the property's) change a coupon."""
    return _save_at_property(kit, Coupon, "coupon_uid", property_uid, coupon_uid, fields,
                             "coupon_saved")


def delete_coupon(kit: Kit, coupon_uid: int) -> None:
    coupon = get(kit, Coupon, coupon_uid)
    _delete(kit, coupon, "coupon_deleted", property_uid=coupon.property_uid,
            coupon_uid=coupon_uid)
