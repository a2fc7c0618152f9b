"""The dashboard's hourly chart, laid out for an inline SVG the template draws.

One column per hour, its attempts stacked bottom up: succeeded (solid), retrying (striped),
failed (cross-hatched), so that the outcomes differ by more than colour; the scale's top is a
round number (1, 2 or 5 times a power of ten) written beside its gridline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .dashboard import OUTCOMES, Hour

# The chart's own units (its viewBox); the page scales it to the width it has, from a
# phone's (about 0.8 of a pixel a unit) to 34rem.
WIDTH = 400
HEIGHT = 170
LEFT = 34  # room for the scale's labels
RIGHT = 6
TOP = 12
BOTTOM = 24  # room for the hours' labels
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
FILL = {"succeeded": "#1e7a3c", "retrying": "#d99000", "failed": "#b3261e"}
STRIPE = {"retrying": "#7a5200", "failed": "#5c1410"}  # the patterns' lines


@dataclass(frozen=True)
class Bar:
    outcome: str
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Column:
    hour: Hour
    label: str  # what the column says when pointed at, and to screen readers
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Chart:
    columns: tuple[Column, ...]
    scale_top: int
    ticks: tuple[tuple[float, str], ...]  # (x, "12:00") where every sixth hour begins
    baseline: float
    top: float
    left: float
    right: float
    width: int = WIDTH
    height: int = HEIGHT


def scale_top(largest: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... that is at least ``largest``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= largest:
                return step * factor
        step *= 10


def hourly(hours: Sequence[Hour]) -> Chart:
    """The chart of ``hours``' attempts, oldest hour at the left."""
    top_value = scale_top(max((hour.total for hour in hours), default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(len(hours), 1)
    baseline = TOP + PLOT_HEIGHT
    columns = []
    ticks = []
    for i, hour in enumerate(hours):
        x = LEFT + i * slot
        y = baseline
        bars = []
        for outcome in OUTCOMES:
            count = getattr(hour, outcome)
            if not count:
                continue
            height = PLOT_HEIGHT * count / top_value
            y -= height
            bars.append(Bar(outcome, count, round(x + slot * 0.15, 2), round(y, 2),
                            round(slot * 0.7, 2), round(height, 2)))
        label = (f"{hour.start:%H:%M}–{(hour.start.hour + 1) % 24:02d}:00 UTC: "
                 + ", ".join(f"{getattr(hour, o)} {o}" for o in OUTCOMES))
        columns.append(Column(hour, label, tuple(bars)))
        if hour.start.hour % 6 == 0:
            ticks.append((round(x, 2), f"{hour.start:%H:%M}"))  # where the hour begins
    return Chart(tuple(columns), top_value, tuple(ticks), baseline=baseline, top=TOP,
                 left=LEFT, right=WIDTH - RIGHT)
