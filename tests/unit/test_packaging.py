"""The built wheel holds every module and data file, and `edgeq --help` runs from it outside the repo."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# source folder -> import prefix, as pyproject's package-dir maps them
MAPPED = {"edgeq": "edgeq", "converters": "edgeq/converters", "gui": "edgeq/gui",
          "device_profiles": "edgeq/device_profiles", "assets": "edgeq/assets"}
DATA_SUFFIXES = (".py", ".toml", ".keras", ".png", ".json", ".txt", ".j2", ".html", ".md")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300, cwd=out)
    (whl,) = out.glob("edgeq-*.whl")
    return whl


def _expected_files() -> set[str]:
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    expected = set()
    for rel in tracked:
        top, _, rest = rel.partition("/")
        if top in MAPPED and rest and rel.endswith(DATA_SUFFIXES) and not (ROOT / rel).is_dir():
            if top == "assets" and rel.endswith(".py") and not rel.endswith("__init__.py"):
                continue  # the example's training script is not needed at run time
            if top == "assets" and rel.endswith(".md") and "/" in rest:
                continue
            expected.add(f"{MAPPED[top]}/{rest}")
    return expected


def test_wheel_contains_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_expected_files() - names)
    assert not missing, f"missing from the wheel (add the package/data to pyproject.toml): {missing[:20]}"
    assert "edgeq/assets/example/example.json" in names
    assert any(n.startswith("edgeq/device_profiles/") and n.endswith(".toml") for n in names)
    assert not any(n.startswith(("gui/", "converters/", "tests/")) for n in names), "no bare top-level packages"


def test_edgeq_help_from_installed_wheel_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(target)}
    # -S: no site-packages, so the editable install of the checkout cannot be picked up.
    probe = "import edgeq, sys; print(edgeq.__file__); from edgeq.cli.main import main; sys.exit(main(['--help']))"
    r = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith(str(target)), "edgeq must come from the wheel"
    assert "convert" in r.stdout and "profile" in r.stdout
    script = target / "bin" / "edgeq"
    assert script.exists(), "console script 'edgeq' is declared"
    r = subprocess.run([sys.executable, "-S", str(script), "--version"], capture_output=True, text=True, cwd=tmp_path,
                       env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("edgeq "), r.stderr
