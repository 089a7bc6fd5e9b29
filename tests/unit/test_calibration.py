"""The calibration pipeline on real image folders: sampling, skipping, errors, statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edgeq_testing import write_images

from edgeq.calibration import decode_images, list_images, prepare_calibration
from edgeq.errors import CalibrationDataError
from edgeq.events import Done, Log, LogLevel
from edgeq.preprocess import PreprocessSpec

SPEC = PreprocessSpec(preset="unit", color="rgb", size=(16, 16))


def _run(folder: Path, **kw):
    logs, result = [], None
    for ev in prepare_calibration(folder, kw.pop("spec", SPEC), **kw):
        if isinstance(ev, Log):
            logs.append(ev)
        if isinstance(ev, Done):
            result = ev.result
    return result, logs


def test_recursive_scan_sample_and_stats(tmp_path: Path) -> None:
    write_images(tmp_path / "a", 10, prefix="a")
    write_images(tmp_path / "b" / "deeper", 10, ext=".jpg", prefix="b", seed=1)
    (tmp_path / "notes.txt").write_text("not an image")
    calib, _ = _run(tmp_path, num=12, seed=3)
    assert calib.tensors.shape == (12, 16, 16, 3)
    assert calib.candidates == 20
    assert {s["file"] for s in calib.skipped} == {"notes.txt"}
    st = calib.stats()
    assert st["channels"] == 3
    assert all(0 <= lo <= hi <= 1 for lo, hi in zip(st["min"], st["max"]))
    assert st["mean"][0] == pytest.approx(float(calib.tensors[..., 0].mean()), abs=1e-5)
    again, _ = _run(tmp_path, num=12, seed=3)
    other, _ = _run(tmp_path, num=12, seed=4)
    assert again.files == calib.files, "same seed, same sample"
    assert other.files != calib.files, "another seed draws another sample"


def test_corrupt_and_truncated_images_are_skipped_and_replaced(tmp_path: Path) -> None:
    good = write_images(tmp_path, 8, ext=".jpg")
    data = good[0].read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    calib, logs = _run(tmp_path, num=8)
    assert len(calib.files) == 8
    reasons = {s["file"]: s["reason"] for s in calib.skipped}
    assert "truncated" in reasons.get("truncated.jpg", "")
    assert "garbage.png" in reasons
    assert any(l.level == LogLevel.WARNING and "truncated.jpg" in l.message for l in logs)


@pytest.mark.parametrize("ext,channels", [(".png", 1), (".png", 3), (".bmp", 3), (".webp", 3), (".tif", 1)])
def test_direct_read_equals_buffer_decode(tmp_path: Path, ext: str, channels: int) -> None:
    """Non-JPEG files are read by one GIL-free cv2.imread; it must give what decoding the bytes gives."""
    from edgeq.calibration import _decode_buffer, _resize, load_image, normalize

    path = write_images(tmp_path, 1, ext=ext, channels=channels)[0]
    spec = PreprocessSpec(preset="unit", color="rgb" if channels == 3 else "gray", size=(16, 16))
    tensor, src = load_image(path, spec)
    raw = _decode_buffer(path, jpeg=False)
    raw = raw.reshape(*raw.shape[:2], -1)
    if channels == 3:
        raw = raw[..., ::-1]  # BGR → RGB, as load_image converts
    assert src == channels
    pixels, pad = _resize(np.ascontiguousarray(raw), spec)
    assert pad is None
    assert np.array_equal(tensor, normalize(pixels, spec))


def test_listing_skips_hidden_follows_file_links_and_sorts_like_paths(tmp_path: Path) -> None:
    a = write_images(tmp_path / "B", 2) + write_images(tmp_path / "a" / "z", 2, ext=".jpg")
    write_images(tmp_path / ".cache", 2)
    (tmp_path / "a" / ".hidden.png").write_bytes(a[0].read_bytes())
    (tmp_path / "a" / "link.png").symlink_to(a[0])
    (tmp_path / "a" / "dirlink").symlink_to(tmp_path / "B", target_is_directory=True)
    (tmp_path / "a" / "notes.TXT").write_text("x")
    images, others = list_images(tmp_path)
    assert images == sorted(a + [tmp_path / "a" / "link.png"])
    assert others == [tmp_path / "a" / "notes.TXT"]


def test_unreadable_files_say_why(tmp_path: Path) -> None:
    from edgeq.calibration import ImageDecodeError, load_image

    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    good = write_images(tmp_path, 1)[0]
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:200])
    reasons = {}
    for name in ("empty.png", "garbage.png", "cut.png", "gone.png"):
        with pytest.raises(ImageDecodeError) as exc:
            load_image(tmp_path / name, SPEC)
        reasons[name] = str(exc.value)
    assert reasons["empty.png"] == "empty file"
    assert reasons["garbage.png"] == reasons["cut.png"] == "not a decodable image"
    assert reasons["gone.png"].startswith("unreadable:")


def test_errors_name_folder_and_count(tmp_path: Path) -> None:
    with pytest.raises(CalibrationDataError, match="does not exist"):
        _run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalibrationDataError, match="has no images.*no files"):
        _run(tmp_path / "empty")
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt" / "a.txt").write_text("x")
    with pytest.raises(CalibrationDataError, match="non-image"):
        _run(tmp_path / "txt")
    write_images(tmp_path / "few", 5)
    with pytest.raises(CalibrationDataError) as info:
        _run(tmp_path / "few", num=10)
    assert "5 usable image(s), --num-calib asks for 10" in info.value.message
    assert "--allow-fewer" in info.value.hint
    calib, logs = _run(tmp_path / "few", num=10, allow_fewer=True)
    assert len(calib.files) == 5
    assert any("fewer" in l.message for l in logs)


def test_grayscale_images_for_rgb_model_warn(tmp_path: Path) -> None:
    write_images(tmp_path, 6, channels=1)
    calib, logs = _run(tmp_path, num=6)
    assert calib.gray_sources == 6
    assert calib.tensors.shape[-1] == 3
    assert any(l.code == "calib-grayscale" for l in logs)


def test_parallel_decode_equals_sequential(tmp_path: Path) -> None:
    paths = write_images(tmp_path, 20, ext=".jpg")
    par = [d.tensor for d in decode_images(paths, SPEC, workers=2)]
    seq = [d.tensor for d in decode_images(paths, SPEC, workers=1)]
    assert all(np.array_equal(a, b) for a, b in zip(par, seq))
    imgs, others = list_images(tmp_path)
    assert imgs == sorted(paths) and others == []
