"""The alarm: a revision no key with the scope acknowledged within the delay fires
``booking_unacknowledged``, once.

A revision is watched only when a key could have taken it: an active key with the scope whose
manager runs the property (or a super manager's), created before the revision was recorded.
A site whose properties no channel manager takes raises no alarm.

Each alarm is claimed by ``UPDATE ... WHERE alarmed_at IS NULL`` in the transaction that fires
the event: two processes checking at once fire it once (on PostgreSQL the second waits for the
first's row lock, then finds it claimed; SQLite has one writer at a time).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING

from jomreskit_api_core import ApiKey
from sqlalchemy import exists, select, update

from jomreskit import Periodic
from jomreskit.db import utcnow
from jomreskit.domain import ManagerProperty, User

from . import revisions, settings
from .models import Acknowledgement, BookingRevision

if TYPE_CHECKING:
    from jomreskit import Kit

log = logging.getLogger("jomreskit.handover")

EVENT = "booking_unacknowledged"
BATCH = 500  # revisions claimed in one transaction
PRUNE_EVERY = 3600  # seconds between two prunings by the Watchman


def watchers(kit: Kit, scope: str) -> tuple[datetime | None, dict[int, datetime]]:
    """When the first active super manager's key with ``scope`` was made (None: there is
    none), and for each property a manager's such key may take, when its first key was made."""
    session = kit.session()
    keys = session.execute(select(ApiKey.manager_id, ApiKey.scopes, ApiKey.created_at, User.role)
                           .join(User, User.manager_id == ApiKey.manager_id)
                           .where(ApiKey.revoked_at.is_(None))).all()
    keys = [key for key in keys if scope in (key.scopes or ())]
    supers = [key.created_at for key in keys if key.role == "super"]
    first_by_manager: dict[int, datetime] = {}
    for key in keys:
        if key.role != "super":
            known = first_by_manager.get(key.manager_id)
            first_by_manager[key.manager_id] = min(known or key.created_at, key.created_at)
    by_property: dict[int, datetime] = {}
    if first_by_manager:
        for manager_id, property_uid in session.execute(
                select(ManagerProperty.manager_id, ManagerProperty.property_uid)
                .where(ManagerProperty.manager_id.in_(list(first_by_manager)))):
            since = first_by_manager[manager_id]
            by_property[property_uid] = min(by_property.get(property_uid, since), since)
    return (min(supers) if supers else None), by_property


def check(kit: Kit, scope: str, now: datetime | None = None) -> int:
    """Fire ``booking_unacknowledged`` for each revision due; how many fired."""
    now = now or utcnow()
    due = now - settings.delay(kit)
    fired = 0
    while True:
        with kit.transaction() as session:
            any_property, by_property = watchers(kit, scope)
            if any_property is None and not by_property:
                return fired
            since = min([*by_property.values(), *([any_property] if any_property else [])])
            acknowledged = exists().where(Acknowledgement.revision == BookingRevision.revision)
            query = select(BookingRevision).where(
                BookingRevision.alarmed_at.is_(None), BookingRevision.recorded_at <= due,
                BookingRevision.recorded_at >= since, ~acknowledged)
            if any_property is None:
                query = query.where(BookingRevision.property_uid.in_(list(by_property)))
            candidates = list(session.scalars(query.order_by(BookingRevision.revision)
                                              .limit(BATCH)))
            watched = [r for r in candidates if _watched(r, any_property, by_property)]
            for revision in watched:
                claimed = session.execute(
                    update(BookingRevision)
                    .where(BookingRevision.revision == revision.revision,
                           BookingRevision.alarmed_at.is_(None), ~acknowledged)
                    .values(alarmed_at=now)
                    .execution_options(synchronize_session=False)).rowcount
                if claimed == 1:
                    kit.fire(EVENT, property_uid=revision.property_uid,
                             contract_uid=revision.contract_uid, revision=revision.revision)
                    fired += 1
        # Candidates no key could have taken stay unclaimed: stop rather than read them again.
        if len(candidates) < BATCH or not watched:
            return fired


def _watched(revision: BookingRevision, any_property: datetime | None,
             by_property: dict[int, datetime]) -> bool:
    since = by_property.get(revision.property_uid)
    return ((any_property is not None and any_property <= revision.recorded_at)
            or (since is not None and since <= revision.recorded_at))


class Watchman(Periodic):
    """The check beside `jomreskit serve`, every JOMRESKIT_HANDOVER_CHECK_SECONDS, as the event
    feed's pruner and the webhook worker run there (``background_services``); hourly, it also
    deletes revisions older than the retention."""

    what = "unacknowledged bookings check"

    def __init__(self, kit: Kit, scope: str) -> None:
        super().__init__(kit)
        self.scope = scope
        self._pruned_at = float("-inf")

    def round(self) -> None:
        count = check(self.kit, self.scope)
        if count:
            log.warning("%d booking revisions unacknowledged past the delay", count)
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY:
            revisions.prune(self.kit, utcnow() - settings.retention(self.kit))
            self._pruned_at = time.monotonic()

    def every(self) -> float:
        return settings.check_every(self.kit)
