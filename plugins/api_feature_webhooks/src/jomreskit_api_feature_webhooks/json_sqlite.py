"""How SQLite writes a record as JSON: ``json_object`` and ``json_group_array``, each value
written as the API writes it (money with two decimals, timestamps as ``timestamp_text``).

``json_postgresql`` offers the same functions for PostgreSQL; ``statements`` builds the records
from either.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    String,
    Table,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement


def const(text: str) -> ColumnElement[Any]:
    """A constant of the statement's own text (names and formats), not a bound parameter."""
    assert "'" not in text
    return literal_column(f"'{text}'")


def number(value: int) -> ColumnElement[Any]:
    """A whole number of the statement's own text."""
    return literal_column(str(int(value)))


def obj(**fields: ColumnElement[Any]) -> ColumnElement[Any]:
    """A JSON object of ``fields``, in their order."""
    pairs = [part for name, value in fields.items() for part in (const(name), value)]
    return func.json_object(*pairs, type_=JSON)


def array(element: ColumnElement[Any], rows_of: Table, *where: ColumnElement[bool],
          order_by: tuple[ColumnElement[Any], ...]) -> ColumnElement[Any]:
    """A JSON array of ``element`` over the rows of ``rows_of`` matching ``where``, in order;
    ``[]`` for none. Other tables ``where`` names are the enclosing statement's.

    SQLite's aggregates take no ORDER BY before 3.44; as a window over all the rows, ordered,
    json_group_array gives every row the whole array, and the first row is enough.
    """
    whole = func.json_group_array(element).over(order_by=order_by, rows=(None, None))
    rows = (select(whole).select_from(rows_of).where(*where).correlate_except(rows_of)
            .limit(number(1)).offset(number(0)).scalar_subquery())
    return func.coalesce(func.json(rows), func.json(const("[]")))


def nested(record: ColumnElement[Any], rows_of: Table, *where: ColumnElement[bool]
           ) -> ColumnElement[Any]:
    """The one record of ``rows_of`` matching ``where``, or null."""
    # json(): a JSON value coming out of a subquery is text again until it is told otherwise.
    return func.json(select(record).select_from(rows_of).where(*where)
                     .correlate_except(rows_of).scalar_subquery())


def two_places(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A numeric as a string with two decimals ("225.00"), as SQLAlchemy reads SQLite's."""
    return case((column.is_(None), null()), else_=func.printf(const("%.2f"), column))


def cents(amount: ColumnElement[Any]) -> ColumnElement[Any]:
    """A sum or difference of two-decimal amounts as a string with two decimals. SQLite adds
    them as doubles, a hair off the exact cents: rounded to the cent (and ``+ 0.0``, which turns
    a rounded -0.0 into 0.0) it is the exact amount, as Python's decimals would write it."""
    return func.printf(const("%.2f"), func.round(amount, number(2)) + literal_column("0.0"))


def timestamp(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A UTC timestamp (stored as "YYYY-MM-DD HH:MM:SS.ffffff") as ``timestamp_text`` writes
    it: "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" (a value written without its fraction reads .000000)."""
    stored = type_coerce(column, String)  # its text as stored
    fraction = func.substr(stored.concat(const(".000000")), number(20), number(7))
    return (func.substr(column, number(1), number(10)).concat(const("T"))
            .concat(func.substr(column, number(12), number(8))).concat(fraction)
            .concat(const("+00:00")))


def boolean(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A boolean (stored as 0 or 1) as JSON true or false."""
    return func.json(case((column == number(0), const("false")),
                          (column == number(1), const("true"))))


def json_list(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A JSON list column, ``[]`` when it holds none (SQL NULL or JSON null)."""
    return case((func.json_type(column) == const("array"), func.json(column)),
                else_=func.json(const("[]")))


def days(later: ColumnElement[Any], earlier: ColumnElement[Any]) -> ColumnElement[Any]:
    """Whole days between two dates (stored as "YYYY-MM-DD")."""
    return cast(func.julianday(later) - func.julianday(earlier), Integer)
