"""The layering rules of STYLE.md, checked by machine: lazy heavy imports, a Qt-free core."""

from __future__ import annotations

import json
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import edgeq

ROOT = Path(__file__).resolve().parents[2]


def _modules_in(pkg: str) -> list[str]:
    mod = __import__(pkg, fromlist=["_"])
    return [m.name for m in pkgutil.walk_packages(mod.__path__, prefix=f"{pkg}.")]


def _loaded_after(code: str) -> dict:
    probe = code + "\nimport sys, json\nprint(json.dumps({m: (m in sys.modules) for m in ('tensorflow', 'keras', 'PySide6', 'pyqtgraph', 'cv2', 'ai_edge_litert')}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_does_not_import_tensorflow() -> None:
    loaded = _loaded_after("from edgeq.cli.main import main\nimport io, contextlib\n"
                           "with contextlib.redirect_stdout(io.StringIO()): assert main(['--help']) == 0\n"
                           "with contextlib.redirect_stdout(io.StringIO()): assert main(['convert', '--help']) == 0")
    assert not loaded["tensorflow"] and not loaded["keras"] and not loaded["PySide6"], loaded


def test_every_subcommand_help_is_light() -> None:
    from edgeq.cli.main import SUBCOMMANDS

    for name in SUBCOMMANDS:
        if name == "gui":
            continue
        loaded = _loaded_after(f"from edgeq.cli.main import main\nimport io, contextlib\n"
                               f"with contextlib.redirect_stdout(io.StringIO()): assert main(['{name}', '--help']) == 0")
        assert not loaded["tensorflow"] and not loaded["PySide6"], (name, loaded)


def test_core_modules_import_without_qt_or_tensorflow() -> None:
    core = [m for m in _modules_in("edgeq") if not m.startswith("edgeq.gui")]
    core += _modules_in("edgeq.converters")
    code = "\n".join(f"import {m}" for m in core if not m.endswith("__main__"))
    loaded = _loaded_after(code)
    assert not loaded["PySide6"] and not loaded["pyqtgraph"], loaded
    assert not loaded["tensorflow"], "no core module may import TensorFlow at module top"


def test_import_linter_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a test dependency (pip install -e '.[test]')"
    r = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: " in r.stdout and " broken" in r.stdout and "0 broken" in r.stdout


def test_only_gui_imports_qt_in_source() -> None:
    offenders = []
    for folder in ("edgeq", "converters"):
        for py in (ROOT / folder).rglob("*.py"):
            for line in py.read_text().splitlines():
                s = line.strip()
                if s.startswith(("import PySide6", "from PySide6", "import pyqtgraph", "from pyqtgraph")):
                    offenders.append(f"{py.relative_to(ROOT)}: {s}")
    assert offenders == []


def test_version_is_exposed() -> None:
    assert edgeq.__version__.count(".") == 2
