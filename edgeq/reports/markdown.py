"""The Markdown rendering of a report document, for pull requests and issues.

GitHub renders raw HTML inside Markdown, and table cells end at ``|``: every value taken from
the document goes through :func:`_cell`, which escapes both, so a model or class name cannot
inject markup or break a table.
"""

from __future__ import annotations

from typing import Any

from edgeq.reports import formatting as f


def _cell(x: Any) -> str:
    s = x if isinstance(x, str) else f.text(x)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("|", "\\|").replace("\r", " ").replace("\n", " ").replace("`", "'")


def _code(x: Any) -> str:
    """An inline code span (outside tables): literal text, so only backticks and newlines need care."""
    s = x if isinstance(x, str) else f.text(x)
    return "`" + s.replace("`", "'").replace("\r", " ").replace("\n", " ") + "`"


_TEXT_COLUMNS = {"folder", "path", "status", "parts", "missing", "device", "fastest within target", "variant",
                 "smallest within target", "basis", "target", "setting", "", "vs", "settings that differ", "class",
                 "type", "tensor", "transport", "os", "machine", "cpu model", "runtime", "runtime version", "governor",
                 "file", "sha256", "ops by dtype", "float ops", "input", "output", "part", "created", "command",
                 "threads · delegate", "delegated"}


def _table(head: list[str], rows: list[list[Any]], labels: Any = ()) -> list[str]:
    """A GFM table; columns whose header is not a known text column are right-aligned (numbers)."""
    out = ["| " + " | ".join(_cell(h) for h in head) + " |",
           "|" + "|".join("---" if h in _TEXT_COLUMNS or h in labels else "---:"
                          for h in head) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out + [""]


def render_markdown(doc: dict[str, Any]) -> str:
    """Renders a report document as GitHub-flavoured Markdown.

    Args:
        doc: a report document from :func:`edgeq.reports.build.build_report`.

    Returns:
        The Markdown text (tables, no images: attach the HTML report for charts).
    """
    multi = len(doc["sources"]) > 1
    m = doc["__meta__"]
    out = [f"# {_cell(doc['title'])}", "",
           f"Generated {m.get('created')} by edgeq {m.get('edgeq_version')} (report schema {m.get('schema_version')}); "
           f"accuracy-drop target {doc['target']['max_drop_pp']:g} pp top-1.", ""]
    out += _table(["folder", "path", "status", "parts", "missing"],
                  [[f"{s['id']} {s['label']}", s["folder"], s["status"],
                    f.parts_summary(s["parts"]), ", ".join(s["missing"]) or "–"] for s in doc["sources"]])
    out += ["## Summary", ""]
    out += [f"- {_cell(h)}" for h in doc["highlights"]] + ([""] if doc["highlights"] else [])
    why = doc.get("explanations") or []
    if why:
        out += ["### Why these numbers", ""] + [f"- {_cell(n['text'])}" for n in why] + [""]
    out += _table((["folder"] if multi else []) + ["device", "fastest within target", "smallest within target",
                                                  "basis"],
                  [([r["source"]] if multi else []) + [
                      r["device"] or "(not profiled)",
                      f"{r['fastest']['mode']} ({f.ms(r['fastest']['median_ms'])} ms)" if r["fastest"] else "–",
                      f"{r['smallest']['mode']} ({f.kib(r['smallest']['bytes'])})" if r["smallest"] else "–",
                      r["basis"] or "–"] for r in doc["recommendations"]])
    if doc["warnings"]:
        out += [f"### Warnings ({len(doc['warnings'])})", ""]
        out += [f"- **{_cell(w['code'])}**{' [' + w['source'] + ']' if multi and w.get('source') else ''}: "
                f"{_cell(w['message'])}" for w in doc["warnings"]] + [""]
    out += ["## Results: variant × device", ""]
    out += _table((["folder"] if multi else []) + ["variant", "device", "status", "size", "× float32", "top-1",
                                                  "drop pp", "target", "median ms", "p90 ms", "speed-up",
                                                  "peak RSS MB", "threads"],
                  [([r["source"]] if multi else []) + [
                      r["mode"] + (" ★" if r["recommended"] else ""), r["device"] or "–", r["status"],
                      f.kib(r["bytes"]),
                      f.times(r["size_vs_float32"]), f.pct(r["top1"]),
                      (("≤ " if r["accuracy_basis"] == "convert-check" else "") + f.num(r["drop_pp"]))
                      if r["drop_pp"] is not None else "–",
                      "–" if r["meets_target"] is None else ("meets" if r["meets_target"] else "misses"),
                      f.ms(r["median_ms"]), f.ms(r["p90_ms"]), f.times(r["speedup_vs_float32"]),
                      f.num(r["peak_rss_mb"], 1), r["threads"]] for r in doc["matrix"]])
    out += ["★ recommended: the fastest variant within the target on that device (the smallest where nothing was "
            "profiled). `≤` marks a drop bounded by convert-time disagreement with float (no eval run).", ""]
    if doc.get("comparison"):
        out += _comparison(doc)
    out += _accuracy(doc, multi)
    out += _latency(doc, multi)
    out += _facts(doc, multi)
    return "\n".join(out).rstrip() + "\n"


def _comparison(doc: dict[str, Any]) -> list[str]:
    c = doc["comparison"]
    ids = [s["id"] for s in doc["sources"]]
    out = [f"## Comparison (base: {c['base']})", ""]
    out += _table(["setting", *[f"{s['id']} {s['label']}" for s in doc["sources"]], ""],
                  [[row["setting"], *[row["values"].get(i, "–") for i in ids], "**differs**" if row["differs"] else ""]
                   for row in c["settings"]], labels=[f"{s['id']} {s['label']}" for s in doc["sources"]])
    if c["deltas"]:
        out += _table(["variant", "device", "vs", "top-1 Δ", "latency ×", "size ×", "settings that differ"],
                      [[d["mode"], d["device"], d["other"], f.pp(d["top1_pp"]), f.times(d["median_ratio"]),
                        f.times(d["bytes_ratio"]), ", ".join(d["settings_differ"]) or "–"] for d in c["deltas"]])
    return out


def _accuracy(doc: dict[str, Any], multi: bool) -> list[str]:
    out = ["## Accuracy", ""]
    if not doc["accuracy"]:
        out += ["No eval run: run `edgeq eval` on the results folder.", ""]
    for a in doc["accuracy"]:
        ref = a.get("reference") or {}
        out += [f"### {'[' + a['source'] + '] ' if multi else ''}{_cell(a['file'])}{' (latest)' if a['latest'] else ''}",
                "", f"{_cell(a['data'].get('images'))} images from {_code(a['data'].get('folder'))}, "
                    f"reference {_cell(ref.get('mode'))}. Command: {_code(a['command'])}", ""]
        out += _table(["variant", "status", "top-1", "top-5", "drop pp", "agreement", "KL", "SQNR dB"],
                      [[r["mode"], f.text(r["status"]) + (" (stale: ignored)" if r.get("stale") else ""), f.pct(r["top1"], 2),
                        f.pct(r["top5"], 2), f.num(r["drop_pp"]),
                        f.pct(r["agreement_top1"], 2), f.small(r["kl_divergence"]), f.num(r["sqnr_db"], 1)]
                       for r in a["results"]])
        per = [r for r in a["results"] if r["per_class"]]
        if per and a["latest"]:
            classes = list(a["data"].get("classes") or per[0]["per_class"].keys())
            out += _table(["class", *[r["mode"] for r in per]],
                          [[c, *[f.pct(r["per_class"].get(c)) for r in per]] for c in classes])
    for run in doc["layers"]:
        out += [f"### Most sensitive layers: {'[' + run['source'] + '] ' if multi else ''}{_code(run['model'])}", ""]
        out += _table(["op", "type", "tensor", "own SQNR dB", "scaled RMSE", "SQNR dB"],
                      [[x.get("op_index"), x.get("op_name"), x.get("tensor"),
                        f.sqnr(x.get("local_sqnr_db"), x.get("local_sqnr_infinite"), "none added"), f.num(x.get("scaled_rmse"), 4),
                        f.sqnr(x.get("sqnr_db"), x.get("sqnr_infinite"))] for x in run["top"]])
        out += ["Sorted by own SQNR (of the error an op adds itself), lowest first; `none added`: the op's output "
                "is no noisier than its input; `exact`: no error at all at float precision. Scaled RMSE is "
                "RMSE ÷ the output's quantization scale (≈ 0.29 is pure rounding).", ""]
    return out


def _delegated(cov: Any) -> str:
    """``12/12`` nodes run by the delegate (``0/12``: the delegate took nothing, e.g. int16x8 on XNNPACK)."""
    if not isinstance(cov, dict) or not cov.get("total_nodes"):
        return f.DASH
    return f"{cov.get('delegated_nodes')}/{cov['total_nodes']}"


def _latency(doc: dict[str, Any], multi: bool) -> list[str]:
    out = ["## Latency", ""]
    if not doc["latency"]:
        return out + ["No profile run: run `edgeq profile` on the results folder.", ""]
    rows = []
    for e in doc["latency"]:
        s = e["stats"] or {}
        mem = e.get("memory") or {}
        rows.append([f"{e['source'] + '/' if multi else ''}{e['mode']}", e["device"], e["status"], s.get("count"),
                     f.us_ms(s.get("mean_us")), f.us_ms(s.get("median_us")), f.us_ms(s.get("p90_us")),
                     f.us_ms(s.get("p99_us")), f.us_ms(s.get("std_us")), f.ms(s.get("init_ms")),
                     f.num(mem.get("peak_rss_mb"), 1) if mem.get("measured") else "not measured",
                     _delegated(e.get("delegate_coverage")),
                     f"{e['settings'].get('threads')} · {e['settings'].get('delegate') or 'none'}"])
    out += _table(["variant", "device", "status", "runs", "mean ms", "median ms", "p90 ms", "p99 ms", "std ms",
                   "init ms", "peak RSS MB", "delegated", "threads · delegate"], rows)
    out += ["Raw samples are in the JSON report (`edgeq report --format json`).", "", "### Devices", ""]
    keys = ["os", "machine", "cpu_model", "runtime", "runtime_version", "governor"]
    out += _table(["device", "transport", *[k.replace("_", " ") for k in keys]],
                  [[d["name"], d.get("transport"), *[(d.get("facts") or {}).get(k) for k in keys]]
                   for d in doc["devices"]])
    return out


def _facts(doc: dict[str, Any], multi: bool) -> list[str]:
    out = ["## Model and variants", ""]
    for m in doc["models"]:
        cal = m.get("calibration") or {}
        out += [f"- {'[' + m['source'] + '] ' if multi else ''}model **{_cell(m.get('name'))}** "
                f"({_code(m.get('path'))}, sha256 {_code((m.get('sha256') or '')[:16])}), input "
                f"{_cell(f.shape(m.get('input_shape')))} {_cell(m.get('input_dtype'))}, "
                f"{_cell(m.get('params'))} parameters",
                f"- preprocessing: {_cell(f.describe_preprocess(m.get('preprocess')))}",
                f"- calibration: {_cell(cal.get('used'))} images from {_code(cal.get('folder'))} "
                f"(seed {_cell(cal.get('seed'))})" if cal else "- calibration: none", ""]
    out += _table((["folder"] if multi else []) + ["variant", "status", "file", "bytes", "sha256", "ops by dtype",
                                                  "float ops", "input", "output", "SQNR dB", "top-1 agree"],
                  [([v["source"]] if multi else []) + [
                      v["mode"], v["status"], v["file"], v["bytes"], (v["sha256"] or "–")[:12],
                      ", ".join(f"{k} {n}" for k, n in v["ops_by_dtype"].items()) or "–", v["float_ops"],
                      f.io_text(v["inputs"]), f.io_text(v["outputs"]),
                      f.num((v["checks"] or {}).get("sqnr_db"), 1), f.pct((v["checks"] or {}).get("top1_agreement"))]
                   for v in doc["variants"]])
    out += ["## Provenance", ""]
    for s in doc["sources"]:
        if multi:
            out += [f"### {_cell(s['id'])} {_cell(s['label'])}", ""]
        out += _table(["part", "file", "created", "command"],
                      [[p["kind"], p["file"], p["created"], p["command"] or "–"] for p in s["parts"]])
    if doc.get("command"):
        out += [f"This report: {_code(doc['command'])}", ""]
    return out
