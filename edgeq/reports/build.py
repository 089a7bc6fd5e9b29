"""Merging one or more results folders into one report document (a JSON-able dict).

The document is the report: HTML, Markdown and CSV are pure functions of it (see
:mod:`edgeq.reports.html`, :mod:`edgeq.reports.markdown`, :mod:`edgeq.reports.tables`), and it
keeps the raw latency samples so every chart can be redrawn from it alone. Its schema is
documented in docs/report.md.

Identity: each folder is a *source* ``A``, ``B``, …; a variant is ``A/int8``; one profiled
variant on one device is ``A/int8@pi5``. The headline ``matrix`` has one row per variant × device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from edgeq.errors import UsageError
from edgeq.fsio import meta
from edgeq.reports.compare import compare_sources, settings_warnings
from edgeq.reports.explain import explain
from edgeq.reports.recommend import highlights, recommend
from edgeq.reports.results import ResultsFolder, load_results_folder
from edgeq.reports.schema import REPORT_SCHEMA


@dataclass
class ReportRequest:
    """What ``edgeq report`` merges and how.

    Attributes:
        folders: results folders (the ``--out`` of ``edgeq convert``); the first is the base of comparisons.
        title: the report's title; default: the model name(s).
        max_drop_pp: the accuracy-drop target, in percentage points of top-1 against the reference,
            a variant must meet to be recommended.
        top_layers: how many of the most sensitive layers of each analyze run to keep.
        command: the command line that asked for the report (recorded in it).
        labels: display names of the folders, one per folder (default: the folder names).
    """

    folders: list[str]
    title: str | None = None
    max_drop_pp: float = 1.0
    top_layers: int = 10
    command: str = ""
    labels: list[str] = field(default_factory=list)


def build_report(request: ReportRequest) -> dict[str, Any]:
    """Builds the report document.

    Args:
        request: the folders and options.

    Returns:
        The report document (see docs/report.md), JSON-serializable.

    Raises:
        UsageError: no folders, or a negative target.
        ResultsFolderError: a folder is not a results folder, or its manifest cannot be read.
    """
    if not request.folders:
        raise UsageError("no results folder given", hint="pass the --out folder of 'edgeq convert'")
    if not request.max_drop_pp >= 0:
        raise UsageError(f"--max-drop must be >= 0 (got {request.max_drop_pp})", hint="e.g. --max-drop 1.0")
    loaded = [load_results_folder(f) for f in request.folders]
    ids = [chr(ord("A") + i) if i < 26 else f"S{i + 1}" for i in range(len(loaded))]
    labels = _labels(request, loaded)
    doc: dict[str, Any] = {
        "__meta__": meta("report", REPORT_SCHEMA),
        "title": "",
        "command": request.command,
        "target": {"metric": "top1", "max_drop_pp": float(request.max_drop_pp)},
        "sources": [], "models": [], "variants": [], "accuracy": [], "layers": [], "devices": [],
        "latency": [], "matrix": [], "recommendations": [], "highlights": [], "explanations": [], "comparison": None,
        "warnings": [],
    }
    warnings: list[dict[str, Any]] = doc["warnings"]
    devices: dict[str, dict[str, Any]] = {}
    for sid, label, folder, given in zip(ids, labels, loaded, request.folders):
        _add_source(doc, sid, label, folder, given, devices, warnings, request.top_layers)
    for d in devices.values():
        d.pop("_seen", None)  # bookkeeping: which run's facts are the latest
    doc["devices"] = sorted(devices.values(), key=lambda d: d["name"])
    doc["matrix"] = _matrix(doc, float(request.max_drop_pp))
    doc["recommendations"] = recommend(doc)
    for row in doc["matrix"]:
        row["recommended"] = any(r["fastest"] and r["fastest"]["row"] == row["id"]
                                 or (r["device"] is None and r["smallest"] and r["smallest"]["row"] == row["id"])
                                 for r in doc["recommendations"])
    doc["highlights"] = highlights(doc)
    doc["explanations"] = explain(doc)
    warnings.extend(settings_warnings(doc))
    if len(doc["sources"]) > 1:
        doc["comparison"] = compare_sources(doc)
        warnings.extend(doc["comparison"].pop("_warnings"))
    doc["title"] = request.title or _default_title(doc)
    return doc


def _labels(request: ReportRequest, loaded: list[ResultsFolder]) -> list[str]:
    if request.labels and len(request.labels) == len(loaded):
        return list(request.labels)
    names = [f.path.resolve().name or str(f.path) for f in loaded]
    out = []
    for i, (n, f) in enumerate(zip(names, loaded)):
        if names.count(n) > 1:
            parent = f.path.resolve().parent.name
            n = f"{parent}/{n}" if parent else f"{n}#{i + 1}"
        out.append(n)
    return out


def _default_title(doc: dict[str, Any]) -> str:
    names = []
    for m in doc["models"]:
        if m.get("name") and m["name"] not in names:
            names.append(m["name"])
    base = " vs ".join(names) if names else "results"
    return f"edgeq report: {base}"


def _warn(warnings: list[dict[str, Any]], code: str, message: str, source: str | None) -> None:
    warnings.append({"code": code, "message": message, "source": source})


def _add_source(doc: dict[str, Any], sid: str, label: str, folder: ResultsFolder, given: str,
                devices: dict[str, dict[str, Any]], warnings: list[dict[str, Any]], top_layers: int) -> None:
    man = folder.manifest.doc if folder.manifest else None
    parts = ([folder.manifest] if folder.manifest else []) + sorted(folder.runs, key=lambda p: p.order)
    src = {
        "id": sid, "label": label, "folder": str(given),
        "status": man.get("status") if man else None, "partial_reason": man.get("partial_reason") if man else None,
        "created": man["__meta__"].get("created") if man else None,
        "versions": (man.get("versions") or {}) if man else {},
        "parts": [p.provenance() for p in parts],
        "missing": folder.missing,
    }
    doc["sources"].append(src)
    for code, message in folder.notes:
        _warn(warnings, code, message, sid)
    missing_text = {"convert": "no manifest.json (run 'edgeq convert --out')",
                    "eval": "no accuracy measured (run 'edgeq eval' on this folder)",
                    "analyze": "no per-layer error (run 'edgeq analyze' on this folder)",
                    "profile": "no latency measured (run 'edgeq profile' on this folder)"}
    for part in folder.missing:
        if part != "convert":  # the manifest's absence is already a note
            _warn(warnings, f"missing-{part}", missing_text[part], sid)
    if man:
        _add_manifest(doc, sid, man, warnings)
    for part in folder.of_kind("eval"):
        _add_eval(doc, sid, part, warnings)
    evals = [a for a in doc["accuracy"] if a["source"] == sid]
    if evals:
        # A quick check on unlabelled images (agreement only) must not hide the accuracy measured before it.
        labelled = [a for a in evals if any(isinstance(r.get("top1"), (int, float)) for r in a["results"])]
        chosen = (labelled or evals)[-1]
        chosen["latest"] = True
        if len(evals) > 1:
            why = "the latest" if chosen is evals[-1] else (
                f"the latest labelled one (the newer {evals[-1]['file']} has no labels: agreement only)")
            _warn(warnings, "several-evals", f"{len(evals)} eval runs; the headline uses {why}, {chosen['file']}", sid)
    for part in folder.of_kind("analyze"):
        layers = [x for x in part.doc.get("layers", []) if isinstance(x, dict)]
        doc["layers"].append({
            "source": sid, "file": part.name, "command": part.doc.get("command", ""), "created": part.created,
            "model": part.doc.get("model"), "reference": part.doc.get("reference"),
            "model_sha256": part.doc.get("model_sha256"), "reference_sha256": part.doc.get("reference_sha256"),
            "count": len(layers), "top": [_layer(x) for x in layers[:top_layers]],
        })
    for part in folder.of_kind("profile"):
        _add_profile(doc, sid, part, devices, warnings)
    _collapse_superseded(warnings, sid)


def _layer(x: dict[str, Any]) -> dict[str, Any]:
    """One analyze row with SQNRs as a number or None, and ``*_infinite`` flags for an infinite SQNR.

    ``edgeq analyze`` writes an infinite SQNR as the string ``"inf"``: for ``sqnr_db``, the output's
    error is exactly zero at float precision; for ``local_sqnr_db``, the op's output is no noisier than
    its noisiest input (a reshape or max-pool only moves int8 values; elsewhere the op's own rounding
    is lost in, or cancels, the error carried in), so it adds no measurable error itself.
    """
    out = dict(x)
    for key in ("sqnr_db", "local_sqnr_db"):
        v = x.get(key)
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                v = None
        infinite = isinstance(v, float) and v == float("inf")
        out[key] = v if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) != float("inf") else None
        out[key.replace("_db", "_infinite")] = infinite
    return out


def _add_manifest(doc: dict[str, Any], sid: str, man: dict[str, Any], warnings: list[dict[str, Any]]) -> None:
    model = man.get("model") or {}
    cal = man.get("calibration") or None
    doc["models"].append({
        "source": sid,
        **{k: model.get(k) for k in ("name", "path", "kind", "sha256", "input_shape", "input_dtype", "output_shape",
                                     "classifier", "params", "layers", "preprocessing_layers")},
        "preprocess": man.get("preprocess"),
        "calibration": None if cal is None else {
            **{k: cal.get(k) for k in ("folder", "requested", "used", "candidates", "seed", "grayscale_sources",
                                       "stats")},
            "skipped": len(cal.get("skipped") or []),
        },
        "options": man.get("options") or {},
        "checks": man.get("checks"),
        "labels": man.get("labels"),
        "edgetpu": man.get("edgetpu"),
    })
    if man.get("status") not in ("ok", None):
        why = man.get("partial_reason") or ""
        _warn(warnings, "convert-partial", f"convert finished '{man.get('status')}': {why}".strip(), sid)
    for w in man.get("warnings") or []:
        if isinstance(w, dict):
            _warn(warnings, f"convert:{w.get('code') or 'warning'}", str(w.get("message", "")), sid)
    for v in man.get("variants") or []:
        tfl = v.get("tflite") or {}
        mode = v.get("mode") or v.get("file") or "unknown"
        doc["variants"].append({
            "id": f"{sid}/{mode}", "source": sid, "mode": mode, "summary": v.get("summary") or "",
            "status": v.get("status"), "error": v.get("error"), "file": v.get("file"), "bytes": v.get("bytes"),
            "sha256": v.get("sha256"), "size_vs_float32": v.get("size_vs_float32"), "seconds": v.get("seconds"),
            "inputs": tfl.get("inputs") or [], "outputs": tfl.get("outputs") or [], "ops": tfl.get("ops"),
            "ops_by_type": tfl.get("ops_by_type") or {}, "ops_by_dtype": tfl.get("ops_by_dtype") or {},
            "tensors_by_dtype": tfl.get("tensors_by_dtype") or {}, "float_ops": tfl.get("float_ops") or [],
            "checks": v.get("checks"),
        })
        if v.get("status") != "ok":
            err = v.get("error") or {}
            _warn(warnings, "variant-failed", f"{mode} failed to convert: {err.get('message') or 'unknown error'}", sid)
    _add_mixed_precision(doc, sid, man)


def _add_mixed_precision(doc: dict[str, Any], sid: str, man: dict[str, Any]) -> None:
    """The int8-mixed model of ``convert --max-drop`` is a variant like the others (eval and profile runs match it)."""
    mp = man.get("mixed_precision")
    if not isinstance(mp, dict) or not mp.get("file") or not mp.get("sha256"):
        return
    if any(v["source"] == sid and v["file"] == mp["file"] for v in doc["variants"]):
        return  # no op had to stay float: the file is the int8 variant itself
    ops = [o.get("op_name") for o in mp.get("float_ops") or [] if isinstance(o, dict) and o.get("op_name")]
    f32 = next((v for v in doc["variants"] if v["source"] == sid and v["mode"] == "float32" and v.get("bytes")), None)
    size = mp.get("bytes")
    doc["variants"].append({
        "id": f"{sid}/int8-mixed", "source": sid, "mode": "int8-mixed",
        "summary": f"int8 with {len(ops)} op(s) kept float by --max-drop {mp.get('max_drop_pp')}",
        "status": "ok", "error": None, "file": mp["file"], "bytes": size, "sha256": mp["sha256"],
        "size_vs_float32": round(size / f32["bytes"], 4) if isinstance(size, int) and f32 else None,
        "seconds": mp.get("seconds"), "inputs": [], "outputs": [], "ops": None, "ops_by_type": {}, "ops_by_dtype": {},
        "tensors_by_dtype": {}, "float_ops": sorted(set(ops)), "checks": None,
    })


def _variant_for(doc: dict[str, Any], sid: str, file: Any, mode: Any, **facts: Any) -> dict[str, Any]:
    """The variant a run refers to (by file name, then mode); a stub when the manifest lacks it."""
    name = PurePath(str(file)).name if file else None
    mine = [v for v in doc["variants"] if v["source"] == sid]
    for v in mine:
        if facts.get("sha256") and v.get("sha256") == facts["sha256"]:
            return v
    for v in mine:
        if name and v["file"] == name:
            return v
    for v in mine:
        if mode and v["mode"] == mode:
            return v
    vid = f"{sid}/{mode or name or '?'}"
    stub = {"id": vid, "source": sid, "mode": mode or name, "summary": "", "status": "unknown", "error": None,
            "file": name, "bytes": facts.get("bytes"), "sha256": facts.get("sha256"), "size_vs_float32": None,
            "seconds": None, "inputs": [], "outputs": [], "ops": None, "ops_by_type": {}, "ops_by_dtype": {},
            "tensors_by_dtype": {}, "float_ops": [], "checks": None}
    doc["variants"].append(stub)
    return stub


def _foreign(var: dict[str, Any], sha256: Any) -> bool:
    """True when a run measured a file whose sha256 differs from the manifest's variant it names."""
    return bool(var.get("sha256") and isinstance(sha256, str) and sha256 and var["sha256"] != sha256)


def _add_eval(doc: dict[str, Any], sid: str, part: Any, warnings: list[dict[str, Any]]) -> None:
    e = part.doc
    data = e.get("data") or {}
    results = []
    for v in e.get("variants") or []:
        var = _variant_for(doc, sid, v.get("file"), v.get("mode"), bytes=v.get("bytes"), sha256=v.get("sha256"))
        m = v.get("metrics") or {}
        stale = _foreign(var, v.get("sha256"))
        if stale:
            _warn(warnings, "stale-eval", f"{part.name}: {v.get('file') or var['mode']} ignored: its sha256 does not "
                                          f"match the manifest's {var['mode']} variant (another model, or converted "
                                          "since); run 'edgeq eval' on this folder again", sid)
        results.append({
            "variant": var["id"], "mode": var["mode"], "file": v.get("file"), "status": v.get("status"),
            "sha256": v.get("sha256"), "stale": stale,
            "error": v.get("error"), "engine": v.get("engine"), "calibration": v.get("calibration"),
            **{k: m.get(k) for k in ("count", "top1", "top5", "agreement_top1", "kl_divergence", "cosine",
                                     "sqnr_db", "max_abs_error")},
            "drop_pp": v.get("drop_pp"), "per_class": m.get("per_class") or {}, "confusion": m.get("confusion"),
        })
        if v.get("status") != "ok":
            msg = (v.get("error") or {}).get("message", "unknown error")
            _warn(warnings, "eval-failed", f"{part.name}: {var['mode']} failed to evaluate: {msg}", sid)
    if e.get("partial"):
        _warn(warnings, "eval-partial", f"{part.name} is partial: {e.get('partial_reason') or 'stopped early'}", sid)
    drift = e.get("drift") or None
    for w in (drift or {}).get("warnings") or []:
        _warn(warnings, "eval-drift", f"{part.name}: {w}", sid)
    from edgeq.preprocess import mismatch_warning as preprocess_warning

    wrong = preprocess_warning(e.get("preprocess_check") if isinstance(e.get("preprocess_check"), dict) else None)
    if wrong:
        _warn(warnings, "preprocess-mismatch", f"{part.name}: {wrong}", sid)
    doc["accuracy"].append({
        "source": sid, "file": part.name, "command": e.get("command", ""), "created": part.created, "latest": False,
        "data": {"folder": data.get("folder"), "kind": data.get("kind"), "classes": data.get("classes"),
                 "images": data.get("images"), "skipped": len(data.get("skipped") or []),
                 "preprocess": data.get("preprocess")},
        "reference": e.get("reference"), "results": results, "drift": drift, "recommendation": e.get("recommendation"),
        "preprocess_check": e.get("preprocess_check") if isinstance(e.get("preprocess_check"), dict) else None,
    })


def _add_profile(doc: dict[str, Any], sid: str, part: Any, devices: dict[str, dict[str, Any]],
                 warnings: list[dict[str, Any]]) -> None:
    p = part.doc
    if p.get("partial"):
        _warn(warnings, "profile-partial", f"{part.name} is partial: {p.get('partial_reason') or 'stopped early'}", sid)
    for r in p.get("runs") or []:
        dev = r.get("device") or {}
        name = str(dev.get("name") or "unknown device")
        facts = dev.get("facts") or {}
        known = devices.get(name)
        if known is not None and (not facts or (known["facts"] and part.created < known["_seen"])):
            # older facts, or none: a run that never reached the device (cancelled, unreachable) tells nothing
            known["sources"] = sorted({*known["sources"], sid})
        else:
            if known is not None and known["facts"] and known["facts"] != facts:
                _warn(warnings, "device-changed", f"device {name} reported different facts in {part.name} "
                                                  "(runtime or OS changed between runs); showing the latest", sid)
            devices[name] = {"name": name, "transport": dev.get("transport"), "facts": facts,
                             "sources": sorted({*(known or {}).get("sources", []), sid}), "_seen": part.created}
        var = _variant_for(doc, sid, r.get("model_file"), r.get("variant"), sha256=r.get("model_sha256"))
        if _foreign(var, r.get("model_sha256")):
            # Another model's file (or this variant before a re-convert): its latency must never be credited
            # to this folder's variant, so it stays out of the latency table, the matrix and the headline.
            _warn(warnings, "stale-profile", f"{part.name}: {r.get('model_file') or var['mode']} on {name} ignored: "
                                             f"its sha256 does not match the manifest's {var['mode']} variant "
                                             "(another model, or converted since); run 'edgeq profile' on this "
                                             "folder's files", sid)
            continue
        entry = {
            "id": f"{var['id']}@{name}", "source": sid, "file": part.name, "command": p.get("command", ""),
            "created": part.created, "variant": var["id"], "mode": var["mode"], "model_file": r.get("model_file"),
            "model_sha256": r.get("model_sha256"), "device": name, "settings": r.get("settings") or {},
            "status": r.get("status"), "error": r.get("error"), "stats": r.get("stats") or None,
            "memory": r.get("memory"), "delegate_coverage": r.get("delegate_coverage"),
            "samples_us": list(r.get("samples_us") or []), "warmup_samples_us": list(r.get("warmup_samples_us") or []),
            "op_profile": r.get("op_profile"),
        }
        for w in r.get("warnings") or []:
            text = w.get("message", w) if isinstance(w, dict) else w
            _warn(warnings, "profile-warning", f"{var['mode']} on {name}: {text}", sid)
        if r.get("status") != "ok":
            msg = (r.get("error") or {}).get("message", r.get("status") or "unknown")
            _warn(warnings, "profile-failed", f"{var['mode']} on {name}: {r.get('status')}: {msg}", sid)
        old = next((x for x in doc["latency"] if x["id"] == entry["id"]), None)
        if old is not None:
            if _measured(old) and not _measured(entry):
                # e.g. a profile cancelled before this model's turn: it must not hide an earlier measurement
                _warn(warnings, "superseded", f"{var['mode']} on {name}: kept {old['file']}; {part.name} measured "
                                              f"nothing ({r.get('status')})", sid)
                continue
            doc["latency"].remove(old)
            what = (f"{part.name} holds several runs of it; showing the last" if old["file"] == part.name
                    else f"{old['file']} superseded by {part.name}")
            _warn(warnings, "superseded", f"{var['mode']} on {name}: {what}", sid)
        doc["latency"].append(entry)


def _measured(entry: dict[str, Any]) -> bool:
    return bool((entry.get("stats") or {}).get("count"))


def _collapse_superseded(warnings: list[dict[str, Any]], sid: str) -> None:
    """One ``superseded`` warning per source, naming the first few cases (a folder profiled often has dozens)."""
    mine = [w for w in warnings if w["code"] == "superseded" and w["source"] == sid]
    if len(mine) <= 1:
        return
    first = warnings.index(mine[0])
    for w in mine:
        warnings.remove(w)
    shown = "; ".join(w["message"] for w in mine[:3]) + (f"; and {len(mine) - 3} more" if len(mine) > 3 else "")
    warnings.insert(first, {"code": "superseded", "source": sid,
                            "message": f"{len(mine)} runs replaced by later runs of the same variant and device: {shown}"})


def _matrix(doc: dict[str, Any], max_drop: float) -> list[dict[str, Any]]:
    """One row per variant × device (a variant never profiled gets one row without a device)."""
    latest_eval = {a["source"]: a for a in doc["accuracy"] if a["latest"]}
    rows = []
    for v in doc["variants"]:
        acc = _accuracy_of(v, latest_eval.get(v["source"]))
        entries = [e for e in doc["latency"] if e["variant"] == v["id"]] or [None]
        for e in entries:
            st = (e or {}).get("stats") or {}
            settings = (e or {}).get("settings") or {}
            mem = (e or {}).get("memory") or {}
            base = None
            if e is not None:
                base = next((x for x in doc["latency"] if x["source"] == v["source"] and x["device"] == e["device"]
                             and x["mode"] == "float32" and (x.get("stats") or {}).get("median_us")), None)
            med = st.get("median_us")
            speed = None
            if base and isinstance(med, (int, float)) and med > 0:
                speed = round(base["stats"]["median_us"] / med, 3)
            status = v["status"] if e is None or v["status"] not in ("ok", "unknown") else e.get("status")
            drop = acc["drop_pp"]
            rows.append({
                "id": v["id"] if e is None else e["id"], "source": v["source"], "variant": v["id"], "mode": v["mode"],
                "device": None if e is None else e["device"], "status": status,
                "bytes": v["bytes"], "size_vs_float32": v["size_vs_float32"],
                "top1": acc["top1"], "drop_pp": drop, "accuracy_basis": acc["basis"],
                "agreement_top1": acc["agreement_top1"], "sqnr_db": acc["sqnr_db"],
                "median_ms": _ms(med), "mean_ms": _ms(st.get("mean_us")), "p90_ms": _ms(st.get("p90_us")),
                "p99_ms": _ms(st.get("p99_us")), "std_ms": _ms(st.get("std_us")), "runs": st.get("count"),
                "throughput_ips": st.get("throughput_ips"), "speedup_vs_float32": speed,
                "peak_rss_mb": mem.get("peak_rss_mb") if mem.get("measured") else None,
                "threads": settings.get("threads"), "delegate": settings.get("delegate"),
                "runtime": settings.get("runtime"),
                "meets_target": None if drop is None else bool(acc["ok"] and drop <= max_drop + 1e-9),
                "recommended": False,
            })
    return rows


def _accuracy_of(v: dict[str, Any], ev: dict[str, Any] | None) -> dict[str, Any]:
    """Top-1 and drop of a variant: from the latest eval, else bounded by the convert-time agreement."""
    res = next((r for r in (ev or {}).get("results", []) if r["variant"] == v["id"] and not r.get("stale")), None)
    if res is not None:
        return {"top1": res["top1"], "drop_pp": res["drop_pp"], "basis": "eval", "ok": res["status"] == "ok",
                "agreement_top1": res["agreement_top1"], "sqnr_db": res["sqnr_db"]}
    checks = v.get("checks") or {}
    agree = checks.get("top1_agreement")
    # Disagreeing with float on a fraction f of inputs can change top-1 accuracy by at most f:
    # a conservative stand-in for the drop until an eval run measures it.
    drop = round((1.0 - agree) * 100, 2) if isinstance(agree, (int, float)) else None
    return {"top1": None, "drop_pp": drop, "basis": "convert-check" if drop is not None else None,
            "ok": v["status"] == "ok", "agreement_top1": agree, "sqnr_db": checks.get("sqnr_db")}


def _ms(us: Any) -> float | None:
    return round(us / 1000.0, 5) if isinstance(us, (int, float)) else None
