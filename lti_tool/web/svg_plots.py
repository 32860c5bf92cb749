"""Charts drawn by the tool itself as inline SVG: no JavaScript library, no external font, and
nothing a strict Content-Security-Policy would block (presentation attributes, not style
attributes). Colours are colour-blind safe and never the only cue: lines also differ in marker
shape and dash pattern, and every chart comes with its numbers in a table next to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
MARKERS = ("circle", "square", "triangle", "diamond")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
# Viridis, ten steps from low (dark purple) to high (yellow): sequential, colour-blind safe,
# and readable in greyscale. teacher.css holds the same steps as .heat-0 ... .heat-9.
HEAT_STEPS = 10
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def heat_class(value: float | None) -> str:
    """The CSS class of a heatmap cell for a value in [0, 1]; "heat-none" without a value."""
    if value is None:
        return "heat-none"
    step = min(HEAT_STEPS - 1, max(0, int(value * HEAT_STEPS)))
    return f"heat-{step}"


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float]]  # (x, y), y inside the plot's y range
    notes: Sequence[str] = ()  # per point, shown as a tooltip (e.g. the date); optional


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _marker(kind: str, x: float, y: float, colour: str, tip: str) -> str:
    title = f"<title>{escape(tip)}</title>" if tip else ""
    if kind == "square":
        return (f'<rect x="{_fmt(x - 4)}" y="{_fmt(y - 4)}" width="8" height="8" '
                f'fill="{colour}">{title}</rect>')
    if kind == "triangle":
        pts = f"{_fmt(x)},{_fmt(y - 5)} {_fmt(x + 5)},{_fmt(y + 4)} {_fmt(x - 5)},{_fmt(y + 4)}"
        return f'<polygon points="{pts}" fill="{colour}">{title}</polygon>'
    if kind == "diamond":
        pts = f"{_fmt(x)},{_fmt(y - 5)} {_fmt(x + 5)},{_fmt(y)} {_fmt(x)},{_fmt(y + 5)} " \
              f"{_fmt(x - 5)},{_fmt(y)}"
        return f'<polygon points="{pts}" fill="{colour}">{title}</polygon>'
    return f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="4" fill="{colour}">{title}</circle>'


def line_plot(series: Sequence[Series], *, title: str, description: str, x_label: str,
              y_label: str, y_range: tuple[float, float] = (0.0, 1.0), percent: bool = True,
              reference: tuple[float, str] | None = None, width: int = 640,
              height: int = 300, dom_id: str = "plot") -> Markup:
    """A line chart with axes, gridlines, a legend and an optional dashed reference line
    (e.g. the mastery threshold). x values are plotted as given; integer x ticks. `dom_id`
    keeps the title/description ids unique when a page holds several charts."""
    left, right, top, bottom = 52, 16, 16, 44
    legend_cols = 2
    legend_rows = (len(series) + legend_cols - 1) // legend_cols
    plot_h = height - top - bottom
    total_h = height + 20 * legend_rows
    plot_w = width - left - right
    xs = [x for s in series for x, _ in s.points] or [1.0]
    x_lo, x_hi = min(xs), max(xs)
    if x_hi - x_lo < 1:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    pad = (x_hi - x_lo) * 0.04  # markers on the first and last set stay clear of the axes
    x_lo, x_hi = x_lo - pad, x_hi + pad
    y_lo, y_hi = y_range

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * plot_w

    def py(y: float) -> float:
        y = min(y_hi, max(y_lo, y))
        return top + (1 - (y - y_lo) / (y_hi - y_lo)) * plot_h

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_h}" '
        f'width="{width}" height="{total_h}" role="img" class="plot" '
        f'aria-labelledby="{dom_id}-title {dom_id}-desc" font-family="{FONT}" font-size="12">',
        f'<title id="{dom_id}-title">{escape(title)}</title>',
        f'<desc id="{dom_id}-desc">{escape(description)}</desc>',
    ]
    for k in range(5):  # y gridlines and labels
        y = y_lo + (y_hi - y_lo) * k / 4
        label = f"{y:.0%}" if percent else _fmt(y)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{_fmt(py(y))}" '
                   f'y2="{_fmt(py(y))}" stroke="#d8dde6" stroke-width="1"/>')
        out.append(f'<text x="{left - 6}" y="{_fmt(py(y) + 4)}" text-anchor="end" '
                   f'fill="#5b6475">{label}</text>')
    step = max(1, round((x_hi - x_lo) / 10))
    tick = math.ceil(x_lo)
    while tick <= x_hi:
        out.append(f'<text x="{_fmt(px(tick))}" y="{top + plot_h + 16}" text-anchor="middle" '
                   f'fill="#5b6475">{tick}</text>')
        tick += step
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
               f'y2="{top + plot_h}" stroke="#5b6475" stroke-width="1"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" '
               f'stroke="#5b6475" stroke-width="1"/>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 34}" '
               f'text-anchor="middle" fill="#1d2330">{escape(x_label)}</text>')
    out.append(f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" fill="#1d2330" '
               f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(y_label)}</text>')
    if reference is not None:
        ry, rlabel = reference
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{_fmt(py(ry))}" '
                   f'y2="{_fmt(py(ry))}" stroke="#1d2330" stroke-width="1" '
                   f'stroke-dasharray="4 4"><title>{escape(rlabel)}</title></line>')
        out.append(f'<text x="{width - right - 4}" y="{_fmt(py(ry) - 4)}" text-anchor="end" '
                   f'fill="#1d2330">{escape(rlabel)}</text>')
    for n, s in enumerate(series):
        colour, marker, dash = (PALETTE[n % len(PALETTE)], MARKERS[n % len(MARKERS)],
                                DASHES[(n // len(MARKERS)) % len(DASHES)])
        pts = [(px(x), py(y)) for x, y in s.points]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<g class="series"><title>{escape(s.label)}</title>')
        if len(pts) > 1:
            path = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                       f'stroke-width="2"{dash_attr}/>')
        for k, ((x, y), (_, v)) in enumerate(zip(pts, s.points, strict=True)):
            note = s.notes[k] if k < len(s.notes) else ""
            value = f"{v:.0%}" if percent else _fmt(v)
            tip = f"{s.label}: {value}" + (f" ({note})" if note else "")
            out.append(_marker(marker, x, y, colour, tip))
        out.append("</g>")
        lx = left + (n % legend_cols) * (plot_w / legend_cols)
        ly = height + 20 * (n // legend_cols) + 2
        out.append(f'<line x1="{_fmt(lx)}" x2="{_fmt(lx + 24)}" y1="{ly}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"{dash_attr}/>')
        out.append(_marker(marker, lx + 12, ly, colour, ""))
        label = s.label if len(s.label) <= 40 else s.label[:39] + "…"
        out.append(f'<text x="{_fmt(lx + 30)}" y="{ly + 4}" fill="#1d2330">'
                   f'{escape(label)}</text>')
    out.append("</svg>")
    return Markup("\n".join(out))
