"""Plots as SVG, drawn on the server (no script): pure functions from numbers to markup.

Colours come from the stylesheet through classes (the CSP allows no inline style), so dark and light both work.
Every plot has a <title> and an aria-label: a screen reader gets what the picture says.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from markupsafe import Markup, escape

W, H, PAD = 360, 120, 24


def _scale(values: Sequence[float], lo: float, hi: float, size: float) -> list[float]:
    span = (hi - lo) or 1.0
    return [size - (v - lo) / span * size for v in values]


def capacity(points: Sequence[tuple[datetime, int]], *, floor: int | None, ceiling: int | None,
             label: str) -> Markup:
    """A step line of capacity over time, with the guardrail band (floor..ceiling) shaded."""
    if not points:
        return Markup("")
    times = [p[0].timestamp() for p in points]
    counts = [p[1] for p in points]
    lo = min([*counts, floor if floor is not None else min(counts)]) - 1
    hi = max([*counts, ceiling if ceiling is not None else max(counts)]) + 1
    t0, t1 = min(times), max(times)
    width, height = W - 2 * PAD, H - 2 * PAD

    def x(t: float) -> float:
        return PAD + ((t - t0) / ((t1 - t0) or 1.0)) * width

    ys = [PAD + y for y in _scale(counts, lo, hi, height)]
    path = f"M{x(times[0]):.1f},{ys[0]:.1f}"
    for i in range(1, len(points)):
        path += f" H{x(times[i]):.1f} V{ys[i]:.1f}"
    path += f" H{PAD + width:.1f}"
    parts = [f'<svg class="plot" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(label)}">',
             f"<title>{escape(label)}</title>"]
    if floor is not None and ceiling is not None:
        top, bottom = (PAD + y for y in _scale([ceiling, floor], lo, hi, height))
        parts.append(f'<rect class="band" x="{PAD}" y="{top:.1f}" width="{width}" height="{bottom - top:.1f}"/>')
        parts.append(f'<text class="axis" x="{W - 4}" y="{top + 10:.1f}" text-anchor="end">ceiling {ceiling}</text>')
        parts.append(f'<text class="axis" x="{W - 4}" y="{bottom - 2:.1f}" text-anchor="end">floor {floor}</text>')
    parts.append(f'<path class="line" d="{path}"/>')
    for t, y, c in zip(times, ys, counts, strict=True):
        parts.append(f'<circle class="dot" cx="{x(t):.1f}" cy="{y:.1f}" r="3"><title>{c}</title></circle>')
    parts.append(f'<text class="axis" x="{PAD}" y="{H - 6}">{escape(points[0][0].strftime("%d %b %H:%M"))}</text>')
    parts.append(f'<text class="axis" x="{W - PAD}" y="{H - 6}" text-anchor="end">'
                 f'{escape(points[-1][0].strftime("%d %b %H:%M"))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text inside went through escape(), numbers are formatted


def bars(values: Sequence[float | None], labels: Sequence[str], *, label: str, unit: str = "") -> Markup:
    """One bar per week (None: nothing to measure that week, drawn as a gap)."""
    known = [v for v in values if v is not None]
    hi = max(known) if known else 1.0
    n = max(len(values), 1)
    width, height = W - 2 * PAD, H - 2 * PAD
    step = width / n
    parts = [f'<svg class="plot" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(label)}">',
             f"<title>{escape(label)}</title>",
             f'<line class="axis-line" x1="{PAD}" y1="{PAD + height}" x2="{PAD + width}" y2="{PAD + height}"/>']
    for i, v in enumerate(values):
        if v is None:
            continue
        h = (v / hi) * height if hi else 0
        parts.append(f'<rect class="bar" x="{PAD + i * step + 2:.1f}" y="{PAD + height - h:.1f}" '
                     f'width="{max(step - 4, 1):.1f}" height="{h:.1f}"><title>{escape(labels[i])}: '
                     f'{v:g}{escape(unit)}</title></rect>')
    if labels:
        parts.append(f'<text class="axis" x="{PAD}" y="{H - 6}">{escape(labels[0])}</text>')
        parts.append(f'<text class="axis" x="{W - PAD}" y="{H - 6}" text-anchor="end">{escape(labels[-1])}</text>')
    parts.append(f'<text class="axis" x="{PAD}" y="{PAD - 8}">max {hi:g}{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text inside went through escape(), numbers are formatted
