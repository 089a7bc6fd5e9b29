"""(c) `edgeq --help` wall time vs `python -c "import tensorflow"` (target ≤ 0.1).

Run: ``python benchmarks/bench_help.py``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from _common import report, run, timed


def main() -> None:
    exe = shutil.which("edgeq", path=str(Path(sys.executable).parent)) or shutil.which("edgeq")
    cmd = [exe, "--help"] if exe else [sys.executable, "-m", "edgeq", "--help"]
    t_help = timed(lambda: run(cmd), repeat=5)
    t_tf = timed(lambda: run([sys.executable, "-c", "import tensorflow"]), repeat=3)
    report("edgeq --help", t_help / t_tf, "≤ 0.1", f"--help {t_help * 1000:.0f} ms, import tensorflow {t_tf * 1000:.0f} ms")


if __name__ == "__main__":
    main()
