"""The records a callback answers with, each read in one statement that writes it as JSON.

A callback is one round trip to the database: the record, its children (a booking's guest,
rooms and nights, deposits, notes; an invoice's lines; a property's rooms) and its formatting
all happen in SQL, with ``json_sqlite`` or ``json_postgresql`` (the functions they share are
``obj``, ``array``, ``nested``, ``two_places``, ``cents``, ``timestamp``, ``boolean``,
``json_list`` and ``days``). What SQL cannot write exactly as Python would, an invoice's totals
rounded half to even, is added by ``records``.

Each statement takes ``:id`` (the callback's id) and ``:property_uid`` and answers one row
holding the record, or none when there is no such record at that property.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from jomreskit_api_core import JSONText
from sqlalchemy import Dialect, Select, Text, bindparam, cast, func, literal_column, null, select
from sqlalchemy.sql.elements import ColumnElement

from jomreskit.db import CompiledStatement
from jomreskit.domain import (
    Contract,
    ContractNote,
    Coupon,
    Deposit,
    Extra,
    Guest,
    Invoice,
    InvoiceLine,
    Property,
    Review,
    Room,
    RoomBooking,
    Tariff,
)

from . import json_postgresql, json_sqlite

DIALECTS: dict[str, ModuleType] = {"sqlite": json_sqlite, "postgresql": json_postgresql}

ID, PROPERTY_UID = bindparam("id"), bindparam("property_uid")
TIMESTAMPS = ("created_at", "updated_at")

CONTRACTS, GUESTS, ROOMS, ROOM_BOOKINGS = (Contract.__table__, Guest.__table__, Room.__table__,
                                          RoomBooking.__table__)
NOTES, DEPOSITS, INVOICE_LINES, TARIFFS = (ContractNote.__table__, Deposit.__table__,
                                           InvoiceLine.__table__, Tariff.__table__)
contracts, guests = Contract.__table__.c, Guest.__table__.c
rooms, room_bookings = Room.__table__.c, RoomBooking.__table__.c
notes, deposits = ContractNote.__table__.c, Deposit.__table__.c
invoices, invoice_lines = Invoice.__table__.c, InvoiceLine.__table__.c
properties, tariffs = Property.__table__.c, Tariff.__table__.c
reviews, extras, coupons = Review.__table__.c, Extra.__table__.c, Coupon.__table__.c


class Statements:
    """Every record's statement for one database dialect and one choice of guest fields."""

    def __init__(self, d: ModuleType, guest_fields: tuple[str, ...]) -> None:
        self.d = d
        self.guest_fields = guest_fields

    # -- the JSON of each kind of record, from its table's columns -------------------------

    def guest(self) -> ColumnElement[Any]:
        d = self.d
        fields = {name: d.timestamp(guests[name]) if name in TIMESTAMPS else guests[name]
                  for name in self.guest_fields}
        return d.obj(guest_uid=guests.guest_uid, property_uid=guests.property_uid, **fields)

    def room(self) -> ColumnElement[Any]:
        d = self.d
        return d.obj(room_uid=rooms.room_uid, property_uid=rooms.property_uid,
                     room_number=rooms.room_number, name=rooms.name, room_type=rooms.room_type,
                     max_people=rooms.max_people,
                     price_per_night=d.two_places(rooms.price_per_night),
                     features=d.json_list(rooms.features))

    def note(self) -> ColumnElement[Any]:
        return self.d.obj(note_id=notes.note_id, contract_uid=notes.contract_uid,
                          text=notes.text, created_at=self.d.timestamp(notes.created_at))

    def deposit(self) -> ColumnElement[Any]:
        d = self.d
        return d.obj(deposit_id=deposits.deposit_id, contract_uid=deposits.contract_uid,
                     amount=d.two_places(deposits.amount), reference=deposits.reference,
                     created_at=d.timestamp(deposits.created_at))

    def contract(self) -> ColumnElement[Any]:
        """A booking with its guest, rooms and their nights, deposits and notes, and its
        ``totals``: the contract's two amounts, what the deposits paid and the balance left."""
        d = self.d
        nights = d.array(room_bookings.date, ROOM_BOOKINGS,
                         room_bookings.contract_uid == contracts.contract_uid,
                         room_bookings.room_uid == rooms.room_uid, order_by=(room_bookings.date,))
        booked = (select(room_bookings.room_uid)
                  .where(room_bookings.contract_uid == contracts.contract_uid)
                  .correlate_except(ROOM_BOOKINGS))
        booked_room = d.obj(room_uid=rooms.room_uid, room_number=rooms.room_number,
                            name=rooms.name, room_type=rooms.room_type, nights=nights)
        # What the deposits paid: sums of cents, exact to the cent on either database.
        paid = func.coalesce(
            select(func.sum(deposits.amount))
            .where(deposits.contract_uid == contracts.contract_uid)
            .correlate_except(DEPOSITS).scalar_subquery(),
            literal_column("0"))
        return d.obj(
            contract_uid=contracts.contract_uid,
            property_uid=contracts.property_uid,
            booking_number=contracts.booking_number,
            arrival=contracts.arrival,
            departure=contracts.departure,
            nights=d.days(contracts.departure, contracts.arrival),
            status=contracts.status,
            blackbooking=d.boolean(contracts.blackbooking),
            checked_in=d.boolean(contracts.checked_in),
            checked_out=d.boolean(contracts.checked_out),
            adults=contracts.adults,
            children=contracts.children,
            guest=d.nested(self.guest(), GUESTS, guests.guest_uid == contracts.guest_uid),
            rooms=d.array(booked_room, ROOMS, rooms.room_uid.in_(booked),
                          order_by=(rooms.room_uid,)),
            currency=contracts.currency,
            totals=d.obj(contract_total=d.two_places(contracts.contract_total),
                         deposit_required=d.two_places(contracts.deposit_required),
                         deposits_paid=d.cents(paid),
                         balance=d.cents(contracts.contract_total - paid)),
            deposits=d.array(self.deposit(), DEPOSITS,
                             deposits.contract_uid == contracts.contract_uid,
                             order_by=(deposits.deposit_id,)),
            notes=d.array(self.note(), NOTES, notes.contract_uid == contracts.contract_uid,
                          order_by=(notes.note_id,)),
            special_requests=contracts.special_requests,
            created_at=d.timestamp(contracts.created_at),
            updated_at=d.timestamp(contracts.updated_at),
        )

    def invoice(self) -> ColumnElement[Any]:
        """An invoice with its lines; ``records.add_invoice_totals`` adds each line's total
        and the invoice's."""
        d = self.d
        line = d.obj(id=invoice_lines.id, description=invoice_lines.description,
                     quantity=invoice_lines.quantity,
                     unit_price=d.two_places(invoice_lines.unit_price),
                     tax_rate=d.two_places(invoice_lines.tax_rate))
        return d.obj(
            invoice_uid=invoices.invoice_uid, property_uid=invoices.property_uid,
            contract_uid=invoices.contract_uid, guest_uid=invoices.guest_uid,
            status=invoices.status, currency=invoices.currency, due_date=invoices.due_date,
            lines=d.array(line, INVOICE_LINES, invoice_lines.invoice_uid == invoices.invoice_uid,
                          order_by=(invoice_lines.id,)),
            total=null(),
            created_at=d.timestamp(invoices.created_at),
            updated_at=d.timestamp(invoices.updated_at),
        )

    def property(self) -> ColumnElement[Any]:
        """A property with its rooms."""
        d = self.d
        return d.obj(
            property_uid=properties.property_uid, name=properties.name,
            description=properties.description, street=properties.street,
            town=properties.town, region=properties.region, country=properties.country,
            postcode=properties.postcode, email=properties.email,
            telephone=properties.telephone, stars=properties.stars,
            price_from=d.two_places(properties.price_from), currency=properties.currency,
            features=d.json_list(properties.features),
            published=d.boolean(properties.published),
            rooms=d.array(self.room(), ROOMS, rooms.property_uid == properties.property_uid,
                          order_by=(rooms.room_uid,)),
            created_at=d.timestamp(properties.created_at),
            updated_at=d.timestamp(properties.updated_at),
        )

    def tariff(self) -> ColumnElement[Any]:
        d = self.d
        return d.obj(tariff_uid=tariffs.tariff_uid, room_type=tariffs.room_type,
                     valid_from=tariffs.valid_from, valid_to=tariffs.valid_to,
                     price_per_night=d.two_places(tariffs.price_per_night))

    def review(self) -> ColumnElement[Any]:
        d = self.d
        return d.obj(review_uid=reviews.review_uid, property_uid=reviews.property_uid,
                     reviewer=reviews.reviewer, rating=reviews.rating, title=reviews.title,
                     text=reviews.text, published=d.boolean(reviews.published),
                     created_at=d.timestamp(reviews.created_at))

    def extra(self) -> ColumnElement[Any]:
        d = self.d
        return d.obj(extra_uid=extras.extra_uid, property_uid=extras.property_uid,
                     name=extras.name, description=extras.description,
                     price=d.two_places(extras.price))

    def coupon(self) -> ColumnElement[Any]:
        d = self.d
        return d.obj(coupon_uid=coupons.coupon_uid, property_uid=coupons.property_uid,
                     code=coupons.code, discount_percent=d.two_places(coupons.discount_percent),
                     valid_from=coupons.valid_from, valid_to=coupons.valid_to)

    # -- the statements ----------------------------------------------------------------------

    def by_reader(self) -> dict[str, Select[Any]]:
        """Each reader's statement, by the name of the reader in ``callbacks``."""
        d = self.d
        contract_of = self.contract()
        return {
            "contract": select(contract_of).where(contracts.contract_uid == ID,
                                                  contracts.property_uid == PROPERTY_UID),
            "note": select(d.obj(
                note_id=notes.note_id, contract_uid=notes.contract_uid, text=notes.text,
                created_at=d.timestamp(notes.created_at), property_uid=contracts.property_uid,
                contract=contract_of,
            )).where(notes.note_id == ID, contracts.contract_uid == notes.contract_uid,
                     contracts.property_uid == PROPERTY_UID),
            "deposit": select(d.obj(
                deposit_id=deposits.deposit_id, contract_uid=deposits.contract_uid,
                amount=d.two_places(deposits.amount), reference=deposits.reference,
                created_at=d.timestamp(deposits.created_at),
                property_uid=contracts.property_uid, contract=contract_of,
            )).where(deposits.deposit_id == ID, contracts.contract_uid == deposits.contract_uid,
                     contracts.property_uid == PROPERTY_UID),
            "guest": select(self.guest()).where(guests.guest_uid == ID,
                                                guests.property_uid == PROPERTY_UID),
            "invoice": select(self.invoice()).where(invoices.invoice_uid == ID,
                                                    invoices.property_uid == PROPERTY_UID),
            "property": select(self.property()).where(
                properties.property_uid == PROPERTY_UID),
            "tariffs": select(d.obj(
                property_uid=properties.property_uid,
                tariffs=d.array(self.tariff(), TARIFFS,
                                tariffs.property_uid == properties.property_uid,
                                order_by=(tariffs.valid_from, tariffs.tariff_uid)),
            )).where(properties.property_uid == PROPERTY_UID),
            "room": select(self.room()).where(rooms.room_uid == ID,
                                              rooms.property_uid == PROPERTY_UID),
            "review": select(self.review()).where(reviews.review_uid == ID,
                                                  reviews.property_uid == PROPERTY_UID),
            "extra": select(self.extra()).where(extras.extra_uid == ID,
                                                extras.property_uid == PROPERTY_UID),
            "coupon": select(self.coupon()).where(coupons.coupon_uid == ID,
                                                  coupons.property_uid == PROPERTY_UID),
        }


class Prepared:
    """A record's statement compiled once for a database (``CompiledStatement``).

    A statement this size is costly to look up in SQLAlchemy's statement cache (its cache key
    is worked out on every call), and its one column needs no result processing: it is the
    record's JSON text, which the answer carries as it is (PostgreSQL's is cast to text, so
    its driver does not decode it).
    """

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        if dialect.name == "postgresql":
            statement = statement.with_only_columns(
                cast(statement.selected_columns[0], Text), maintain_column_froms=True)
        self.statement = CompiledStatement(statement, dialect)

    def text(self, connection: Any, **values: Any) -> JSONText | None:
        """The JSON text of the record the statement reads with ``values`` (id,
        property_uid) on ``connection`` (``jomreskit_api_core.request_connection()``), or
        None."""
        text = self.statement.scalar(connection, values)
        return None if text is None else JSONText(text)

    def record(self, connection: Any, **values: Any) -> dict[str, Any] | None:
        """``text``, decoded."""
        found = self.text(connection, **values)
        return None if found is None else json.loads(found)


# By what their SQL depends on: every engine of one kind of database shares them, so a
# process that starts many sites (commands, tests) compiles them once, not once per engine.
_PREPARED: dict[tuple[Any, ...], dict[str, Prepared]] = {}


def prepared(dialect: Dialect, guest_fields: tuple[str, ...]) -> dict[str, Prepared]:
    """Each reader's statement (by its name in ``callbacks``) prepared for ``dialect``, an
    engine's (sqlite or postgresql), with the guest fields shown."""
    key = (type(dialect), dialect.paramstyle, dialect.server_version_info, guest_fields)
    found = _PREPARED.get(key)
    if found is None:
        try:
            module = DIALECTS[dialect.name]
        except KeyError:
            raise RuntimeError(f"api_feature_webhooks reads records with SQLite's or "
                               f"PostgreSQL's JSON functions, not {dialect.name}'s") from None
        found = _PREPARED.setdefault(key, {
            reader: Prepared(statement, dialect)
            for reader, statement in Statements(module, guest_fields).by_reader().items()})
    return found
