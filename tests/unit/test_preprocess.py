"""The preprocessing spec and image → tensor path, on real files decoded by OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeq.calibration import load_image
from edgeq.errors import UsageError
from edgeq.preprocess import PreprocessSpec


def _write(path: Path, img: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), img)
    return path


@pytest.mark.parametrize(
    "preset,lo,hi",
    [("raw", 0, 255), ("unit", 0, 1), ("symmetric", -1, 1)],
)
def test_presets_map_black_and_white_to_their_range(tmp_path: Path, preset: str, lo: float, hi: float) -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    img[:, 4:] = 255
    p = _write(tmp_path / "bw.png", img)
    t, _ = load_image(p, PreprocessSpec(preset=preset, color="rgb", size=(8, 8)))
    assert t.dtype == np.float32
    assert t.min() == pytest.approx(lo) and t.max() == pytest.approx(hi)


def test_imagenet_preset_uses_rgb_statistics(tmp_path: Path) -> None:
    img = np.full((4, 4, 3), (0, 0, 255), np.uint8)  # pure red in OpenCV's BGR order
    p = _write(tmp_path / "red.png", img)
    t, _ = load_image(p, PreprocessSpec(preset="imagenet", color="rgb", size=(4, 4)))
    assert t[0, 0, 0] == pytest.approx((255 - 123.675) / 58.395, rel=1e-5)  # R channel first
    assert t[0, 0, 2] == pytest.approx((0 - 103.53) / 57.375, rel=1e-5)


def test_caffe_preset_is_bgr_mean_subtracted(tmp_path: Path) -> None:
    img = np.full((4, 4, 3), (10, 20, 30), np.uint8)
    p = _write(tmp_path / "c.png", img)
    t, _ = load_image(p, PreprocessSpec(preset="caffe", color="bgr", size=(4, 4)))
    assert t[0, 0].tolist() == pytest.approx([10 - 103.939, 20 - 116.779, 30 - 123.68], rel=1e-5)
    with pytest.raises(UsageError, match="BGR"):
        PreprocessSpec(preset="caffe", color="rgb")


def test_custom_mean_std_and_validation() -> None:
    spec = PreprocessSpec(preset="custom", mean=(100,), std=(50,), color="rgb")
    assert spec.mean_std() == ((100.0,) * 3, (50.0,) * 3)
    assert spec.expected_range() == pytest.approx((-2.0, 3.1))
    with pytest.raises(UsageError, match="--mean and --std"):
        PreprocessSpec(preset="custom")
    with pytest.raises(UsageError, match="only used with --preprocess custom"):
        PreprocessSpec(preset="unit", mean=(1,))
    with pytest.raises(UsageError, match="1 or 3 values"):
        PreprocessSpec(preset="custom", mean=(1, 2), std=(1,))
    with pytest.raises(UsageError, match="unknown --preprocess value 'nonsense'") as info:
        PreprocessSpec(preset="nonsense")
    assert "symmetric" in info.value.hint


def test_roundtrip_through_manifest_dict() -> None:
    spec = PreprocessSpec(preset="symmetric", color="bgr", resize="letterbox", size=(10, 12))
    again = PreprocessSpec.from_dict(spec.to_dict())
    assert again == spec


@pytest.mark.parametrize("resize", ["stretch", "crop", "letterbox"])
def test_resize_modes_reach_target_size(tmp_path: Path, resize: str) -> None:
    img = np.full((30, 60, 3), 200, np.uint8)  # wide image
    p = _write(tmp_path / "wide.jpg", img)
    t, src = load_image(p, PreprocessSpec(preset="raw", color="rgb", resize=resize, size=(20, 20)))
    assert t.shape == (20, 20, 3) and src == 3
    if resize == "letterbox":
        # aspect kept: the wide image fills 10 of 20 rows, the rest is padding (0 after normalization)
        assert t[0].max() == 0 and t[10].min() > 190
    else:
        assert t.min() > 190


def test_grayscale_source_for_rgb_model_is_replicated(tmp_path: Path) -> None:
    img = np.arange(64, dtype=np.uint8).reshape(8, 8)
    p = _write(tmp_path / "g.png", img)
    t, src = load_image(p, PreprocessSpec(preset="raw", color="rgb", size=(8, 8)))
    assert src == 1
    assert t.shape == (8, 8, 3)
    assert np.array_equal(t[..., 0], t[..., 2])


def test_color_image_for_gray_model_and_alpha_channel(tmp_path: Path) -> None:
    img = np.zeros((6, 6, 4), np.uint8)
    img[..., 1] = 255  # green, opaque-agnostic
    p = _write(tmp_path / "a.png", img)
    t, src = load_image(p, PreprocessSpec(preset="raw", color="gray", size=(6, 6)))
    assert src == 4 and t.shape == (6, 6, 1)
    assert t.max() == pytest.approx(150, abs=1)  # BT.601 luma of pure green
