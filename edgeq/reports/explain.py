"""Why the numbers are what they are: short notes derived from the report's own facts.

The results table says *what* each variant costs and gains; these notes say *why*, from what the
documents recorded — which ops the delegate took, which ops stayed float, how static ranges
compare with dynamic ones, what the drift check saw. Every note names the fact behind it, so a
reader can check it; no note is a guess about hardware edgeq did not measure.
"""

from __future__ import annotations

from typing import Any

from edgeq.preprocess import mismatch_flags
from edgeq.reports.formatting import kib

def explain(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Notes ``{"topic", "variant", "device", "text"}`` for the report's "Why" section, most useful first."""
    notes: list[dict[str, Any]] = []
    multi = len(doc["sources"]) > 1
    for src in doc["sources"]:
        sid = src["id"]
        tag = f"[{sid}] " if multi else ""
        variants = [v for v in doc["variants"] if v["source"] == sid and v["status"] == "ok"]
        by_mode = {v["mode"]: v for v in variants}
        _accuracy(doc, sid, tag, by_mode, notes)
        _delegation(doc, sid, tag, notes)
        _float_ops(by_mode, tag, notes)
        dyn, int8 = by_mode.get("dynamic"), by_mode.get("int8")
        if dyn and int8 and dyn.get("bytes") and int8.get("bytes") and abs(dyn["bytes"] - int8["bytes"]) < 0.1 * int8["bytes"]:
            notes.append({"topic": "size", "variant": "int8", "device": None,
                          "text": f"{tag}dynamic ({kib(dyn['bytes'])}) and int8 ({kib(int8['bytes'])}) are about the "
                                  "same size: both store int8 weights. They differ in activations — float for dynamic, "
                                  "int8 for int8 — which is what decides where each can run and how fast."})
        _float16_speed(doc, sid, tag, notes)
    return notes


def _delegation(doc: dict[str, Any], sid: str, tag: str, notes: list[dict[str, Any]]) -> None:
    rows = {r["id"]: r for r in doc["matrix"]}
    for e in doc["latency"]:
        cov = e.get("delegate_coverage") or {}
        total, took = cov.get("total_nodes"), cov.get("delegated_nodes")
        delegate = (e.get("settings") or {}).get("delegate")
        if e["source"] != sid or not total or took is None or delegate in (None, "none"):
            continue
        row = rows.get(e["id"]) or {}
        speed = row.get("speedup_vs_float32")
        pace = f" — {speed:.2f}× float32's speed" if isinstance(speed, (int, float)) and speed < 0.8 else ""
        if took == 0:
            notes.append({"topic": "latency", "variant": e["mode"], "device": e["device"],
                          "text": f"{tag}{e['mode']} on {e['device']}: the {delegate} delegate took 0 of {total} ops, "
                                  f"so every op ran on LiteRT's built-in kernels{pace}"
                                  + (" (XNNPACK has no int16 kernels)." if e["mode"] == "int16x8" and delegate == "xnnpack" else ".")})
        elif took < total and pace:
            notes.append({"topic": "latency", "variant": e["mode"], "device": e["device"],
                          "text": f"{tag}{e['mode']} on {e['device']}: the {delegate} delegate took {took} of {total} "
                                  f"ops; the rest ran outside it{pace}."})


def _accuracy(doc: dict[str, Any], sid: str, tag: str, by_mode: dict[str, Any], notes: list[dict[str, Any]]) -> None:
    latest = next((a for a in doc["accuracy"] if a["source"] == sid and a["latest"]), None)
    if latest is None:
        return
    check = latest.get("preprocess_check") or {}
    if check.get("best"):
        used, best, flag = check["used"], check["best"], mismatch_flags(check)
        notes.append({"topic": "accuracy", "variant": None, "device": None,
                      "text": f"{tag}The float model itself is fed the wrong inputs: it scores {used['top1']:.0%} top-1 with "
                              f"--preprocess {used['preset']} but {best['top1']:.0%} with {flag} on {check['sample']} "
                              "evaluation images. Every variant inherits that loss, and no quantization setting can fix "
                              f"it: re-convert with {flag}."})
        return  # int8-vs-dynamic differences mean little until the inputs are right
    drop = {r["mode"]: r.get("drop_pp") for r in latest["results"] if r.get("status") == "ok" and not r.get("stale")}
    d8, dd = drop.get("int8"), drop.get("dynamic")
    if isinstance(d8, (int, float)) and isinstance(dd, (int, float)) and d8 - dd >= 0.5:
        drift = (latest.get("drift") or {}).get("warnings") or []
        drift = sorted(drift, key=lambda w: "calibration used --preprocess" not in w)  # the most specific first
        why = (" The drift check: " + drift[0].rstrip(".") + ".") if drift else (
            " Calibrating on more representative images (same preprocessing as training), per-channel ranges, "
            "or `edgeq convert --max-drop` (keeps the most sensitive ops in float) are the usual fixes; "
            "`edgeq analyze` shows which ops lose the most.")
        notes.append({"topic": "accuracy", "variant": "int8", "device": None,
                      "text": f"{tag}int8 loses {d8 - dd:.1f} pp more top-1 than dynamic. Both have int8 weights, so the "
                              "difference is the activation ranges: dynamic measures them per inference, int8 fixed them "
                              f"at calibration.{why}"})
    elif isinstance(d8, (int, float)) and isinstance(dd, (int, float)) and "int8" in by_mode:
        gap = d8 - dd
        how = "matches dynamic's top-1" if gap <= 0.05 else f"is within {gap:.1f} pp of dynamic's top-1"
        notes.append({"topic": "accuracy", "variant": "int8", "device": None,
                      "text": f"{tag}int8 {how} on {latest['data'].get('images')} images: the calibration ranges "
                              "cover this data, so fixing them ahead of time (static quantization) costs (almost) "
                              "nothing here."})


def _float_ops(by_mode: dict[str, Any], tag: str, notes: list[dict[str, Any]]) -> None:
    v = by_mode.get("int8")
    float_ops = (v or {}).get("float_ops") or []
    if float_ops:
        shown = ", ".join(map(str, float_ops[:4])) + (" …" if len(float_ops) > 4 else "")
        notes.append({"topic": "deploy", "variant": "int8", "device": None,
                      "text": f"{tag}int8 still has {len(float_ops)} float op type(s) ({shown}): they run in float between "
                              "quantize/dequantize ops, which integer-only accelerators cannot do; `--strict-int` "
                              "makes that a conversion error instead."})


def _float16_speed(doc: dict[str, Any], sid: str, tag: str, notes: list[dict[str, Any]]) -> None:
    slow = [r for r in doc["matrix"] if r["source"] == sid and r["mode"] == "float16"
            and isinstance(r.get("speedup_vs_float32"), (int, float)) and r["speedup_vs_float32"] < 1.15]
    if slow:
        where = ", ".join(f"{r['speedup_vs_float32']:.2f}× on {r['device']}" for r in slow)
        notes.append({"topic": "latency", "variant": "float16", "device": None,
                      "text": f"{tag}float16 runs at float32's speed ({where}): it stores float16 weights but CPUs "
                              "compute in float32 (the weights are widened at load); it pays off in size, and on GPUs."})
