"""The on-device runner stays one self-contained file that old board Pythons can run."""

from __future__ import annotations

import ast

from edgeq.devices.backend import RUNNER


def test_runner_imports_nothing_from_edgeq_and_parses_as_python37() -> None:
    src = RUNNER.read_text()
    tree = ast.parse(src, feature_version=(3, 7))  # Raspberry Pi OS buster / Mendel ship 3.7
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    allowed_third_party = {"numpy", "ai_edge_litert", "tflite_runtime"}
    stdlib = {"argparse", "json", "os", "platform", "shutil", "sys", "threading", "time", "ctypes", "importlib", "resource"}
    assert imported <= allowed_third_party | stdlib, imported - allowed_third_party - stdlib
    # f-strings with "=" and other post-3.7 forms would have failed the parse above; so would walrus
    assert not any(isinstance(n, ast.NamedExpr) for n in ast.walk(tree))
