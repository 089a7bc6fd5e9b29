"""Makes the fixed results folders under tests/report/data/ (run once, by hand; the output is committed).

The manifests are real: a tiny 4-class classifier converted by ``edgeq.api.convert`` in all five modes,
twice (two calibration samples, the "compare two calibration sets" case). The eval, analyze and
profile documents are written by hand to the schemas in docs/report.md, with seeded, realistic
numbers (the engines that write them were being built at the same time). The .tflite files are
not kept: a report needs only the JSON documents.

    python tests/report/make_fixture.py          # rewrites tests/report/data/results-{a,b}
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
LABELS = ["bolt", "nut", "screw", "washer"]
MODES = ["float32", "float16", "dynamic", "int8", "int16x8"]


def _meta(kind: str, created: str) -> dict:
    return {"kind": kind, "schema_version": 1, "edgeq_version": "0.1.0", "created": created}


def convert(work: Path, name: str, seed: int, num: int) -> dict:
    sys.path.insert(0, str(HERE.parent))
    from edgeq_testing import build_tiny_classifier, write_images

    from edgeq import api
    from edgeq.events import drain

    os.chdir(work)
    if not Path("parts_classifier.keras").exists():
        build_tiny_classifier(Path("parts_classifier.keras"), classes=4)
        write_images(Path("calib"), 40)
    out = f"out-{name}"
    cmd = (f"edgeq convert parts_classifier.keras --calib calib/ --num-calib {num} --seed {seed} "
           f"--preprocess unit --out {out}")
    req = api.ConvertRequest(model="parts_classifier.keras", calib="calib", out=out, preset="unit", color="rgb",
                             labels=LABELS, num_calib=num, seed=seed, command=cmd, allow_fewer=True)
    result = drain(api.convert(req))
    return result.manifest


def eval_doc(manifest: dict, top1: dict[str, float], created: str, rng: np.random.Generator) -> dict:
    per_class_n = 50
    variants = []
    ref = top1["float32"]
    for v in manifest["variants"]:
        acc = top1[v["mode"]]
        correct = int(round(acc * per_class_n * len(LABELS)))
        # Spread the correct answers over classes; "screw" is the hard class.
        weights = np.array([1.02, 1.0, 0.93, 1.05])
        per = np.minimum(per_class_n, np.round(weights / weights.sum() * correct)).astype(int)
        per[0] += correct - per.sum()
        confusion = []
        for i in range(len(LABELS)):
            row = [0] * len(LABELS)
            row[i] = int(per[i])
            wrong = per_class_n - int(per[i])
            for _ in range(wrong):
                j = int(rng.choice([k for k in range(len(LABELS)) if k != i]))
                row[j] += 1
            confusion.append(row)
        agree = 1.0 if v["mode"] == "float32" else round(1 - abs(ref - acc) - rng.uniform(0.0, 0.01), 4)
        variants.append({
            "file": v["file"], "mode": v["mode"],
            "engine": "litert-quantizer" if v["mode"] == "int16x8" else "tflite-converter",
            "calibration": manifest["calibration"]["folder"] if v["mode"] in ("int8", "int16x8") else None,
            "bytes": v["bytes"], "status": "ok", "error": None,
            "metrics": {
                "count": per_class_n * len(LABELS), "top1": round(acc, 4), "top5": None,
                "per_class": {LABELS[i]: round(int(per[i]) / per_class_n, 4) for i in range(len(LABELS))},
                "confusion": confusion, "agreement_top1": agree,
                "kl_divergence": v["checks"]["kl_divergence"], "cosine": v["checks"]["cosine"],
                "sqnr_db": v["checks"]["sqnr_db"], "max_abs_error": v["checks"]["max_abs_error"],
            },
            "drop_pp": round((ref - acc) * 100, 2),
        })
    return {
        "__meta__": _meta("eval", created),
        "command": "edgeq eval out/ --data data/val --reference float32",
        "partial": False, "partial_reason": None,
        "data": {"folder": "data/val", "kind": "folders", "classes": LABELS, "images": 200,
                 "skipped": [{"file": "data/val/nut/broken.jpg", "reason": "cannot decode"}],
                 "preprocess": manifest["preprocess"],
                 "stats": {"channels": 3, "min": [0.0, 0.0, 0.0], "max": [1.0, 1.0, 1.0],
                           "mean": [0.482, 0.47, 0.455], "std": [0.21, 0.205, 0.212]}},
        "reference": {"file": next(v["file"] for v in manifest["variants"] if v["mode"] == "float32"),
                      "mode": "float32"},
        "variants": variants,
        "drift": {"warnings": ["eval images span [0, 1] but the calibration set only [0.16, 0.80]: int8 saturates 0.4% of input values"],
                  "input": {"calib_max": manifest["calibration"]["stats"]["max"], "eval_max": [1.0, 1.0, 1.0]},
                  "clipping": [{"tensor": "serving_default_input:0", "calib_range": [0.16, 0.80],
                                "eval_range": [0.0, 1.0], "saturated_fraction": 0.0041}]},
        "recommendation": None,
    }


def analyze_doc(manifest: dict, created: str) -> dict:
    int8 = next(v for v in manifest["variants"] if v["mode"] == "int8")
    f32 = next(v for v in manifest["variants"] if v["mode"] == "float32")
    layers = [
        (4, "FULLY_CONNECTED", "tiny_1/probs_1/MatMul;tiny_1/probs_1/BiasAdd", 0.0121, 0.061, 24.3, 0.0087),
        (3, "MEAN", "tiny_1/gap_1/Mean", 0.0048, 0.035, 29.1, 0.0035),
        (2, "CONV_2D", "tiny_1/conv2_1/Relu;tiny_1/conv2_1/BiasAdd", 0.0061, 0.028, 31.0, 0.0042),
        (1, "MAX_POOL_2D", "tiny_1/pool1_1/MaxPool2d", 0.0032, 0.012, 38.4, 0.0019),
        (0, "CONV_2D", "tiny_1/conv1_1/Relu;tiny_1/conv1_1/BiasAdd", 0.0029, 0.011, 39.2, 0.0017),
        (5, "SOFTMAX", "StatefulPartitionedCall_1:0", 0.0009, 0.004, 47.8, 0.0004),
    ]
    return {
        "__meta__": _meta("analyze", created),
        "command": f"edgeq analyze out/{int8['file']} --data data/val",
        "model": int8["file"], "reference": f32["file"],
        "layers": [{"op_index": i, "op_name": op, "tensor": t, "rmse": r, "scaled_rmse": s, "sqnr_db": q,
                    "mean_abs_error": m} for i, op, t, r, s, q, m in layers],
    }


def _samples(rng: np.random.Generator, median_us: float, n: int, spread: float = 0.06) -> list[float]:
    x = median_us * rng.lognormal(0.0, spread, size=n)
    spikes = rng.random(n) < 0.04  # scheduler hiccups, as on a real board
    x[spikes] *= rng.uniform(1.6, 2.6, size=spikes.sum())
    x[: n // 10] *= np.linspace(1.15, 1.0, n // 10)  # caches warming up over the first runs
    return [round(float(v), 1) for v in x]


def _stats(s: list[float], warm: list[float], init_ms: float) -> dict:
    a = np.array(s)
    return {"init_ms": init_ms, "first_inference_us": round(warm[0], 1), "warmup_mean_us": round(float(np.mean(warm)), 1),
            "count": len(s), "mean_us": round(float(a.mean()), 2), "std_us": round(float(a.std()), 2),
            "min_us": float(a.min()), "max_us": float(a.max()), "median_us": round(float(np.median(a)), 2),
            "p5_us": round(float(np.percentile(a, 5)), 2), "p90_us": round(float(np.percentile(a, 90)), 2),
            "p95_us": round(float(np.percentile(a, 95)), 2), "p99_us": round(float(np.percentile(a, 99)), 2),
            "throughput_ips": round(1e6 / float(a.mean()), 1)}


DEVICES = {
    "host": {"name": "host", "transport": "local", "facts": {
        "os": "Linux 6.1.0-28-amd64 (Debian GNU/Linux 12)", "machine": "x86_64", "cpu_model": "AMD Ryzen 7 5800U",
        "governor": "schedutil", "python": "3.11.7", "runtime": "ai_edge_litert", "runtime_version": "2.3.0",
        "numpy": "2.4.6", "delegates_available": ["xnnpack"]}},
    "pi5": {"name": "pi5", "transport": "ssh", "facts": {
        "os": "Linux 6.6.51+rpt-rpi-2712 (Debian GNU/Linux 12)", "machine": "aarch64",
        "cpu_model": "Cortex-A76 x4 @ 2.4 GHz (Raspberry Pi 5 Model B Rev 1.0)", "governor": "ondemand",
        "python": "3.11.2", "runtime": "tflite_runtime", "runtime_version": "2.14.0", "numpy": "1.24.2",
        "delegates_available": ["xnnpack"]}},
}


def profile_doc(manifest: dict, device: str, medians: dict[str, float], threads: int, created: str,
                rng: np.random.Generator, failed: dict[str, str] | None = None) -> dict:
    runs = []
    for v in manifest["variants"]:
        mode = v["mode"]
        if mode not in medians and mode not in (failed or {}):
            continue
        settings = {"threads": threads, "delegate": None, "affinity": None, "warmup_runs": 5, "min_runs": 60,
                    "min_secs": 1.0, "max_secs": 30.0, "runtime": DEVICES[device]["facts"]["runtime"], "env": {}}
        run = {"model": "parts_classifier.keras", "model_file": v["file"], "model_sha256": v["sha256"],
               "variant": mode, "device": DEVICES[device], "settings": settings}
        if failed and mode in failed:
            run.update(status="failed", error={"message": failed[mode],
                                               "hint": "install a newer runtime on the device: pip install -U ai-edge-litert"},
                       stats=None, memory={"peak_rss_mb": None, "measured": False, "note": "not measured: the model did not load"},
                       delegate_coverage={"delegated_nodes": None, "total_nodes": None, "note": "not measured"},
                       samples_us=[], warmup_samples_us=[], op_profile=None)
        else:
            s = _samples(rng, medians[mode], 60)
            warm = [round(medians[mode] * f, 1) for f in (9.5, 1.8, 1.3, 1.15, 1.05)]
            run.update(status="ok", error=None, stats=_stats(s, warm, round(float(rng.uniform(1.5, 4.0)), 2)),
                       memory={"peak_rss_mb": round(float(rng.uniform(38, 44)) + v["bytes"] / 2**20, 1), "measured": True,
                               "note": "peak resident set size (VmHWM) of the runner process"},
                       delegate_coverage={"delegated_nodes": 7 if mode != "int16x8" else 0, "total_nodes": 8,
                                          "note": "XNNPACK (default CPU delegate)"},
                       samples_us=s, warmup_samples_us=warm, op_profile=None)
        runs.append(run)
    dev_arg = "--local" if device == "host" else f"--device {device}"
    return {"__meta__": _meta("profile", created),
            "command": f"edgeq profile out/ {dev_arg} --threads {threads} --min-runs 60",
            "partial": bool(failed), "partial_reason": f"failed: {', '.join(failed)}" if failed else None,
            "runs": runs}


def write(folder: Path, manifest: dict, docs: dict[str, dict]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "runs").mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for name, doc in docs.items():
        (folder / "runs" / name).write_text(json.dumps(doc, indent=2) + "\n")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="edgeq-fixture-"))
    man_a = convert(work, "a", seed=0, num=40)
    man_b = convert(work, "b", seed=1, num=20)
    rng = np.random.default_rng(5)
    top_a = {"float32": 0.915, "float16": 0.915, "dynamic": 0.91, "int8": 0.91, "int16x8": 0.915}
    top_b = {"float32": 0.915, "float16": 0.915, "dynamic": 0.91, "int8": 0.895, "int16x8": 0.915}
    host = {"float32": 38.0, "float16": 39.5, "dynamic": 31.0, "int8": 14.2, "int16x8": 96.0}
    pi5 = {"float32": 142.0, "float16": 146.0, "dynamic": 118.0, "int8": 45.5}
    write(DATA / "results-a", man_a, {
        "eval-20261124T080000Z.json": eval_doc(man_a, top_a, "2026-11-24T08:00:00+00:00", rng),
        "analyze-20261124T080500Z.json": analyze_doc(man_a, "2026-11-24T08:05:00+00:00"),
        "profile-20261124T081000Z.json": profile_doc(man_a, "host", host, 4, "2026-11-24T08:10:00+00:00", rng),
        "profile-20261124T082000Z.json": profile_doc(
            man_a, "pi5", pi5, 4, "2026-11-24T08:20:00+00:00", rng,
            failed={"int16x8": "Didn't find op for builtin opcode 'FULLY_CONNECTED' version '11'"}),
    })
    pi5_b = {k: v * (1.9 if k != "int8" else 1.6) for k, v in pi5.items()}  # one thread instead of four
    write(DATA / "results-b", man_b, {
        "eval-20261124T090000Z.json": eval_doc(man_b, top_b, "2026-11-24T09:00:00+00:00", rng),
        "profile-20261124T091000Z.json": profile_doc(man_b, "pi5", pi5_b, 1,
                                                     "2026-11-24T09:10:00+00:00", rng),
    })
    print(f"wrote {DATA}/results-a and results-b (work files in {work})")


if __name__ == "__main__":
    main()
