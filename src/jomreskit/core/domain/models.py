"""SQLAlchemy models of what events talk about, named as in Jomres."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, timestamp_text, utcnow

Money = Numeric(12, 2)

ROLES = ("manager", "super")


class User(Base):
    """A manager (runs some properties) or a super manager (runs the site)."""

    __tablename__ = "users"

    manager_id: Mapped[int] = mapped_column("id", Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(10), default="manager")
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    properties: Mapped[list[Property]] = relationship(
        secondary="manager_properties", back_populates="managers", order_by="Property.property_uid"
    )

    @property
    def is_super(self) -> bool:
        return self.role == "super"

    def record(self) -> dict[str, Any]:
        """The account as the CLI and the API show it: never its password hash."""
        return {
            "manager_id": self.manager_id,
            "username": self.username,
            "email": self.email,
            "role": self.role,
            "property_uids": [p.property_uid for p in self.properties],
            "created_at": timestamp_text(self.created_at),
            "updated_at": timestamp_text(self.updated_at),
        }


class UserSession(Base):
    """A console sign-in, held server-side: the browser's cookie names it by a random token
    (stored hashed here). Signing out deletes it; a new password or role deletes every one
    of the user's, so a cookie captured earlier no longer opens anything."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    manager_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ManagerProperty(Base):
    """The manager–property cross-reference: which managers run which properties."""

    __tablename__ = "manager_properties"

    manager_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE"), primary_key=True, index=True
    )


class Property(Base):
    """A hotel, guest house or holiday rental."""

    __tablename__ = "properties"
    __table_args__ = (Index("ix_properties_country_region_town", "country", "region", "town"),)

    property_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    street: Mapped[str] = mapped_column(String(255), default="")
    town: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    telephone: Mapped[str] = mapped_column(String(50), default="")
    stars: Mapped[int] = mapped_column(Integer, default=0)
    price_from: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    features: Mapped[list[str]] = mapped_column(default=list)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    managers: Mapped[list[User]] = relationship(
        secondary="manager_properties", back_populates="properties"
    )
    rooms: Mapped[list[Room]] = relationship(
        back_populates="property", order_by="Room.room_uid", cascade="all, delete-orphan"
    )


class Room(Base):
    __tablename__ = "rooms"

    room_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE"), index=True
    )
    room_number: Mapped[str] = mapped_column(String(20), default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    room_type: Mapped[str] = mapped_column(String(100), default="")
    max_people: Mapped[int] = mapped_column(Integer, default=2)
    price_per_night: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    features: Mapped[list[str]] = mapped_column(default=list)

    property: Mapped[Property] = relationship(back_populates="rooms")


class Guest(Base):
    __tablename__ = "guests"

    guest_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE"), index=True
    )
    firstname: Mapped[str] = mapped_column(String(100), default="")
    surname: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    telephone: Mapped[str] = mapped_column(String(50), default="")
    street: Mapped[str] = mapped_column(String(255), default="")
    town: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


CONTRACT_STATUSES = ("provisional", "confirmed", "cancelled", "noshow")


class Contract(Base):
    """A booking. ``blackbooking`` marks rooms taken out of sale rather than sold."""

    __tablename__ = "contracts"

    contract_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE"), index=True
    )
    guest_uid: Mapped[int | None] = mapped_column(
        ForeignKey("guests.guest_uid", ondelete="SET NULL"), index=True, default=None
    )
    booking_number: Mapped[str] = mapped_column(String(50), default="")
    arrival: Mapped[date] = mapped_column(Date)
    departure: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="confirmed")
    blackbooking: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_in: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_out: Mapped[bool] = mapped_column(Boolean, default=False)
    adults: Mapped[int] = mapped_column(Integer, default=1)
    children: Mapped[int] = mapped_column(Integer, default=0)
    contract_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    deposit_required: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    special_requests: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    guest: Mapped[Guest | None] = relationship()
    room_bookings: Mapped[list[RoomBooking]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="RoomBooking.date"
    )
    notes: Mapped[list[ContractNote]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="ContractNote.note_id"
    )
    deposits: Mapped[list[Deposit]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="Deposit.deposit_id"
    )

    @property
    def room_uids(self) -> list[int]:
        return sorted({rb.room_uid for rb in self.room_bookings})


class RoomBooking(Base):
    """One room taken for one night by a contract (Jomres' room_bookings)."""

    __tablename__ = "room_bookings"
    __table_args__ = (
        UniqueConstraint("room_uid", "date", name="uq_room_bookings_room_uid_date"),
        Index("ix_room_bookings_property_uid_date", "property_uid", "date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_uid: Mapped[int] = mapped_column(
        ForeignKey("contracts.contract_uid", ondelete="CASCADE"), index=True
    )
    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE")
    )
    room_uid: Mapped[int] = mapped_column(ForeignKey("rooms.room_uid", ondelete="CASCADE"))
    date: Mapped[date] = mapped_column(Date)

    contract: Mapped[Contract] = relationship(back_populates="room_bookings")


class ContractNote(Base):
    __tablename__ = "contract_notes"

    note_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_uid: Mapped[int] = mapped_column(
        ForeignKey("contracts.contract_uid", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contract: Mapped[Contract] = relationship(back_populates="notes")


class Deposit(Base):
    __tablename__ = "deposits"

    deposit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_uid: Mapped[int] = mapped_column(
        ForeignKey("contracts.contract_uid", ondelete="CASCADE"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(Money)
    reference: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contract: Mapped[Contract] = relationship(back_populates="deposits")


INVOICE_STATUSES = ("pending", "paid", "cancelled")


class Invoice(Base):
    __tablename__ = "invoices"

    invoice_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE"), index=True
    )
    contract_uid: Mapped[int | None] = mapped_column(
        ForeignKey("contracts.contract_uid", ondelete="SET NULL"), default=None
    )
    guest_uid: Mapped[int | None] = mapped_column(
        ForeignKey("guests.guest_uid", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    due_date: Mapped[date | None] = mapped_column(Date, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.id"
    )

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0"))


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_uid: Mapped[int] = mapped_column(
        ForeignKey("invoices.invoice_uid", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    @property
    def total(self) -> Decimal:
        net = self.unit_price * self.quantity
        return (net + net * self.tax_rate / 100).quantize(Decimal("0.01"))


class Review(Base):
    __tablename__ = "reviews"

    review_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str] = mapped_column(String(100), default="")
    rating: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Extra(Base):
    """An optional extra a guest can add to a booking (breakfast, parking...)."""

    __tablename__ = "extras"

    extra_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))


class Coupon(Base):
    __tablename__ = "coupons"

    coupon_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(50))
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    valid_from: Mapped[date | None] = mapped_column(Date, default=None)
    valid_to: Mapped[date | None] = mapped_column(Date, default=None)


class Tariff(Base):
    """A nightly rate for a room type over a date range."""

    __tablename__ = "tariffs"

    tariff_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    property_uid: Mapped[int] = mapped_column(
        ForeignKey("properties.property_uid", ondelete="CASCADE"), index=True
    )
    room_type: Mapped[str] = mapped_column(String(100), default="")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    price_per_night: Mapped[Decimal] = mapped_column(Money)


class EventRecord(Base):
    """Every fired event, recorded in the firing transaction."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    ids: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The client id of the API key whose write fired it; NULL for a change made on the site.
    origin: Mapped[str | None] = mapped_column(String(64), default=None)


class SiteAddress(Base):
    """The address `jomreskit serve` last said the site is at (JOMRESKIT_BASE_URL, or where it
    listens): for processes that know no address of their own, such as a worker on another
    machine completing a notification's callback URL. One row."""

    __tablename__ = "site_address"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class PluginRecord(Base):
    """One row of the plugin registry: what `jomreskit plugins rebuild` found and decided."""

    __tablename__ = "plugin_registry"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(50), default="")
    source: Mapped[str] = mapped_column(String(20))  # "entrypoint" or "file"
    module: Mapped[str] = mapped_column(String(500))  # import name, or the file's path
    hooks: Mapped[list[str]] = mapped_column(default=list)
    requires: Mapped[list[str]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
