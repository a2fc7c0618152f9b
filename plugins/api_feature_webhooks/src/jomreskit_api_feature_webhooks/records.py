"""The records a callback answers with, read by ``statements``.

Money is a string with two decimals ("225.00") so no client loses a cent to floating point;
dates and times are ISO 8601. Nothing secret (a password hash, say) is ever part of a record.
A booking's totals (sums of cents) come from the statement; an invoice's are worked out here, in
decimal arithmetic rounded half to even, from the amounts the statement read: SQL rounds halves
differently, and a total must not change with the database.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# Every guest field a callback can carry besides guest_uid, which is always there.
GUEST_FIELDS = (
    "firstname", "surname", "email", "telephone", "street", "town", "postcode", "country",
    "created_at", "updated_at",
)

CENT = Decimal("0.01")


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def add_invoice_totals(invoice: dict[str, Any]) -> dict[str, Any]:
    """Fill in each line's total (tax included, to the cent) and the invoice's."""
    total = Decimal("0")
    for line in invoice["lines"]:
        net = Decimal(line["unit_price"]) * line["quantity"]
        line_total = (net + net * Decimal(line["tax_rate"]) / 100).quantize(CENT)
        line["total"] = str(line_total)
        total += line_total
    invoice["total"] = _money(total)
    return invoice
