"""Webhooks, their deliveries (the outbox) and the log of every delivery attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from jomreskit.db import Base, utcnow

# A delivery is "pending" until it succeeds or runs out of attempts ("failed").
PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
DELIVERY_STATUSES = (PENDING, SUCCEEDED, FAILED)

# A webhook's circuit: "closed" sends as usual; "open" sends nothing until ``circuit_until``;
# "probing" sends one delivery, whose outcome closes the circuit or opens it again.
CLOSED = "closed"
OPEN = "open"
PROBING = "probing"
CIRCUIT_STATES = (CLOSED, OPEN, PROBING)


def host_of(url: str) -> str:
    """The host a URL's deliveries go to, as the worker's per-host cap counts them: the
    hostname, lower case, and the port (the scheme's default when the URL names none)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    hostname = (parts.hostname or "").lower()
    return f"[{hostname}]:{port}" if ":" in hostname else f"{hostname}:{port}"


class Webhook(Base):
    """Where one manager wants to be told about events, and how to sign in there."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # host_of(url), kept by ``_url_host``: the worker claims at most a share per host.
    host: Mapped[str] = mapped_column(String(300), default="", server_default="")
    authmethod: Mapped[str] = mapped_column(String(100), default="none")
    # Settings in clear, except the auth method's secret ones: those are in secret_settings,
    # one encrypted JSON object (kit.secret_box).
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret_settings: Mapped[str | None] = mapped_column(Text, default=None)
    # The event and property filters as ",a,b," ("" for every event, every property): the
    # outbox looks for ",name," in them in the one statement that queues an event's deliveries.
    event_filter: Mapped[str] = mapped_column(Text, default="", server_default="")
    property_filter: Mapped[str] = mapped_column(Text, default="", server_default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # The whsec_ signing secret, encrypted: it is needed in clear to sign every request.
    signing_secret: Mapped[str] = mapped_column(Text)
    # Since when every attempt has failed (None after a success): drives the automatic disable.
    failing_since: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the webhook is (its settings): workers keep a decrypted copy per version. The
    # delivery health below changes without it.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The circuit breaker (breaker.py), shared by every worker through the database.
    circuit: Mapped[str] = mapped_column(String(20), default=CLOSED, server_default=CLOSED)
    circuit_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    circuit_counted_from: Mapped[datetime | None] = mapped_column(default=None)
    circuit_opened_at: Mapped[datetime | None] = mapped_column(default=None)
    circuit_until: Mapped[datetime | None] = mapped_column(default=None)
    circuit_opens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    circuit_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Paused by its manager or the operator (None: not paused): deliveries are queued and kept,
    # none is claimed until it is resumed. In the database so that every worker sees it.
    paused_at: Mapped[datetime | None] = mapped_column(default=None)

    @validates("url")
    def _url_host(self, _key: str, url: str) -> str:
        self.host = host_of(url)
        return url

    @property
    def events(self) -> list[str]:
        """The events sent (empty: every event)."""
        return [name for name in (self.event_filter or "").split(",") if name]

    @events.setter
    def events(self, names: list[str]) -> None:
        self.event_filter = _delimited(names)

    @property
    def property_uids(self) -> list[int]:
        """The properties whose events are sent (empty: every one of the manager's)."""
        return [int(uid) for uid in (self.property_filter or "").split(",") if uid]

    @property_uids.setter
    def property_uids(self, uids: list[int]) -> None:
        self.property_filter = _delimited(str(uid) for uid in uids)


def _delimited(values: Any) -> str:
    values = [str(v) for v in values]
    return f",{','.join(values)}," if values else ""


class Delivery(Base):
    """One event for one webhook: an outbox row, written in the transaction that fired the event.

    ``next_attempt_at`` is when a worker may take it. A worker's claim moves it forward by the
    lease and stamps ``claim``: if the worker dies, the row is simply due again when the lease
    runs out; if it lives, it records the outcome only where its claim still stands.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next_attempt_at", "status",
                            "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Not indexed: an event's deliveries would touch as many index pages as it has webhooks
    # (migration 0003); the few lookups by webhook walk the table newest first.
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(Integer, default=None)
    event_type: Mapped[str] = mapped_column(String(100))
    # The webhook-id header: the same for every attempt, so receivers can drop duplicates.
    # 96 random bits: unique without an index to keep up on every fired event.
    msg_id: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body sent (and signed)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim: Mapped[str | None] = mapped_column(String(40), default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The W3C traceparent current when the event fired (OpenTelemetry, when the site traces):
    # each attempt's span links to it.
    traceparent: Mapped[str | None] = mapped_column(String(55), default=None)


class DeliveryAttempt(Base):
    """One try at sending a delivery: when, how long, what came back."""

    __tablename__ = "webhook_delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, default=None)
