"""How PostgreSQL writes a record as JSON: ``json_build_object`` and ``json_agg``, each value
written as the API writes it (money with two decimals, timestamps as ``timestamp_text``).

``json_sqlite`` offers the same functions for SQLite; ``statements`` builds the records from
either.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Table, Text, case, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement


def const(text: str) -> ColumnElement[Any]:
    """A constant of the statement's own text (names and formats), not a bound parameter."""
    assert "'" not in text
    return literal_column(f"'{text}'")


def obj(**fields: ColumnElement[Any]) -> ColumnElement[Any]:
    """A JSON object of ``fields``, in their order."""
    pairs = [part for name, value in fields.items() for part in (const(name), value)]
    return func.json_build_object(*pairs, type_=JSON)


def array(element: ColumnElement[Any], rows_of: Table, *where: ColumnElement[bool],
          order_by: tuple[ColumnElement[Any], ...]) -> ColumnElement[Any]:
    """A JSON array of ``element`` over the rows of ``rows_of`` matching ``where``, in order;
    ``[]`` for none. Other tables ``where`` names are the enclosing statement's."""
    aggregated = func.json_agg(aggregate_order_by(element, *order_by))
    return (select(func.coalesce(aggregated, literal_column("'[]'::json")))
            .select_from(rows_of).where(*where).correlate_except(rows_of).scalar_subquery())


def nested(record: ColumnElement[Any], rows_of: Table, *where: ColumnElement[bool]
           ) -> ColumnElement[Any]:
    """The one record of ``rows_of`` matching ``where``, or null."""
    return (select(record).select_from(rows_of).where(*where)
            .correlate_except(rows_of).scalar_subquery())


def two_places(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A numeric as a string with two decimals ("225.00"); the columns hold exactly two."""
    return cast(column, Text)


def cents(amount: ColumnElement[Any]) -> ColumnElement[Any]:
    """A sum or difference of two-decimal amounts as a string with two decimals (numeric
    arithmetic is exact; ``round`` fixes the scale, so none is "0")."""
    return cast(func.round(amount, literal_column("2")), Text)


def timestamp(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A UTC timestamp as ``timestamp_text`` writes it: "YYYY-MM-DDTHH:MM:SS.ffffff+00:00"."""
    return (func.to_char(func.timezone(const("UTC"), column), const('YYYY-MM-DD"T"HH24:MI:SS.US'))
            .concat(const("+00:00")))


def boolean(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return column


def json_list(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A JSON list column, ``[]`` when it holds none (SQL NULL or JSON null)."""
    return case((func.json_typeof(column) == const("array"), column),
                else_=literal_column("'[]'::json"))


def days(later: ColumnElement[Any], earlier: ColumnElement[Any]) -> ColumnElement[Any]:
    """Whole days between two dates."""
    return later - earlier
