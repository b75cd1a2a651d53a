"""Inline SVG charts, drawn here so the report needs no script, font or image to show them.

Every text that comes from the ledger (failure reasons, labels) is escaped; each series is an
SVG group with ``data-series`` naming it, so a test (or a person with devtools) can find it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

#: Distinguishable colours (Okabe-Ito, colour-blind safe), reused in order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

WIDTH, HEIGHT = 860, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 40, 12, 48


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def stacked_bars(
    title: str,
    buckets: Sequence[tuple[datetime, dict[str, int]]],
    series: Sequence[str],
    *,
    label_format: str = "%m-%d %H:%M",
) -> str:
    """A stacked bar chart: one bar per time bucket, one colour per series (failure reason)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([sum(values.values()) for _, values in buckets] or [0])
    scale_max = _nice_ceiling(top)
    slot = plot_w / max(len(buckets), 1)
    bar_w = max(1.0, slot * 0.8)
    parts = [_open_svg(title), _axes(scale_max, plot_w, plot_h)]
    for index, name in enumerate(series):
        rects = []
        for position, (start, values) in enumerate(buckets):
            value = values.get(name, 0)
            if not value:
                continue
            below = sum(values.get(other, 0) for other in series[:index])
            x = LEFT + position * slot + (slot - bar_w) / 2
            h = plot_h * value / scale_max
            y = TOP + plot_h - plot_h * below / scale_max - h
            tip = f"{start.strftime(label_format)} {name}: {value}"
            rects.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        parts.append(
            f'<g class="series" data-series="{escape(name, quote=True)}" fill="{colour(index)}">'
            + "".join(rects)
            + "</g>"
        )
    parts.append(_x_labels([start.strftime(label_format) for start, _ in buckets], slot))
    parts.append("</svg>")
    return "".join(parts)


def histogram(title: str, bins: Sequence[tuple[str, int]]) -> str:
    """Bars of counts per labelled bin (time to repair)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    scale_max = _nice_ceiling(max([count for _, count in bins] or [0]))
    slot = plot_w / max(len(bins), 1)
    bar_w = slot * 0.7
    rects = []
    for position, (label, count) in enumerate(bins):
        h = plot_h * count / scale_max
        x = LEFT + position * slot + (slot - bar_w) / 2
        y = TOP + plot_h - h
        rects.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" data-bin="{escape(label)}">'
            f"<title>{escape(label)}: {count}</title></rect>"
        )
        if count:
            rects.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{count}</text>')
    return "".join(
        [
            _open_svg(title),
            _axes(scale_max, plot_w, plot_h),
            f'<g class="series" data-series="time to repair" fill="{colour(2)}">',
            *rects,
            "</g>",
            _x_labels([label for label, _ in bins], slot, every=1),
            "</svg>",
        ]
    )


def legend(series: Sequence[str]) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{colour(i)}"></span>{escape(name)}</li>'
        for i, name in enumerate(series)
    )
    return f'<ul class="legend">{items}</ul>'


def _open_svg(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title, quote=True)}" class="chart"><title>{escape(title)}</title>'
    )


def _axes(scale_max: int, plot_w: float, plot_h: float) -> str:
    ticks = []
    for step in range(5):
        value = scale_max * step / 4
        y = TOP + plot_h - plot_h * step / 4
        ticks.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>'
        )
    return f'<g class="axes">{"".join(ticks)}</g>'


def _x_labels(labels: Sequence[str], slot: float, *, every: int | None = None) -> str:
    step = every or max(1, len(labels) // 8)
    y = HEIGHT - BOTTOM + 16
    texts = [
        f'<text x="{LEFT + i * slot + slot / 2:.1f}" y="{y}" text-anchor="middle">{escape(label)}</text>'
        for i, label in enumerate(labels)
        if i % step == 0
    ]
    return f'<g class="x-labels">{"".join(texts)}</g>'


def _nice_ceiling(value: int) -> int:
    """The axis maximum: 4 for an empty chart, else a round number at or above ``value``."""
    if value <= 4:
        return 4
    magnitude = 10 ** (len(str(value)) - 1)
    for factor in (1, 2, 2.5, 4, 5, 10):
        if value <= factor * magnitude and int(factor * magnitude) % 4 == 0:
            return int(factor * magnitude)
    return ((value + 3) // 4) * 4
