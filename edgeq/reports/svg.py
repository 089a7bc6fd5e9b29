"""A tiny SVG writer for report charts: shapes, text, axes and "nice" ticks, with everything escaped.

Charts are inline SVG so a report is one file that opens offline and prints sharply; no
JavaScript, no fonts, no network. Every string that reaches the SVG (labels, tooltips) goes
through :func:`markupsafe.escape`, because model names and class labels come from users' files.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from markupsafe import Markup, escape

# Okabe–Ito: distinguishable with the common colour-vision deficiencies and in greyscale print.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MODE_COLORS = {"float32": "#0072B2", "float16": "#56B4E9", "dynamic": "#009E73", "int8": "#D55E00",
               "int16x8": "#CC79A7"}
INK = "#222"
GRID = "#ddd"
FONT = 11


def color_for(mode: str | None, i: int = 0) -> str:
    """A stable colour per quantization mode (other names cycle through the palette)."""
    return MODE_COLORS.get(str(mode), PALETTE[i % len(PALETTE)])


def _attrs(attrs: dict[str, Any]) -> str:
    out = []
    for k, v in attrs.items():
        if v is None:
            continue
        if isinstance(v, float):
            v = f"{v:.2f}"
        out.append(f' {k.rstrip("_").replace("_", "-")}="{escape(v)}"')
    return "".join(out)


class Svg:
    """Accumulates SVG elements; :meth:`render` returns safe markup for a Jinja template."""

    def __init__(self, width: int, height: int, label: str) -> None:
        self.width, self.height, self.label = width, height, label
        self._parts: list[str] = []

    def add(self, tag: str, title: str | None = None, text: str | None = None, **attrs: Any) -> None:
        inner = ""
        if title:
            inner += f"<title>{escape(title)}</title>"
        if text is not None:
            inner += str(escape(text))
        self._parts.append(f"<{tag}{_attrs(attrs)}>{inner}</{tag}>" if inner else f"<{tag}{_attrs(attrs)}/>")

    def rect(self, x: float, y: float, w: float, h: float, fill: str, title: str | None = None, **a: Any) -> None:
        self.add("rect", title, x=float(x), y=float(y), width=float(max(w, 0.0)), height=float(max(h, 0.0)),
                 fill=fill, **a)

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = INK, width: float = 1.0, **a: Any) -> None:
        self.add("line", x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), stroke=stroke,
                 stroke_width=float(width), **a)

    def text(self, x: float, y: float, s: str, anchor: str = "start", size: int = FONT, **a: Any) -> None:
        fill = a.pop("fill", INK)
        self.add("text", text=s, x=float(x), y=float(y), text_anchor=anchor, font_size=size, fill=fill, **a)

    def circle(self, x: float, y: float, r: float, fill: str, title: str | None = None, **a: Any) -> None:
        self.add("circle", title, cx=float(x), cy=float(y), r=float(r), fill=fill, **a)

    def polyline(self, points: Iterable[tuple[float, float]], stroke: str, width: float = 1.5, **a: Any) -> None:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.add("polyline", points=pts, fill="none", stroke=stroke, stroke_width=float(width), **a)

    def render(self) -> Markup:
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
                f'width="{self.width}" height="{self.height}" role="img" aria-label="{escape(self.label)}" '
                f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">')
        return Markup(head + f"<title>{escape(self.label)}</title>" + "".join(self._parts) + "</svg>")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 × 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(v, 10))
    return ticks


def tick_label(v: float) -> str:
    return f"{v:g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"


class Scale:
    """Linear map from data [d0, d1] to pixels [p0, p1]."""

    def __init__(self, d0: float, d1: float, p0: float, p1: float) -> None:
        self.d0, self.d1, self.p0, self.p1 = d0, (d1 if d1 != d0 else d0 + 1.0), p0, p1

    def __call__(self, v: float) -> float:
        return self.p0 + (v - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0)


class LogScale(Scale):
    """Log10 map for data spanning decades (latencies of float vs int8 on one axis)."""

    def __init__(self, d0: float, d1: float, p0: float, p1: float) -> None:
        super().__init__(math.log10(d0), math.log10(d1), p0, p1)

    def __call__(self, v: float) -> float:
        return super().__call__(math.log10(max(v, 1e-12)))


def log_ticks(lo: float, hi: float) -> list[float]:
    """1, 2, 5 × 10^k ticks from the largest at or below ``lo`` to the smallest at or above ``hi`` (both > 0)."""
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    cands = [round(m * 10.0**k, 12) for k in range(k0, k1 + 1) for m in (1, 2, 5)]
    first = max(t for t in cands if t <= lo)
    last = min(t for t in cands if t >= hi)
    return [t for t in cands if first <= t <= last]


def axis_for(values: Sequence[float], p0: float, p1: float, *, zero: bool = True) -> tuple[Scale, list[float], bool]:
    """A linear scale from 0 (or a log scale when the values span more than 20×), with its ticks."""
    lo, hi = min(values), max(values)
    if lo > 0 and hi / lo > 20:
        ticks = log_ticks(lo, hi)
        return LogScale(ticks[0], ticks[-1], p0, p1), ticks, True
    ticks = nice_ticks(0.0 if zero else lo, hi)
    return Scale(ticks[0], ticks[-1], p0, p1), ticks, False


def x_axis(svg: Svg, scale: Scale, ticks: Sequence[float], y: float, top: float, label: str) -> None:
    """Bottom axis with vertical grid lines from ``top`` to ``y``."""
    for t in ticks:
        x = scale(t)
        svg.line(x, top, x, y, stroke=GRID)
        svg.text(x, y + 14, tick_label(t), anchor="middle", size=FONT - 1)
    svg.line(scale.p0, y, scale.p1, y)
    svg.text((scale.p0 + scale.p1) / 2, y + 30, label, anchor="middle")


def y_axis(svg: Svg, scale: Scale, ticks: Sequence[float], x: float, right: float, label: str) -> None:
    """Left axis with horizontal grid lines from ``x`` to ``right``."""
    for t in ticks:
        y = scale(t)
        svg.line(x, y, right, y, stroke=GRID)
        svg.text(x - 6, y + 4, tick_label(t), anchor="end", size=FONT - 1)
    svg.line(x, scale.p0, x, scale.p1)
    mid = (scale.p0 + scale.p1) / 2
    svg.add("text", text=label, x=14.0, y=float(mid), text_anchor="middle", font_size=FONT, fill=INK,
            transform=f"rotate(-90 14 {mid:.1f})")


def legend(svg: Svg, items: Sequence[tuple[str, str]], x: float, y: float) -> None:
    """A one-row legend of (label, colour) swatches starting at (x, y)."""
    for label, col in items:
        svg.rect(x, y - 9, 10, 10, col)
        svg.text(x + 14, y, label, size=FONT - 1)
        x += 22 + 6.5 * len(label)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of already sorted values."""
    n = len(sorted_values)
    if n == 1:
        return float(sorted_values[0])
    pos = (n - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo))
