"""Concurrent changes to one property keep its search index whole: eight threads change the same
property at the same moment (a manager saving it while a channel manager writes to its rooms),
each holding its transaction open a little, on real concurrent connections. Every change
commits, and the index holds exactly the features of the property and its rooms as they end."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from jomreskit_api_feature_search.features import normalise
from jomreskit_api_feature_search.models import PropertyFeature
from sqlalchemy import select

from jomreskit.domain import Property, Room, services

THREADS = 8


def test_concurrent_changes_of_one_property_all_commit_and_index_it_whole(site):
    start = threading.Barrier(THREADS)

    def change(n: int) -> None:
        with site.app.app_context():
            try:
                with site.kit.transaction():
                    start.wait(timeout=30)
                    if n % 2:
                        site.kit.fire("property_updated", property_uid=1)
                    else:
                        services.update_room(site.kit, 1 + n % 3,
                                             features=[f"Feature {n}", "Sea view"])
                    time.sleep(0.02)  # a request doing the rest of its work
            finally:
                site.kit.session.remove()

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(change, range(THREADS)))  # re-raises the first thread's failure

    with site.app.app_context():
        session = site.kit.session()
        expected = normalise(session.get(Property, 1).features)
        for features in session.scalars(select(Room.features).where(Room.property_uid == 1)):
            expected |= normalise(features)
        indexed = set(session.scalars(select(PropertyFeature.feature).where(
            PropertyFeature.property_uid == 1)))
        assert "sea view" in indexed
        assert indexed == expected
