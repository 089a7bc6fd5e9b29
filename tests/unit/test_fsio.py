"""Atomic writes: whole files or nothing, with the user's normal permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from edgeq.fsio import prepare_output_dir, write_bytes_atomic, write_json_atomic
from edgeq.errors import OutputError, OutputExists


def test_written_files_follow_the_umask_not_mkstemp(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    mask = os.umask(0)
    os.umask(mask)
    mode = stat.S_IMODE((tmp_path / "a.json").stat().st_mode)
    assert mode == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"], "no temp file left"


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "m.bin"
    write_bytes_atomic(target, b"old")

    with pytest.raises(TypeError):
        write_bytes_atomic(target, object())  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]


def test_prepare_output_dir_refuses_clashes(tmp_path: Path) -> None:
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "manifest.json").write_text("{}")
    with pytest.raises(OutputExists, match="manifest.json"):
        prepare_output_dir(tmp_path / "o", overwrite=False, owned_names=["manifest.json"])
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        prepare_output_dir(tmp_path / "f", overwrite=True, owned_names=[])


def test_json_documents_put_each_list_of_numbers_on_one_line(tmp_path: Path) -> None:
    import json

    import numpy as np

    from edgeq.fsio import dumps_json, write_json_atomic

    doc = {"runs": [{"samples_us": [812.4 + i for i in range(1000)], "stats": {"count": 1000}, "tags": ["a", "b"]}],
           "confusion": np.array([[3, 1], [0, 4]]), "mixed": [1, "x"], "empty": [], "flag": [True, False]}
    text = dumps_json(doc)
    assert json.loads(text) == json.loads(json.dumps(doc, default=lambda o: o.tolist()))
    assert '"samples_us": [812.4, 813.4, ' in text and '    [3, 1],\n' in text
    assert len(text) < 0.55 * len(json.dumps(doc, indent=2, default=lambda o: o.tolist()))
    assert '"flag": [\n' in text, "booleans are not numbers"
    write_json_atomic(tmp_path / "d.json", doc)
    assert (tmp_path / "d.json").read_text() == text + "\n"
