"""Comparing results folders: what differs between them, and the deltas of the variants they share.

Numbers from runs made under different conditions (threads, delegate, runtime, preprocessing,
a different model) are still shown, but every difference is flagged next to them, so nobody
reads "B is 2× slower" when B simply ran on one thread.
"""

from __future__ import annotations

from typing import Any

from edgeq.reports.formatting import describe_preprocess


def _distinct(values: dict[str, Any]) -> bool:
    seen = {repr(v) for v in values.values() if v is not None}
    return len(seen) > 1


def settings_warnings(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Warnings for latency runs in one report that used different threads, delegates or runtimes."""
    out = []
    for key, what in (("threads", "thread counts"), ("delegate", "delegates"), ("affinity", "CPU affinities")):
        by_value: dict[str, list[str]] = {}
        for e in doc["latency"]:
            if e["status"] != "ok":
                continue
            v = e["settings"].get(key)
            by_value.setdefault("none" if v in (None, "", []) else str(v), []).append(e["id"])
        if len(by_value) > 1:
            parts = "; ".join(f"{key}={v}: {', '.join(ids[:4])}{' …' if len(ids) > 4 else ''}"
                              for v, ids in sorted(by_value.items()))
            out.append({"code": f"mismatch-{key}", "source": None,
                        "message": f"latency runs used different {what} ({parts}): speedups between them "
                                   f"compare {key}, not only the variants"})
    return out


def compare_sources(doc: dict[str, Any]) -> dict[str, Any]:
    """The ``comparison`` section of a report with two or more sources.

    Returns:
        ``{base, settings: [{setting, values{source: text}, differs}], deltas: [...], _warnings: [...]}``;
        the caller moves ``_warnings`` into the report's warnings.
    """
    ids = [s["id"] for s in doc["sources"]]
    base = ids[0]
    models = {m["source"]: m for m in doc["models"]}
    latest = {a["source"]: a for a in doc["accuracy"] if a["latest"]}
    settings: list[dict[str, Any]] = []

    def add(name: str, values: dict[str, Any], warn_code: str | None = None, why: str = "") -> None:
        differs = _distinct(values)
        settings.append({"setting": name, "values": {k: ("–" if v is None else str(v)) for k, v in values.items()},
                         "differs": differs})
        if differs and warn_code:
            shown = "; ".join(f"{k}: {v}" for k, v in values.items())
            warnings.append({"code": warn_code, "source": None,
                             "message": f"{name} differs between folders ({shown}){why}"})

    warnings: list[dict[str, Any]] = []
    add("model", {s: _model_text(models.get(s)) for s in ids}, "mixed-models",
        ": the comparison compares different models, not only their quantization; "
        "compare folders converted from the same model file")
    add("preprocessing", {s: describe_preprocess((models.get(s) or {}).get("preprocess")) if s in models else None
                          for s in ids}, "mismatch-preprocessing",
        ": accuracy and calibration differ for that reason alone; convert with the same --preprocess/--color")
    add("calibration", {s: _calib_text(models.get(s)) for s in ids})
    add("eval data", {s: _data_text(latest.get(s)) for s in ids}, "mismatch-eval-data",
        ": top-1 deltas mix data and model changes; evaluate both on the same --data")
    for key in ("threads", "delegate", "runtime"):
        vals = {}
        for s in ids:
            got = sorted({"none" if e["settings"].get(key) in (None, "", []) else str(e["settings"].get(key))
                          for e in doc["latency"] if e["source"] == s and e["status"] == "ok"})
            vals[s] = ", ".join(got) if got else None
        add(key, vals)
    add("devices", {s: ", ".join(sorted({e["device"] for e in doc["latency"] if e["source"] == s})) or None
                    for s in ids})
    return {"base": base, "settings": settings, "deltas": _deltas(doc, base, ids[1:]), "_warnings": warnings}


def _model_text(m: dict[str, Any] | None) -> str | None:
    if not m:
        return None
    sha = (m.get("sha256") or "")[:12]
    return f"{m.get('name') or m.get('path')} (sha256 {sha})" if sha else str(m.get("name") or m.get("path"))


def _calib_text(m: dict[str, Any] | None) -> str | None:
    c = (m or {}).get("calibration")
    if not c:
        return None
    return f"{c.get('used')} images from {c.get('folder')}, seed {c.get('seed')}"


def _data_text(a: dict[str, Any] | None) -> str | None:
    if not a:
        return None
    return f"{a['data'].get('images')} images from {a['data'].get('folder')}"


def _deltas(doc: dict[str, Any], base: str, others: list[str]) -> list[dict[str, Any]]:
    """Each other source against the base, matched by mode and device.

    When each of the two sources was profiled on exactly one device and those differ (the
    "same model on two boards" case), rows are matched by mode across the two devices.
    """
    rows = doc["matrix"]
    out = []
    for other in others:
        a_rows = [r for r in rows if r["source"] == base]
        b_rows = [r for r in rows if r["source"] == other]
        a_dev = {r["device"] for r in a_rows if r["device"]}
        b_dev = {r["device"] for r in b_rows if r["device"]}
        cross = len(a_dev) == 1 and len(b_dev) == 1 and a_dev != b_dev
        for a in a_rows:
            for b in b_rows:
                if a["mode"] != b["mode"] or (not cross and a["device"] != b["device"]):
                    continue
                out.append({
                    "mode": a["mode"], "base": a["id"], "other": b["id"],
                    "device": a["device"] if a["device"] == b["device"] else f"{a['device']} → {b['device']}",
                    "top1_pp": _sub(b["top1"], a["top1"], 100),
                    "drop_pp": _sub(b["drop_pp"], a["drop_pp"]),
                    "median_ratio": _div(b["median_ms"], a["median_ms"]),
                    "bytes_ratio": _div(b["bytes"], a["bytes"]),
                    "settings_differ": [k for k in ("threads", "delegate", "runtime") if a[k] != b[k]],
                })
    return out


def _sub(b: Any, a: Any, scale: float = 1.0) -> float | None:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return round((b - a) * scale, 3)
    return None


def _div(b: Any, a: Any) -> float | None:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a:
        return round(b / a, 3)
    return None
