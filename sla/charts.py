"""Charts drawn on the server as SVG (no CDN, no JavaScript, nothing to build): the geometry of
bar charts and heat grids, for ``templates/sla/_bar_chart.svg.html`` and ``_heat_grid.svg.html``.

Colours are SVG presentation attributes, not ``style``, so a strict Content-Security-Policy
needs nothing for them. Every chart is shown with its table (screen readers, copying).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.html import format_html

# Colour-blind-safe series colours (Okabe-Ito) and a sequential scale for shares.
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
SHARE_SCALE = (
    (Decimal("0.95"), "#1a7f37", "#ffffff"),
    (Decimal("0.90"), "#4ca35a", "#000000"),
    (Decimal("0.80"), "#bfd96b", "#000000"),
    (Decimal("0.60"), "#f2c14e", "#000000"),
    (Decimal("0"), "#d1462f", "#ffffff"),
)


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str
    href: str = ""

    @property
    def svg(self) -> str:
        """The bar's SVG, escaped: the same markup the template wrote field by field (numbers
        as ``str`` writes them, as the template did), at a fraction of the cost for a year of
        daily bars."""
        rect = format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
            self.x,
            self.y,
            self.width,
            self.height,
            self.colour,
            self.title,
        )
        return format_html('<a href="{}">{}</a>', self.href, rect) if self.href else rect


@dataclass
class Tick:
    position: float
    label: str


@dataclass
class BarChart:
    title: str
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    plot_left: float = 0
    plot_bottom: float = 0
    plot_right: float = 0
    plot_top: float = 0
    empty: bool = False


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^n at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    width: int = 640,
    height: int = 220,
    value_format: str = "{:g}",
    max_value: float | None = None,
    hrefs: Sequence[Sequence[str]] | None = None,
    label_every: int = 1,
) -> BarChart:
    """Grouped vertical bars: one group per category, one bar per series in each group."""
    left, right, top, bottom = 44.0, 8.0, 10.0, 28.0
    chart = BarChart(title, width, height, plot_left=left, plot_right=width - right)
    chart.plot_top, chart.plot_bottom = top, height - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    chart.empty = not values or not categories
    top_value = max_value or nice_max(max(values, default=0))
    plot_w, plot_h = width - left - right, height - top - bottom
    group_w = plot_w / max(len(categories), 1)
    gap = min(group_w * 0.2, 6)
    bar_w = max((group_w - gap) / max(len(series), 1), 0.5)
    for s, (name, numbers) in enumerate(series):
        colour = SERIES_COLOURS[s % len(SERIES_COLOURS)]
        if len(series) > 1:
            chart.legend.append((colour, name))
        for c, value in enumerate(numbers):
            if value is None:
                continue
            h = plot_h * min(value / top_value, 1)
            x = left + c * group_w + gap / 2 + s * bar_w
            label = f"{categories[c]}: {value_format.format(value)}"
            chart.bars.append(
                Bar(
                    x=round(x, 2),
                    y=round(top + plot_h - h, 2),
                    width=round(bar_w, 2),
                    height=round(h, 2),
                    colour=colour,
                    title=f"{name} · {label}" if len(series) > 1 else label,
                    href=hrefs[s][c] if hrefs else "",
                )
            )
    for c, category in enumerate(categories):
        if c % label_every == 0:
            chart.x_ticks.append(Tick(round(left + (c + 0.5) * group_w, 2), category))
    for i in range(5):
        value = top_value * i / 4
        chart.y_ticks.append(
            Tick(round(top + plot_h - plot_h * i / 4, 2), value_format.format(value))
        )
    return chart


@dataclass
class Cell:
    x: float
    y: float
    width: float
    height: float
    fill: str
    ink: str
    text: str
    title: str


@dataclass
class HeatGrid:
    title: str
    width: int
    height: int
    cells: list[Cell] = field(default_factory=list)
    columns: list[Tick] = field(default_factory=list)
    rows: list[Tick] = field(default_factory=list)
    empty: bool = False


def share_colours(share: Decimal | None) -> tuple[str, str]:
    if share is None:
        return "#eeeeee", "#333333"
    for floor, fill, ink in SHARE_SCALE:
        if share >= floor:
            return fill, ink
    return SHARE_SCALE[-1][1], SHARE_SCALE[-1][2]  # pragma: no cover


def heat_grid(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    shares: dict[tuple[str, str], tuple[Decimal | None, int]],
) -> HeatGrid:
    """A grid of met shares (rows × columns); ``shares`` maps (row, column) to (share, sample)."""
    cell_w, cell_h, left, top = 92.0, 26.0, 70.0, 24.0
    grid = HeatGrid(title, int(left + cell_w * len(columns) + 4), int(top + cell_h * len(rows) + 4))
    grid.empty = not rows
    for c, column in enumerate(columns):
        grid.columns.append(Tick(left + (c + 0.5) * cell_w, column))
    for r, row in enumerate(rows):
        grid.rows.append(Tick(top + (r + 0.5) * cell_h, row))
        for c, column in enumerate(columns):
            share, sample = shares.get((row, column), (None, 0))
            fill, ink = share_colours(share)
            text = "–" if share is None else f"{share * 100:.0f}%"
            grid.cells.append(
                Cell(
                    x=left + c * cell_w + 1,
                    y=top + r * cell_h + 1,
                    width=cell_w - 2,
                    height=cell_h - 2,
                    fill=fill,
                    ink=ink,
                    text=text,
                    title=f"{row} · {column}: {text} met of {sample}",
                )
            )
    return grid
