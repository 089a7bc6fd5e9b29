"""The recommendation: per device, the fastest and the smallest variant that meet the accuracy-drop target.

The fastest is chosen among the variants profiled on that device; the smallest among every variant of
the folder that meets the target (file size does not depend on the device), so it agrees with
``edgeq eval``'s recommendation even when not every variant was profiled.

A variant *meets the target* when its top-1 drop against the reference is at most ``max_drop_pp``.
The drop comes from the latest eval run; without one, from the convert-time top-1 disagreement
with float (an upper bound of the drop, measured on the calibration samples), and the report says
which. Latency is the median of the regular runs on that device; a tie on latency goes to the
smaller file, a tie on size to the faster one.
"""

from __future__ import annotations

from typing import Any

from edgeq.reports.formatting import kib, ms, times


def _pick(row: dict[str, Any], device: Any = ...) -> dict[str, Any]:
    here = device is ... or row["device"] == device  # a row of another device: its latency is not this one's
    return {"row": row["id"], "variant": row["variant"], "mode": row["mode"],
            "median_ms": row["median_ms"] if here else None, "bytes": row["bytes"], "drop_pp": row["drop_pp"],
            "speedup_vs_float32": row["speedup_vs_float32"] if here else None}


def recommend(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One recommendation per source × device (device ``None`` when nothing was profiled).

    Args:
        doc: a report document whose ``matrix`` is filled.

    Returns:
        ``[{source, device, max_drop_pp, basis, fastest, smallest, reason}]``.
    """
    target = doc["target"]["max_drop_pp"]
    out = []
    for src in doc["sources"]:
        rows = [r for r in doc["matrix"] if r["source"] == src["id"]]
        devices = sorted({r["device"] for r in rows if r["device"] is not None})
        for device in devices or [None]:
            mine = [r for r in rows if r["device"] == device]
            fit = [r for r in mine if r["meets_target"] and r["status"] == "ok"]
            timed = [r for r in fit if isinstance(r["median_ms"], (int, float))]
            fastest = min(timed, key=lambda r: (r["median_ms"], r["bytes"] or 0)) if timed else None
            smallest = _smallest(rows, device)
            bases = sorted({r["accuracy_basis"] for r in fit if r["accuracy_basis"]})
            basis = "eval" if bases == ["eval"] else ("convert-check" if bases else None)
            out.append({
                "source": src["id"], "device": device, "max_drop_pp": target, "basis": basis,
                "fastest": _pick(fastest) if fastest else None,
                "smallest": _pick(smallest, device) if smallest else None,
                "reason": _reason(mine, fastest, smallest, device, target, basis),
            })
    return out


def _smallest(rows: list[dict[str, Any]], device: str | None) -> dict[str, Any] | None:
    """The smallest variant within the target, profiled or not: size and accuracy do not depend on the device.

    A variant that failed on ``device`` is left out; the row on ``device`` is used when there is one
    (for its latency), else the variant's row on another device or its unprofiled row.
    """
    failed_here = {r["variant"] for r in rows if r["device"] == device and r["status"] != "ok"}
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if not (r["meets_target"] and r["status"] == "ok" and isinstance(r["bytes"], int)):
            continue
        if r["variant"] in failed_here:
            continue
        if r["variant"] not in best or r["device"] == device:
            best[r["variant"]] = r
    if not best:
        return None
    return min(best.values(), key=lambda r: (r["bytes"], r["median_ms"] if r["device"] == device and
                                             isinstance(r["median_ms"], (int, float)) else float("inf")))


def _reason(rows: list[dict[str, Any]], fastest: Any, smallest: Any, device: str | None, target: float,
            basis: str | None) -> str:
    if not rows:
        return "no variants"
    if fastest is None and smallest is None:
        if all(r["drop_pp"] is None for r in rows):
            return "accuracy unknown: run 'edgeq eval' on this folder to measure it"
        return f"no variant stays within {target:g} pp of the reference top-1"
    how = ("measured by eval" if basis == "eval"
           else "bounded by convert-time disagreement with float; run 'edgeq eval' to measure it")
    parts = []
    if fastest is not None:
        speed = f", {times(fastest['speedup_vs_float32'])} float32" if fastest["speedup_vs_float32"] else ""
        parts.append(f"fastest on {device}: {fastest['mode']} ({ms(fastest['median_ms'])} ms median{speed})")
    if smallest is not None:
        parts.append(f"smallest: {smallest['mode']} ({kib(smallest['bytes'])})")
    where = "" if device else "; no latency measured (run 'edgeq profile')"
    return f"{'; '.join(parts)}; within {target:g} pp top-1 ({how}){where}"


def highlights(doc: dict[str, Any]) -> list[str]:
    """Sentences for the top of a report: "On pi5, int8 is 3.1× faster than float32, …"."""
    out = []
    multi = len(doc["sources"]) > 1
    for rec in doc["recommendations"]:
        pick = rec["fastest"] or rec["smallest"]
        prefix = f"[{rec['source']}] " if multi else ""
        if pick is None:
            out.append(f"{prefix}{'On ' + rec['device'] + ': ' if rec['device'] else ''}{rec['reason']}.")
            continue
        row = next(r for r in doc["matrix"] if r["id"] == pick["row"])
        base = next((r for r in doc["matrix"] if r["source"] == row["source"] and r["device"] == row["device"]
                     and r["mode"] == "float32"), None)
        where = f"On {rec['device']}, " if rec["device"] else ""
        if row["mode"] == "float32" or base is None:
            extra = f" ({ms(row['median_ms'])} ms median)" if row["median_ms"] is not None else ""
            out.append(f"{prefix}{where}{row['mode']} is the best variant within {rec['max_drop_pp']:g} pp{extra}.")
            continue
        bits = []
        if row["speedup_vs_float32"]:
            bits.append(f"{row['speedup_vs_float32']:.1f}× faster than float32")
        if row["bytes"] and base["bytes"]:
            bits.append(f"{base['bytes'] / row['bytes']:.1f}× smaller")
        drop = row["drop_pp"]
        if drop is not None:
            if row["accuracy_basis"] == "eval":
                bits.append(f"loses {drop:.1f} pp top-1" if drop > 0 else
                            ("keeps the reference top-1" if drop == 0 else f"gains {-drop:.1f} pp top-1"))
            else:
                bits.append(f"agrees with float on {100 - drop:.1f}% of convert-time samples (no eval yet)")
        if not bits:
            continue
        head = ", ".join(bits[:-1]) + (", and " if len(bits) > 1 else "") + bits[-1]
        out.append(f"{prefix}{where}{row['mode']} is {head}.")
    return out
