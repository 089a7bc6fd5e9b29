"""Pure parts of evaluation: dataset discovery, streaming scores, drift statistics, recommendation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edgeq_testing import write_images

from edgeq.errors import DatasetError
from edgeq.evaluation.dataset import find_dataset
from edgeq.evaluation.drift import compare_inputs
from edgeq.evaluation.job import recommend
from edgeq.evaluation.scoring import Score
from edgeq.metrics import compare_outputs


def test_class_order_is_natural_and_labels_file_reorders(tmp_path: Path) -> None:
    for name in ("10_x", "2_b", "1_a"):
        write_images(tmp_path / name, 2, prefix=name)
    d = find_dataset(tmp_path)
    assert d.kind == "folders" and d.classes == ["1_a", "2_b", "10_x"]
    assert d.labels == [0, 0, 1, 1, 2, 2]
    d2 = find_dataset(tmp_path, classes=["10_x", "1_a", "2_b", "unused"])
    assert d2.classes[0] == "10_x" and d2.labels == [1, 1, 2, 2, 0, 0]
    with pytest.raises(DatasetError, match="not in the labels file"):
        find_dataset(tmp_path, classes=["1_a"])


def test_csv_with_names_and_header(tmp_path: Path) -> None:
    write_images(tmp_path, 3)
    (tmp_path / "l.csv").write_text("file,label\nimg_000.png,dog\nimg_001.png,cat\nimg_002.png,dog\n")
    d = find_dataset(tmp_path, csv_path=tmp_path / "l.csv")
    assert d.kind == "csv" and d.classes == ["cat", "dog"] and d.labels == [1, 0, 1]
    (tmp_path / "bad.csv").write_text("img_000.png\n")
    with pytest.raises(DatasetError, match="no label column"):
        find_dataset(tmp_path, csv_path=tmp_path / "bad.csv")


def test_streaming_score_matches_batch_metrics() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(50, 7)).astype(np.float32)
    test = ref + rng.normal(scale=0.3, size=ref.shape).astype(np.float32)
    labels = ref.argmax(-1)
    s = Score(classes=7, classifier=True)
    for a in range(0, 50, 13):
        s.update(test[a : a + 13], labels[a : a + 13], ref[a : a + 13])
    got = s.to_dict([str(i) for i in range(7)])
    want = compare_outputs(ref, test, classifier=True)
    assert got["agreement_top1"] == pytest.approx(want["top1_agreement"], abs=1e-6)
    assert got["top1"] == got["agreement_top1"], "labels are the reference's predictions here"
    assert got["kl_divergence"] == pytest.approx(want["kl_divergence"], abs=1e-5)
    assert got["cosine"] == pytest.approx(want["cosine"], abs=1e-5)
    assert got["sqnr_db"] == pytest.approx(want["sqnr_db"], abs=1e-3)
    assert got["max_abs_error"] == pytest.approx(want["max_abs_error"], abs=1e-5)
    assert sum(map(sum, got["confusion"])) == 50 and got["top5"] >= got["top1"]


def test_scores_of_slices_merge_into_the_score_of_the_whole() -> None:
    """Workers score their own slices; merged in order, that is the score of all samples at once."""
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(61, 6))
    test = ref + rng.normal(scale=0.5, size=ref.shape)
    labels = rng.integers(0, 6, 61)
    whole = Score(classes=6, classifier=True, top_k=3)
    whole.update(test, labels, ref)
    merged = whole.empty()
    for a, b in ((0, 20), (20, 21), (21, 61)):
        part = merged.empty()
        part.update(test[a:b], labels[a:b], ref[a:b])
        merged.merge(part)
    got, want = merged.to_dict(None), whole.to_dict(None)
    for key in ("count", "top1", "top_k", "confusion", "agreement_top1", "max_abs_error"):
        assert got[key] == want[key], key
    for key in ("kl_divergence", "cosine", "sqnr_db"):
        assert got[key] == pytest.approx(want[key], rel=1e-9), key
    assert got["count"] == 61 and 0 < got["top1"] < 1


def test_input_drift_warns_with_numbers() -> None:
    calib = {"channels": 1, "min": [0.0], "max": [255.0], "mean": [100.0], "std": [50.0]}
    warnings: list[str] = []
    compare_inputs(calib, {"channels": 1, "min": [0.0], "max": [1.0], "mean": [0.4], "std": [0.2]}, warnings)
    assert len(warnings) == 1 and "[0, 1]" in warnings[0] and "[0, 255]" in warnings[0]
    warnings.clear()
    compare_inputs(calib, {"channels": 1, "min": [0.0], "max": [255.0], "mean": [101.0], "std": [49.0]}, warnings)
    assert warnings == []
    compare_inputs(calib, {"channels": 1, "min": [0.0], "max": [255.0], "mean": [200.0], "std": [40.0]}, warnings)
    assert len(warnings) == 1 and "+2.00 calibration std" in warnings[0]


def test_recommendation_falls_back_to_closest_when_none_meets() -> None:
    def rec(mode: str, size: int, drop: float | None, ref: bool = False) -> dict:
        return {"mode": mode, "file": f"m.{mode}.tflite", "bytes": size, "status": "ok", "drop_pp": drop,
                "reference": ref, "metrics": {"top1": 0.9, "agreement_top1": None}}

    rows = [rec("float32", 100, 0.0, True), rec("int8", 25, 3.0), rec("dynamic", 30, 0.5)]
    r = recommend(rows, 1.0, labelled=True)
    assert r["met"] and r["variant"] == "dynamic"
    r = recommend(rows[1:2], 1.0, labelled=True)
    assert not r["met"] and r["variant"] == "int8" and "--max-drop 1 --data FOLDER" in r["reason"]


def test_top_k_records_its_k() -> None:
    rng = np.random.default_rng(0)
    out, labels = rng.normal(size=(40, 10)), rng.integers(0, 10, 40)
    for k, want_top5 in ((3, False), (5, True)):
        s = Score(classes=10, classifier=True, top_k=k)
        s.update(out, labels, None)
        d = s.to_dict(None)
        assert d["top_k"]["k"] == k and d["top_k"]["accuracy"] >= d["top1"]
        assert (d["top5"] == d["top_k"]["accuracy"]) if want_top5 else d["top5"] is None
    s = Score(classes=3, classifier=True, top_k=None)
    s.update(out[:, :3], labels % 3, None)
    assert s.to_dict(None)["top_k"] is None and s.to_dict(None)["top5"] is None


def test_class_names_match_loosely(tmp_path: Path) -> None:
    from edgeq.evaluation.dataset import align_to_labels, class_key

    assert class_key("0_tshirt_top") == class_key("T-shirt/top") == class_key("TSHIRT TOP") == "tshirttop"
    labels = ["T-shirt/top", "Trouser", "Ankle boot"]
    for name in ("ankle_boot", "trouser"):
        write_images(tmp_path / name, 2, prefix=name)
    data, warnings = align_to_labels(find_dataset(tmp_path), labels)
    assert data.classes == ["T-shirt/top", "trouser", "ankle_boot"] and data.labels == [2, 2, 1, 1]
    assert len(warnings) == 1 and "no images of 'T-shirt/top'" in warnings[0]
    write_images(tmp_path / "sock", 2, prefix="sock")
    data, warnings = align_to_labels(find_dataset(tmp_path), labels)
    assert data.classes == ["ankle_boot", "sock", "trouser"] and "'sock'" in warnings[0] and "--labels FILE" in warnings[0]
