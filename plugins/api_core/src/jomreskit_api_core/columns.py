"""Columns other plugins add to App Key Management's table of keys (the ``api_key_columns``
hook), so the page can show what a plugin knows about each key without api_core knowing the
plugin."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jomreskit import Kit

    from .models import ApiKey

log = logging.getLogger(__name__)

UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class KeyColumn:
    """A column of App Key Management's table.

    ``cells(kit, keys)`` is called once per page with every key shown (revoked ones too) and
    returns ``{key.id: text}``, read with as few queries as it can (one, for all the keys);
    a key it leaves out shows a dash. The text is shown as it is, escaped.
    """

    title: str
    cells: Callable[[Kit, Sequence[ApiKey]], Mapping[int, str]]


@dataclass(frozen=True)
class FilledColumn:
    title: str
    cells: Mapping[int, str]


def fill(kit: Kit, keys: Sequence[ApiKey]) -> list[FilledColumn]:
    """Every loaded plugin's columns, filled for ``keys``.

    A column whose cells cannot be read says so in each cell and is logged: a plugin's fault
    (its table missing, say) leaves key management itself working. (A hook that raises hides
    every plugin's columns, logged: pluggy calls the implementations together.)
    """
    if not keys:
        return []  # no table to fill
    try:
        # Asked on each page, so a plugin disabled meanwhile takes its column with it.
        declared = [c for columns in kit.hooks.pm.hook.api_key_columns() for c in columns or ()]
    except Exception:
        log.exception("App Key Management: a plugin's api_key_columns hook failed; the page "
                      "shows no plugin columns")
        return []
    filled = []
    for column in declared:
        try:
            cells = dict(column.cells(kit, keys))
        except Exception:
            log.exception("App Key Management: the column %r could not be filled", column.title)
            kit.session().rollback()  # PostgreSQL refuses the page's next statement otherwise
            cells = {key.id: UNAVAILABLE for key in keys}
        filled.append(FilledColumn(column.title, cells))
    return filled
