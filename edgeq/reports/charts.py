"""The report's charts, drawn from the report document alone (inline SVG, see :mod:`edgeq.reports.svg`).

Each function returns a list of :class:`Chart` (one per device where that matters), empty when
the document lacks the data; the HTML says what to run to get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from edgeq.reports.svg import (GRID, INK, Scale, Svg, axis_for, color_for, legend, nice_ticks, percentile,
                               x_axis, y_axis)

MAX_POINTS = 400  # per series in the run-index chart; longer ones are reduced to per-bucket median and max


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    caption: str
    svg: Markup


def _unit(values: list[float]) -> tuple[float, str]:
    """Divisor and unit for microsecond values: always ms, the unit of every latency in a report."""
    return (1000.0, "ms")


def _label(doc: dict[str, Any], e: dict[str, Any], with_device: bool = True) -> str:
    multi = len(doc["sources"]) > 1
    return (f"{e['source']}/" if multi else "") + str(e["mode"]) + (f" · {e['device']}" if with_device else "")


def _timed(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in doc["latency"] if e["status"] in ("ok", "partial") and e["samples_us"]]


def latency_distribution(doc: dict[str, Any]) -> list[Chart]:
    """Box plot per variant × device: box = quartiles, whiskers = p5..p95, dots = runs beyond.

    The axis covers the whiskers, not the worst spike (one 150 ms hiccup would squash every box
    into a line); runs beyond it are counted at the right edge. Latencies spanning more than 20×
    (int16x8 next to int8) get a log axis.
    """
    entries = _timed(doc)
    if not entries:
        return []
    boxes = []
    for e in entries:
        s = sorted(e["samples_us"])
        boxes.append([percentile(s, q) for q in (5, 25, 50, 75, 95)] + [s])
    div, unit = _unit([b[2] for b in boxes])
    labels = [_label(doc, e) for e in entries]
    left = 20 + min(260, 7 * max(len(s) for s in labels))
    row_h, top, width = 26, 14, 760
    height = top + row_h * len(entries) + 46
    lo, hi = min(b[0] for b in boxes) / div, max(b[4] for b in boxes) / div
    sx, ticks, log = axis_for([lo / 1.3, hi * 1.3], left, width - 50)
    svg = Svg(width, height, f"Latency distribution per variant and device ({unit})")
    bottom = top + row_h * len(entries)
    x_axis(svg, sx, ticks, bottom, top, f"latency per inference ({unit}{', log scale' if log else ''}); "
                                        "box = quartiles, whiskers = p5–p95")
    for i, (e, label, (p5, q1, med, q3, p95, s)) in enumerate(zip(entries, labels, boxes)):
        p5, q1, med, q3, p95 = (v / div for v in (p5, q1, med, q3, p95))
        cy = top + row_h * i + row_h / 2
        col = color_for(e["mode"], i)
        svg.text(left - 8, cy + 4, label, anchor="end")
        svg.line(sx(p5), cy, sx(p95), cy, stroke=INK)
        for w in (p5, p95):
            svg.line(sx(w), cy - 5, sx(w), cy + 5, stroke=INK)
        tip = (f"{label}: median {med:.3g} {unit}, quartiles {q1:.3g}–{q3:.3g}, p5–p95 {p5:.3g}–{p95:.3g}, "
               f"{len(s)} runs")
        svg.rect(sx(q1), cy - 8, max(sx(q3) - sx(q1), 1.5), 16, col, title=tip, fill_opacity="0.55", stroke=col)
        svg.line(sx(med), cy - 8, sx(med), cy + 8, stroke=INK, width=2)
        out = [v / div for v in s if v / div < p5 or v / div > p95]
        shown = [v for v in out if ticks[0] <= v <= ticks[-1]]
        beyond = len(out) - len(shown) - sum(1 for v in out if v < ticks[0])
        step = max(1, len(shown) // 40)  # a few dozen dots show the tail; thousands would hide the box
        for v in shown[::step]:
            svg.circle(sx(v), cy, 1.8, col, title=f"{v:.3g} {unit}")
        if beyond:
            svg.text(width - 46, cy + 4, f"+{beyond} ▸", size=10, fill=col)
    return [Chart("latency-distribution", "Latency distribution",
                  f"{len(entries)} variant × device runs; '+n ▸' counts runs slower than the axis", svg.render())]


def _buckets(samples: list[float]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(index, median) and (index, p95) per bucket of runs; a short series is returned as is (and no p95)."""
    n = len(samples)
    if n <= MAX_POINTS:
        pts = [(float(i), v) for i, v in enumerate(samples)]
        return pts, []
    size = -(-n // MAX_POINTS)
    med, peak = [], []
    for b in range(0, n, size):
        chunk = sorted(samples[b:b + size])
        mid = b + (len(chunk) - 1) / 2
        med.append((mid, percentile(chunk, 50)))
        peak.append((mid, percentile(chunk, 95)))
    return med, peak


def latency_over_runs(doc: dict[str, Any]) -> list[Chart]:
    """Latency against run index, one chart per device, one line per variant (drift, throttling, warm-up).

    The axis stops a little above the slowest p95; rarer spikes are drawn at the top edge.
    """
    charts = []
    devices = sorted({e["device"] for e in _timed(doc)})
    for d_i, device in enumerate(devices):
        entries = [e for e in _timed(doc) if e["device"] == device]
        p95 = max(percentile(sorted(e["samples_us"]), 95) for e in entries) * 1.2
        p1 = min(percentile(sorted(e["samples_us"]), 1) for e in entries)
        div, unit = _unit([p95])
        width, height, left, top, bottom = 760, 250, 60, 28, 206
        n = max(len(e["samples_us"]) for e in entries)
        sy, yt, log = axis_for([p1 / div / 1.3, p95 / div * 1.25], bottom, top)
        sx = Scale(0, max(n - 1, 1), left, width - 16)
        ceiling = yt[-1]
        svg = Svg(width, height, f"Latency over run index on {device} ({unit})")
        y_axis(svg, sy, yt, left, width - 16, unit + (" (log)" if log else ""))
        x_axis(svg, sx, nice_ticks(0, max(n - 1, 1)), bottom, top, "run index (regular runs, after warm-up)")
        clipped = 0
        bucketed = False
        for i, e in enumerate(entries):
            med, peak = _buckets(e["samples_us"])
            col = color_for(e["mode"], i)
            for series, width_, opacity in ((peak, 0.8, "0.35"), (med, 1.4, None)):
                if not series:
                    continue
                pts = []
                for k, v in series:
                    v /= div
                    clipped += v > ceiling
                    pts.append((sx(k), sy(min(max(v, yt[0]), ceiling))))
                svg.polyline(pts, col, width_, stroke_opacity=opacity)
            bucketed = bucketed or bool(peak)
        legend(svg, [(_label(doc, e, False), color_for(e["mode"], i)) for i, e in enumerate(entries)], left, 14)
        note = ""
        if clipped:
            note = f"; {clipped} point{'s' if clipped != 1 else ''} above {ceiling:g} {unit} drawn at the top edge"
        if bucketed:
            note += f"; long series: median (solid) and p95 (faint) per bucket of runs"
        charts.append(Chart(f"latency-runs-{d_i}", f"Latency over runs: {device}", f"{len(entries)} variants{note}",
                            svg.render()))
    return charts


def pareto(doc: dict[str, Any]) -> list[Chart]:
    """Accuracy vs median latency per device; the Pareto front (nothing both faster and more accurate) joined."""
    charts = []
    rows = [r for r in doc["matrix"] if r["device"] and r["median_ms"] is not None
            and (r["top1"] is not None or r["drop_pp"] is not None)]
    for d_i, device in enumerate(sorted({r["device"] for r in rows})):
        mine = [r for r in rows if r["device"] == device]
        use_top1 = all(r["top1"] is not None for r in mine)
        ys = [(r["top1"] * 100 if use_top1 else -r["drop_pp"]) for r in mine]
        xs = [r["median_ms"] for r in mine]
        width, height, left, top, bottom = 760, 280, 64, 20, 236
        sx, xt, log = axis_for([min(xs) / 1.3, max(xs) * 1.15], left, width - 24)  # room for labels
        lo, hi = min(ys), max(ys)
        pad = max(0.5, (hi - lo) * 0.15)
        yt = nice_ticks(lo - pad, hi + pad)
        sy = Scale(yt[0], yt[-1], bottom, top)
        ylabel = "top-1 accuracy (%)" if use_top1 else "−drop (pp, convert-time bound)"
        svg = Svg(width, height, f"Accuracy vs latency on {device}")
        y_axis(svg, sy, yt, left, width - 24, ylabel)
        x_axis(svg, sx, xt, bottom, top, f"median latency (ms{', log scale' if log else ''}); "
                                         "hollow = misses the accuracy-drop target")
        pts = sorted(zip(xs, ys, mine), key=lambda p: (p[0], -p[1]))
        front, best = [], float("-inf")
        for x, y, r in pts:
            if y > best:
                front.append((sx(x), sy(y)))
                best = y
        svg.polyline(front, "#888", 1.2, stroke_dasharray="4 3")
        for i, (x, y, r) in enumerate(pts):
            col = color_for(r["mode"], i)
            name = (f"{r['source']}/" if len(doc["sources"]) > 1 else "") + str(r["mode"])
            tip = f"{name} on {device}: {x:.4g} ms, " + (f"top-1 {y:.2f}%" if use_top1 else f"drop ≤ {-y:.2f} pp")
            ok = bool(r["meets_target"])
            svg.circle(sx(x), sy(y), 5.5, col if ok else "white", title=tip, stroke=col, stroke_width=2.0)
            svg.text(sx(x) + 8, sy(y) - 7 - (i % 3) * 10, name + (" ★" if r["recommended"] else ""), size=10)
        charts.append(Chart(f"pareto-{d_i}", f"Accuracy vs latency: {device}",
                            "dashed line: the Pareto front; ★ recommended", svg.render()))
    return charts


def size_bars(doc: dict[str, Any]) -> list[Chart]:
    """File size per variant, with its ratio to float32."""
    vs = [v for v in doc["variants"] if isinstance(v.get("bytes"), int)]
    if not vs:
        return []
    multi = len(doc["sources"]) > 1
    labels = [(f"{v['source']}/" if multi else "") + str(v["mode"]) for v in vs]
    left, row_h, top, width = 20 + 7 * max(len(s) for s in labels), 24, 10, 760
    height = top + row_h * len(vs) + 44
    ticks = nice_ticks(0.0, max(v["bytes"] for v in vs) / 1024)
    sx = Scale(0.0, ticks[-1], left, width - 110)
    svg = Svg(width, height, "Model size per variant (KiB)")
    bottom = top + row_h * len(vs)
    x_axis(svg, sx, ticks, bottom, top, "KiB")
    for i, (v, label) in enumerate(zip(vs, labels)):
        y = top + row_h * i
        kb = v["bytes"] / 1024
        ratio = f" ({v['size_vs_float32']:.2f}× float32)" if v.get("size_vs_float32") else ""
        svg.text(left - 8, y + row_h / 2 + 4, label, anchor="end")
        svg.rect(left, y + 4, sx(kb) - left, row_h - 8, color_for(v["mode"], i), title=f"{label}: {kb:.1f} KiB{ratio}")
        svg.text(sx(kb) + 6, y + row_h / 2 + 4, f"{kb:.1f}{ratio}", size=10)
    return [Chart("size", "Model size", f"{len(vs)} variants", svg.render())]


def _color_scale(acc: float) -> str:
    """White (100%) to orange-red (≤50%), readable in greyscale print."""
    t = min(1.0, max(0.0, (1.0 - acc) / 0.5))
    r, g, b = (int(255 + (c - 255) * t) for c in (0xD5, 0x5E, 0x00))
    return f"#{r:02x}{g:02x}{b:02x}"


def per_class(doc: dict[str, Any], max_classes: int = 60) -> list[Chart]:
    """Heat map of per-class accuracy (class × variant) for each source's latest eval."""
    charts = []
    for a in [a for a in doc["accuracy"] if a["latest"]]:
        res = [r for r in a["results"] if r["per_class"]]
        if not res:
            continue
        classes = list(a["data"].get("classes") or res[0]["per_class"].keys())
        note = ""
        if len(classes) > max_classes:
            worst = sorted(classes, key=lambda c: min(r["per_class"].get(c, 1.0) for r in res))
            classes, note = worst[:max_classes], f"; the {max_classes} worst of {len(worst)} classes"
        cw, rh = 78, 20
        left = 20 + min(240, 7 * max(len(str(c)) for c in classes))
        width, top = left + cw * len(res) + 20, 34
        height = top + rh * len(classes) + 10
        svg = Svg(width, height, f"Per-class top-1 accuracy ({a['source']})")
        for j, r in enumerate(res):
            svg.text(left + cw * j + cw / 2, top - 10, str(r["mode"]), anchor="middle", font_weight="bold")
        for i, c in enumerate(classes):
            y = top + rh * i
            svg.text(left - 8, y + rh / 2 + 4, str(c), anchor="end")
            for j, r in enumerate(res):
                acc = r["per_class"].get(c)
                x = left + cw * j
                if acc is None:
                    svg.rect(x + 1, y + 1, cw - 2, rh - 2, "#f4f4f4")
                    continue
                svg.rect(x + 1, y + 1, cw - 2, rh - 2, _color_scale(acc), title=f"{c} · {r['mode']}: {acc:.1%}",
                         stroke=GRID)
                svg.text(x + cw / 2, y + rh / 2 + 4, f"{acc:.1%}", anchor="middle", size=10)
        charts.append(Chart(f"per-class-{a['source']}", f"Per-class accuracy ({a['source']})",
                            f"{a['file']}, {a['data'].get('images')} images{note}", svg.render()))
    return charts


def layer_error(doc: dict[str, Any]) -> list[Chart]:
    """Most sensitive layers first: scaled RMSE bars (longer = more quantization error), SQNR as text."""
    charts = []
    for k, run in enumerate(doc["layers"]):
        layers = [x for x in run["top"] if isinstance(x.get("scaled_rmse"), (int, float))]
        if not layers:
            continue
        labels = [f"#{x.get('op_index')} {x.get('op_name')}" for x in layers]
        left, row_h, top, width = 20 + 7 * max(len(s) for s in labels), 24, 10, 760
        height = top + row_h * len(layers) + 44
        ticks = nice_ticks(0.0, max(x["scaled_rmse"] for x in layers))
        sx = Scale(0.0, ticks[-1], left, width - 150)
        svg = Svg(width, height, f"Per-layer quantization error of {run.get('model')}")
        bottom = top + row_h * len(layers)
        x_axis(svg, sx, ticks, bottom, top, "scaled RMSE (RMSE / output quantization scale); longer = more error")
        for i, (x, label) in enumerate(zip(layers, labels)):
            y = top + row_h * i
            svg.text(left - 8, y + row_h / 2 + 4, label, anchor="end")
            sq = x.get("sqnr_db")
            tip = (f"{label} {x.get('tensor')}: scaled RMSE {x['scaled_rmse']:.4g}"
                   + (f", SQNR {sq:.1f} dB" if sq else ""))
            svg.rect(left, y + 4, sx(x["scaled_rmse"]) - left, row_h - 8, "#D55E00", title=tip)
            svg.text(sx(x["scaled_rmse"]) + 6, y + row_h / 2 + 4, f"SQNR {sq:.1f} dB" if sq else "", size=10)
        charts.append(Chart(f"layers-{k}", f"Per-layer error: {run.get('model')}",
                            f"{run['file']}; top {len(layers)} of {run['count']} layers", svg.render()))
    return charts


def all_charts(doc: dict[str, Any]) -> dict[str, list[Chart]]:
    """Every chart of a report, by section name."""
    return {"distribution": latency_distribution(doc), "runs": latency_over_runs(doc), "pareto": pareto(doc),
            "size": size_bars(doc), "per_class": per_class(doc), "layers": layer_error(doc)}
