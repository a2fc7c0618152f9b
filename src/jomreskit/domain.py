"""What events talk about, for plugins: the domain's models and its service functions.

Part of the public surface (see ``jomreskit``). ``services`` changes data and fires the event of
each change; read the models through ``kit.session()``.
"""

from .core.domain import services
from .core.domain.models import (
    CONTRACT_STATUSES,
    INVOICE_STATUSES,
    ROLES,
    Contract,
    ContractNote,
    Coupon,
    Deposit,
    EventRecord,
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
)

__all__ = [
    "CONTRACT_STATUSES",
    "INVOICE_STATUSES",
    "ROLES",
    "Contract",
    "ContractNote",
    "Coupon",
    "Deposit",
    "EventRecord",
    "Extra",
    "Guest",
    "Invoice",
    "InvoiceLine",
    "ManagerProperty",
    "Property",
    "Review",
    "Room",
    "RoomBooking",
    "Tariff",
    "User",
    "services",
]
