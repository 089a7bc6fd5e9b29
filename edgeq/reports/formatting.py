"""Number and label formatting shared by the HTML, Markdown and CSV renderings.

One place decides how a latency, a size or an accuracy drop is written, so the three renderings
of one report document never disagree. "Not measured" is ``None`` in the document and ``–`` here,
never 0.
"""

from __future__ import annotations

from typing import Any

DASH = "–"


def num(x: Any, digits: int = 2) -> str:
    """A plain number, or a dash when missing."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return DASH
    return f"{x:.{digits}f}"


def small(x: Any) -> str:
    """A small non-negative metric (KL divergence, errors): scientific below 0.001."""
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return DASH
    return f"{x:.2e}" if 0 < abs(x) < 1e-3 else f"{x:.4f}"


def parts_summary(parts: Any) -> str:
    """``convert, eval, profile ×2`` from a source's provenance list."""
    counts: dict[str, int] = {}
    for p in parts or []:
        counts[p.get("kind", "?")] = counts.get(p.get("kind", "?"), 0) + 1
    return ", ".join(k if n == 1 else f"{k} ×{n}" for k, n in counts.items()) or DASH


def ms(x: Any) -> str:
    """Milliseconds with 3 significant decimals for sub-millisecond values."""
    if not isinstance(x, (int, float)):
        return DASH
    return f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}"


def us_ms(us: Any) -> str:
    """A document latency in microseconds, written in milliseconds like every latency of a report."""
    if isinstance(us, bool) or not isinstance(us, (int, float)):
        return DASH
    return ms(us / 1000.0)


def sqnr(x: Any, infinite: Any = False, word: str = "exact") -> str:
    """An SQNR in dB; an infinite one (no error at float precision) is written as ``word``."""
    return word if infinite else num(x, 1)


def pct(x: Any, digits: int = 1) -> str:
    """A fraction 0..1 as a percentage."""
    if not isinstance(x, (int, float)):
        return DASH
    return f"{x * 100:.{digits}f}%"


def pp(x: Any) -> str:
    """A signed accuracy change in percentage points (a drop is positive in the document)."""
    if not isinstance(x, (int, float)):
        return DASH
    return f"{x:+.2f} pp"


def kib(n: Any) -> str:
    """Bytes as KiB (or MiB above 10 MiB)."""
    if not isinstance(n, (int, float)):
        return DASH
    if n >= 10 * 2**20:
        return f"{n / 2**20:.1f} MiB"
    return f"{n / 1024:.1f} KiB"


def times(x: Any) -> str:
    """A ratio written as ``3.10×``."""
    if not isinstance(x, (int, float)):
        return DASH
    return f"{x:.2f}×"


def text(x: Any) -> str:
    """Any value as short text (lists joined, None as a dash)."""
    if x is None or x == "":
        return DASH
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (list, tuple)):
        return ", ".join(text(v) for v in x) if x else DASH
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


def describe_preprocess(spec: Any) -> str:
    """A one-line description of a PreprocessSpec dict (the same words as ``PreprocessSpec.describe``)."""
    if not isinstance(spec, dict):
        return DASH
    size = spec.get("size")
    where = f"{size[0]}x{size[1]}" if isinstance(size, (list, tuple)) and len(size) == 2 else "model size"
    mean = "/".join(f"{v:g}" for v in spec.get("mean") or [] if isinstance(v, (int, float)))
    std = "/".join(f"{v:g}" for v in spec.get("std") or [] if isinstance(v, (int, float)))
    return (f"{spec.get('resize', '?')} to {where}, {spec.get('color', '?')}, {spec.get('preset', '?')}"
            + (f" (mean {mean}, std {std})" if mean or std else ""))


def shape(dims: Any) -> str:
    """A tensor shape as ``(?, 224, 224, 3)``; ``?`` for a dynamic dimension."""
    if not isinstance(dims, (list, tuple)):
        return DASH
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


def io_text(tensors: Any) -> str:
    """Input/output tensors as ``int8 (scale 0.00392, zero point -128)``; float tensors as their dtype."""
    out = []
    for t in tensors or []:
        q = t.get("quantization") or {}
        if "scale" in q:
            out.append(f"{t.get('dtype')} (scale {q['scale']:.6g}, zero point {q.get('zero_point')})")
        elif "per_channel" in q:
            out.append(f"{t.get('dtype')} (per-channel ×{q['per_channel']}, axis {q.get('axis')})")
        else:
            out.append(str(t.get("dtype")))
    return "; ".join(out) or DASH
