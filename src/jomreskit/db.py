"""Storage for plugins: the declarative base every table shares, and its helpers.

Part of the public surface (see ``jomreskit``): a plugin defines its models on ``Base``, stamps
times with ``utcnow()``, and a migration names ``UTCDateTime`` for their timestamp columns.
Threads that wait for other transactions' commits, in this process or another, wait on a
``waker(kit, channel)``.
"""

from .core.db import (
    Base,
    CompiledStatement,
    UTCDateTime,
    autocommit,
    autocommit_options,
    driver_timestamp,
    in_autocommit,
    make_engine,
    make_session,
    timestamp_text,
    utcnow,
)
from .core.wakeup import Waker, waker

__all__ = ["Base", "CompiledStatement", "UTCDateTime", "autocommit", "autocommit_options",
           "driver_timestamp", "in_autocommit", "make_engine", "make_session", "timestamp_text",
           "utcnow", "Waker", "waker"]
