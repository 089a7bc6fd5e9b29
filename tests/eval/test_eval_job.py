"""`api.evaluate` on the bundled trained example: metrics, streaming, the document, drift, verdict."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from edgeq.events import Metric, Progress, VariantDone


def _by_mode(doc: dict) -> dict:
    return {v["mode"]: v for v in doc["variants"]}


def test_known_good_int8_agrees_with_float(eval_run, example) -> None:
    _, result = eval_run
    doc = result.to_dict()
    v = _by_mode(doc)
    assert set(v) == {"float32", "float16", "dynamic", "int8", "int16x8"}
    assert {k: doc["reference"][k] for k in ("file", "mode")} == {"file": v["float32"]["file"], "mode": "float32"}
    n_classes = len([d for d in example.val.iterdir() if d.is_dir()])
    total = sum(1 for _ in example.val.rglob("*.png"))
    int8 = v["int8"]["metrics"]
    assert int8["count"] == total == doc["data"]["images"]
    assert int8["agreement_top1"] >= 0.95, int8
    assert v["float32"]["metrics"]["top1"] >= 0.7, "the example model is trained"
    assert abs(v["int8"]["drop_pp"] - (v["float32"]["metrics"]["top1"] - int8["top1"]) * 100) < 1e-3
    assert int8["top5"] is not None and int8["top5"] >= int8["top1"]
    assert len(int8["per_class"]) == n_classes and set(int8["per_class"]) == set(doc["data"]["classes"])
    conf = np.array(int8["confusion"])
    assert conf.sum() == total and np.trace(conf) == round(int8["top1"] * total)
    assert 0 <= int8["kl_divergence"] < 0.1 and int8["cosine"] > 0.99
    assert v["int16x8"]["metrics"]["sqnr_db"] > int8["sqnr_db"] > 15
    assert v["float32"]["metrics"]["agreement_top1"] is None, "the reference is not compared with itself"
    assert v["int8"]["engine"] == "tflite-converter" and v["int8"]["calibration"] == "min-max"


def test_events_stream_running_accuracy_per_variant(eval_run) -> None:
    events, _ = eval_run
    metrics = [e for e in events if isinstance(e, Metric)]
    int8 = [m for m in metrics if m.variant == "int8"]
    assert len(int8) >= 2, "one running-accuracy event per chunk"
    assert [m.count for m in int8] == sorted(m.count for m in int8) and int8[0].name == "top1"
    assert 0 <= int8[-1].value <= 1
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total
    assert {e.variant for e in events if isinstance(e, VariantDone)} >= {"int8", "dynamic"}


def test_document_is_written_to_runs(eval_run, eval_results: Path) -> None:
    _, result = eval_run
    assert result.path is not None and result.path.parent == eval_results / "runs"
    doc = json.loads(result.path.read_text())
    assert doc["__meta__"]["kind"] == "eval" and doc["__meta__"]["schema_version"] == 1
    assert doc["command"] == "edgeq eval out --data val" and doc["partial"] is False
    assert doc["data"]["kind"] == "folders" and doc["data"]["preprocess"]["preset"] == "unit"
    assert doc["data"]["stats"]["channels"] == 1 and 0 <= doc["data"]["stats"]["mean"][0] <= 1
    assert doc == json.loads(json.dumps(result.to_dict()))


def test_recommendation_is_the_smallest_within_target(eval_run) -> None:
    _, result = eval_run
    doc = result.to_dict()
    rec = doc["recommendation"]
    within = [v for v in doc["variants"] if v["drop_pp"] is not None and v["drop_pp"] <= rec["max_drop_pp"]]
    assert rec["met"] and rec["variant"] == min(within, key=lambda v: v["bytes"])["mode"]
    assert "pp" in rec["reason"] and "KiB" in rec["reason"]


def test_good_calibration_has_no_input_drift(eval_run) -> None:
    _, result = eval_run
    drift = result.to_dict()["drift"]
    assert not any("normalized differently" in w for w in drift["warnings"])
    assert drift["input"]["channels"][0]["range_ratio"] > 0.5
    assert drift["clipping"], "the int8 model's activations were checked"
    assert all(0 <= c["saturated_fraction"] <= 1 for c in drift["clipping"])


def test_bad_calibration_is_detected_and_loses_accuracy(bad_results: Path, example) -> None:
    from edgeq import api
    from edgeq.events import drain

    res = drain(api.evaluate(api.EvalRequest(targets=[str(bad_results)], data=str(example.val), preset="unit",
                                             write=False)))
    doc = res.to_dict()
    v = _by_mode(doc)
    assert v["int8"]["drop_pp"] > 20, v["int8"]["metrics"]
    warnings = " ".join(doc["drift"]["warnings"])
    assert "normalized differently" in warnings and "calibration used --preprocess raw" in warnings
    assert doc["drift"]["input"]["channels"][0]["range_ratio"] < 0.01
    assert doc["recommendation"]["variant"] != "int8"


def test_a_wrong_preprocessing_reused_by_eval_is_caught_on_the_float_model(bad_results: Path, example) -> None:
    """Converted with --preprocess raw (the model expects unit): eval reuses raw, so calibration and
    evaluation agree and the drift check sees nothing — but the float model itself scores far better with
    unit on the labelled images, and eval says so with the numbers and the fix."""
    from edgeq import api
    from edgeq.events import Log, drain

    events = list(api.evaluate(api.EvalRequest(targets=[str(bad_results)], data=str(example.val), write=False)))
    doc = events[-1].result.to_dict()
    check = doc["preprocess_check"]
    assert check["used"]["preset"] == "raw" and check["best"]["preset"] == "unit"
    assert check["best"]["top1"] >= check["used"]["top1"] + 0.15 and check["sample"] == 64
    (warn,) = [e for e in events if isinstance(e, Log) and e.code == "preprocess-mismatch"]
    assert "the float model itself scores" in warn.message and "re-convert with --preprocess unit" in warn.message
    good = drain(api.evaluate(api.EvalRequest(targets=[str(bad_results)], data=str(example.val), preset="unit",
                                              write=False))).to_dict()
    assert good["preprocess_check"]["best"] is None, "with the right preprocessing, no alternative wins"


def test_workers_do_not_change_results(eval_results: Path, val_subset: Path) -> None:
    from edgeq import api
    from edgeq.events import drain

    docs = [drain(api.evaluate(api.EvalRequest(targets=[str(eval_results)], data=str(val_subset), workers=w, chunk=c,
                                               write=False, drift=False))).to_dict() for w, c in ((1, 1000), (2, 7))]
    for a, b in zip(*(d["variants"] for d in docs)):
        assert a["metrics"] == b["metrics"], a["mode"]


def test_unlabelled_folder_gives_agreement_only(eval_results: Path, val_subset: Path, tmp_path: Path) -> None:
    from edgeq import api
    from edgeq.events import drain

    flat = tmp_path / "flat"
    flat.mkdir()
    for p in list(val_subset.rglob("*.png"))[:20]:
        shutil.copy(p, flat / f"{p.parent.name}_{p.name}")
    doc = drain(api.evaluate(api.EvalRequest(targets=[str(eval_results)], data=str(flat), write=False))).to_dict()
    assert doc["data"]["kind"] == "unlabelled" and doc["data"]["classes"] is None
    int8 = _by_mode(doc)["int8"]
    assert int8["metrics"]["top1"] is None and int8["metrics"]["confusion"] is None
    assert int8["metrics"]["agreement_top1"] >= 0.9 and int8["drop_pp"] is None
    assert doc["recommendation"]["met"] and "disagreement" in doc["recommendation"]["reason"]


def test_csv_labels_match_folder_labels(eval_results: Path, val_subset: Path, tmp_path: Path) -> None:
    from edgeq import api
    from edgeq.events import drain

    flat = tmp_path / "flat"
    flat.mkdir()
    rows = ["file,label"]
    classes = sorted(d.name for d in val_subset.iterdir())
    for d in classes:
        for p in sorted((val_subset / d).iterdir()):
            shutil.copy(p, flat / f"{d}-{p.name}")
            rows.append(f"{d}-{p.name},{classes.index(d)}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    by_csv = drain(api.evaluate(api.EvalRequest(targets=[str(eval_results)], data=str(flat), csv=str(tmp_path / "labels.csv"),
                                                write=False, drift=False))).to_dict()
    by_dir = drain(api.evaluate(api.EvalRequest(targets=[str(eval_results)], data=str(val_subset), write=False,
                                                drift=False))).to_dict()
    assert by_csv["data"]["kind"] == "csv"
    for a, b in zip(by_csv["variants"], by_dir["variants"]):
        assert a["metrics"]["top1"] == b["metrics"]["top1"] and a["metrics"]["confusion"] == b["metrics"]["confusion"]


def test_cancel_keeps_a_partial_document(eval_results: Path, val_subset: Path) -> None:
    from edgeq import api
    from edgeq.events import CancelToken, Done

    cancel = CancelToken()
    req = api.EvalRequest(targets=[str(eval_results)], data=str(val_subset), chunk=8, workers=1, write=False, drift=False)
    result = None
    for ev in api.evaluate(req, cancel=cancel):
        if isinstance(ev, Metric) and not cancel.cancelled:
            cancel.cancel("stop for the test")
        if isinstance(ev, Done):
            result = ev.result
    doc = result.to_dict()
    assert doc["partial"] is True and doc["partial_reason"] == "stop for the test"
    counts = {v["metrics"]["count"] for v in doc["variants"]}
    assert 0 < min(counts) < sum(1 for _ in val_subset.rglob("*.png")), "scored what finished before the cancel"


def test_class_folders_are_matched_to_the_manifest_labels_by_name(eval_results: Path, val_subset: Path,
                                                                  tmp_path: Path) -> None:
    from edgeq import api
    from edgeq.events import drain

    renamed = tmp_path / "val"  # '3_dress' -> 'DRESS': alphabetical order is not the model's class order
    for d in val_subset.iterdir():
        shutil.copytree(d, renamed / d.name.split("_", 1)[1].upper())
    docs = [drain(api.evaluate(api.EvalRequest(targets=[str(eval_results)], data=str(folder), write=False,
                                               drift=False))).to_dict() for folder in (val_subset, renamed)]
    assert docs[1]["data"]["classes"][0] == "TSHIRT_TOP" and docs[1]["data"]["classes"][-1] == "ANKLE_BOOT"
    for a, b in zip(docs[0]["variants"], docs[1]["variants"]):
        assert a["metrics"]["top1"] == b["metrics"]["top1"] > 0.5 and a["metrics"]["confusion"] == b["metrics"]["confusion"]


def test_limit_is_a_seeded_random_sample(eval_results: Path, val_subset: Path) -> None:
    from edgeq import api
    from edgeq.events import drain

    def run(seed: int) -> dict:
        return drain(api.evaluate(api.EvalRequest(targets=[str(eval_results)], data=str(val_subset), limit=20, seed=seed,
                                                  write=False, drift=False))).to_dict()

    a, b, c = run(0), run(0), run(1)
    assert a["data"]["images"] == 20 and a["data"]["sample"] == {"limit": 20, "seed": 0, "of": 80}
    conf = np.array(_by_mode(a)["float32"]["metrics"]["confusion"])
    assert (conf.sum(axis=1) > 0).sum() >= 6, "not just the first two classes"
    assert a["variants"] == b["variants"], "same seed, same sample"
    assert c["data"]["sample"]["seed"] == 1 and _by_mode(c)["float32"]["metrics"]["confusion"] != conf.tolist()


def test_api_rejects_negative_numbers(eval_results: Path, val_subset: Path) -> None:
    import pytest

    from edgeq import api
    from edgeq.errors import UsageError
    from edgeq.events import drain

    for bad in ({"limit": -3}, {"workers": 0}, {"max_drop": -1.0}, {"top_k": 0}):
        with pytest.raises(UsageError, match="must be ≥"):
            drain(api.evaluate(api.EvalRequest(targets=[str(eval_results)], data=str(val_subset), write=False, **bad)))


def test_resized_and_letterboxed_images_score_as_one_image_at_a_time(eval_results: Path, tmp_path: Path) -> None:
    """Workers normalize a slice in one step, or image by image when letterbox padding differs per image;
    either way the predictions are those of decoding and running each file alone."""
    import cv2
    from edgeq_testing import write_images

    from edgeq import api
    from edgeq.calibration import load_image
    from edgeq.evaluation.job import EvalRequest, resolve_spec
    from edgeq.events import drain
    from edgeq.tflite import TfliteRunner

    manifest = json.loads((eval_results / "manifest.json").read_text())
    data = tmp_path / "val"
    for i, size in enumerate([(40, 48), (28, 28), (60, 20)]):  # landscape, square, portrait: different padding
        write_images(data / manifest["labels"][i].replace("/", "_"), 5, size=size, channels=1, seed=i)
    cv2.imwrite(str(data / manifest["labels"][0].replace("/", "_") / "extra.jpg"), np.full((30, 50), 200, np.uint8))
    int8 = next(eval_results.glob("*.int8.tflite"))
    for resize in ("letterbox", "crop", "stretch"):
        doc = drain(api.evaluate(api.EvalRequest(targets=[str(int8)], data=str(data), reference=None, resize=resize,
                                                 write=False, drift=False, workers=2, chunk=7))).to_dict()
        spec, _ = resolve_spec(EvalRequest(targets=[], data="", resize=resize), manifest, (1, 28, 28, 1))
        runner = TfliteRunner(int8)
        files = sorted(p for p in data.rglob("*") if p.is_file())
        want = np.zeros((10, 10), np.int64)
        for p in files:
            pred = int(np.argmax(runner.run_one(load_image(p, spec)[0])))
            want[doc["data"]["classes"].index(p.parent.name), pred] += 1
        got = np.array(doc["variants"][0]["metrics"]["confusion"])
        assert got.sum() == len(files) == 16
        assert np.array_equal(got, want), resize
