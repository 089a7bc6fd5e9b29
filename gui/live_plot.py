"""Live plots that repaint at their own rate, not at the data rate.

Data goes into numpy ring buffers as it arrives (cheap: a slice assignment); a ~30 Hz
``QTimer`` redraws only the series that changed. With ``setDownsampling(mode='peak')`` and
``setClipToView(True)`` pyqtgraph draws at most a few points per pixel column, so a profile
streaming thousands of samples a second costs the UI thread the same as one streaming ten
(pyqtgraph ``examples/scrollingPlots.py``).
"""

from __future__ import annotations

import time
from typing import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, QTimer

pg.setConfigOptions(antialias=False, background="w", foreground="k")

REFRESH_HZ = 35  # a little above 30 so timer jitter still leaves >= 30 frames per second
_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def color_for(index: int) -> str:
    return _PALETTE[index % len(_PALETTE)]


class RingBuffer:
    """A fixed-capacity float buffer of (x, y) pairs; the oldest points fall off the front."""

    def __init__(self, capacity: int = 20000) -> None:
        self.capacity = capacity
        self._x = np.zeros(capacity, dtype=np.float64)
        self._y = np.zeros(capacity, dtype=np.float64)
        self._n = 0  # points ever written
        self.total = 0

    def extend(self, xs: Iterable[float], ys: Iterable[float]) -> None:
        x = np.asarray(list(xs) if not isinstance(xs, np.ndarray) else xs, dtype=np.float64)
        y = np.asarray(list(ys) if not isinstance(ys, np.ndarray) else ys, dtype=np.float64)
        if x.size == 0:
            return
        if x.size >= self.capacity:
            x, y = x[-self.capacity:], y[-self.capacity:]
        start = self._n % self.capacity
        end = start + x.size
        if end <= self.capacity:
            self._x[start:end], self._y[start:end] = x, y
        else:
            k = self.capacity - start
            self._x[start:], self._y[start:] = x[:k], y[:k]
            self._x[: end - self.capacity], self._y[: end - self.capacity] = x[k:], y[k:]
        self._n += x.size
        self.total += x.size

    def __len__(self) -> int:
        return min(self._n, self.capacity)

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) in arrival order (copies)."""
        if self._n <= self.capacity:
            return self._x[: self._n].copy(), self._y[: self._n].copy()
        s = self._n % self.capacity
        return np.concatenate((self._x[s:], self._x[:s])), np.concatenate((self._y[s:], self._y[:s]))

    def clear(self) -> None:
        self._n = 0
        self.total = 0


class _SmallPlot(pg.PlotWidget):
    """A PlotWidget that asks for little room, so pages fit a 1366x768 screen (it grows to fill)."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(480, 200)


class _TimedPlot(_SmallPlot):
    """A plot widget with named series, a dirty flag and a refresh timer; counts its frames."""

    def __init__(self, title: str, x_label: str, y_label: str, *, capacity: int = 20000) -> None:
        super().__init__()
        self.setTitle(title)
        self.setLabel("bottom", x_label)
        self.setLabel("left", y_label)
        # No grid on live plots: alpha-blended grid lines across the view cost more to paint
        # than the data itself (measured 3 ms vs 8-16 ms per frame in the offscreen raster).
        for axis in ("left", "bottom"):
            self.getAxis(axis).enableAutoSIPrefix(False)  # a changing prefix re-lays out the axis text
        self.addLegend(offset=(-10, 10))
        self.setMinimumHeight(160)
        self.capacity = capacity
        self.buffers: dict[str, RingBuffer] = {}
        self._dirty: set[str] = set()
        self.frames = 0
        self.redraw_seconds = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(int(1000 / REFRESH_HZ))
        self._timer.timeout.connect(self._refresh)
        self._timer.start()

    def buffer(self, name: str) -> RingBuffer:
        if name not in self.buffers:
            self.buffers[name] = RingBuffer(self.capacity)
            self._add_series(name, color_for(len(self.buffers) - 1))
        return self.buffers[name]

    def append(self, name: str, xs: Iterable[float], ys: Iterable[float]) -> None:
        self.buffer(name).extend(xs, ys)
        self._dirty.add(name)

    def clear_all(self) -> None:
        self.buffers.clear()
        self._dirty.clear()
        self.clear()
        self.addLegend(offset=(-10, 10))
        self._items_cleared()

    def _refresh(self) -> None:
        # A plot in a hidden tab costs nothing: its series stay dirty until it is shown.
        if not self._dirty or not self.isVisible():
            return
        t0 = time.perf_counter()
        for name in list(self._dirty):
            self._draw(name)
        self._dirty.clear()
        self.frames += 1
        self.redraw_seconds += time.perf_counter() - t0

    # subclasses
    def _add_series(self, name: str, color: str) -> None: ...
    def _draw(self, name: str) -> None: ...
    def _items_cleared(self) -> None: ...


class LivePlot(_TimedPlot):
    """Lines of y against x per series (latency per run index, top-1 per image count)."""

    def __init__(self, title: str, x_label: str, y_label: str, *, capacity: int = 20000, symbols: bool = False,
                 robust_y: bool = False) -> None:
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._symbols = symbols
        self._robust_y = robust_y
        super().__init__(title, x_label, y_label, capacity=capacity)
        self.setDownsampling(auto=True, mode="peak")
        self.setClipToView(True)
        if robust_y:
            self.enableAutoRange(axis="y", enable=False)

    def _refresh(self) -> None:
        drew = bool(self._dirty) and self.isVisible()
        super()._refresh()
        if drew and self._robust_y:
            self._fit_y()

    def _fit_y(self) -> None:
        """Fits y to the bulk of the data: one 100 ms hiccup must not flatten 0.3 ms runs into a line."""
        tops = []
        for buf in self.buffers.values():
            _, y = buf.data()
            if y.size:
                tail = y[-4000:]
                tops.append(float(np.percentile(tail, 99)))
        if tops:
            self.setYRange(0, max(tops) * 1.25 or 1.0, padding=0)

    def _add_series(self, name: str, color: str) -> None:
        kw = {"symbol": "o", "symbolSize": 5, "symbolBrush": color} if self._symbols else {}
        # Width-1 (cosmetic) pens: wider pens make the raster engine stroke every segment as a polygon.
        self._curves[name] = self.plot([], [], pen=pg.mkPen(color, width=1), name=name, **kw)

    def _draw(self, name: str) -> None:
        x, y = self.buffers[name].data()
        self._curves[name].setData(x, y)

    def _items_cleared(self) -> None:
        self._curves.clear()


class LiveHistogram(_TimedPlot):
    """A step histogram per series of the values seen so far (latency distribution)."""

    def __init__(self, title: str, x_label: str, *, bins: int = 40, capacity: int = 20000) -> None:
        self._curves: dict[str, pg.PlotDataItem] = {}
        self.bins = bins
        super().__init__(title, x_label, "runs", capacity=capacity)

    def add_values(self, name: str, values: Iterable[float]) -> None:
        v = values if isinstance(values, np.ndarray) else np.asarray(list(values), dtype=np.float64)
        self.append(name, np.zeros_like(v), v)

    def _add_series(self, name: str, color: str) -> None:
        self._curves[name] = self.plot([0, 1], [0], stepMode="center", pen=pg.mkPen(color, width=1),
                                       fillLevel=0, fillBrush=pg.mkBrush(color + "40"), name=name)

    def _draw(self, name: str) -> None:
        _, values = self.buffers[name].data()
        if values.size == 0:
            return
        lo, hi = np.percentile(values, [0.5, 99.5]) if values.size > 50 else (values.min(), values.max())
        if hi <= lo:
            hi = lo + 1.0
        counts, edges = np.histogram(values, bins=self.bins, range=(lo, hi))
        self._curves[name].setData(edges, counts)

    def _items_cleared(self) -> None:
        self._curves.clear()


class Scatter(_SmallPlot):
    """Labelled points (accuracy against latency per variant); redrawn on demand, it changes rarely."""

    def __init__(self, title: str, x_label: str, y_label: str) -> None:
        super().__init__()
        self.setTitle(title)
        self.setLabel("bottom", x_label)
        self.setLabel("left", y_label)
        self.showGrid(x=True, y=True, alpha=0.3)
        for axis in ("left", "bottom"):
            self.getAxis(axis).enableAutoSIPrefix(False)
        self.setMinimumHeight(160)
        self.points: dict[str, tuple[float, float]] = {}

    def set_points(self, points: dict[str, tuple[float, float]]) -> None:
        """One marker per variant, named in the legend (text labels would overlap when points coincide)."""
        self.points = dict(points)
        self.clear()
        if self.plotItem.legend is None:
            self.addLegend(offset=(-10, 10))
        symbols = "ostd+x"
        for i, (name, (x, y)) in enumerate(sorted(self.points.items())):
            color = color_for(i)
            self.plot([x], [y], pen=None, symbol=symbols[i % len(symbols)], symbolSize=12,
                      symbolBrush=pg.mkBrush(color), symbolPen=pg.mkPen("k"), name=name)
        if self.points:
            ys = [y for _, y in self.points.values()]
            xs = [x for x, _ in self.points.values()]
            lo, hi = min(ys), max(ys)
            pad = max(1.0, (hi - lo) * 0.2)  # equal accuracies must not zoom the axis into rounding noise
            self.setYRange(max(0.0, lo - pad), min(100.0, hi + pad) if hi <= 100 else hi + pad, padding=0)
            self.setXRange(0, max(xs) * 1.15 or 1.0, padding=0)
