"""Taming TensorFlow's own output: quiet logs, and capture of what its C++ side prints.

TFLiteConverter prints "Saved artifact at …" and MLIR diagnostics straight to file
descriptors 1 and 2, which would corrupt ``--json`` output and the progress bar. The CLI keeps
a duplicate of the real stderr for itself, and conversions run inside :func:`captured_fds`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from typing import Iterator

_LOCK = threading.Lock()


def quiet_tensorflow_env() -> None:
    """Sets environment defaults that silence TensorFlow's info logs (before it is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


def import_tensorflow():  # noqa: ANN201 - returns the module
    """Imports TensorFlow quietly; the only place edgeq imports it."""
    quiet_tensorflow_env()
    with captured_fds():
        import tensorflow as tf  # noqa: PLC0415

        tf.get_logger().setLevel("ERROR")
    return tf


@contextlib.contextmanager
def captured_fds() -> Iterator[list[str]]:
    """Redirects fds 1 and 2 to a temp file for the block; the list receives the text after."""
    out: list[str] = []
    with _LOCK:
        for s in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                s.flush()
        try:
            saved = [os.dup(1), os.dup(2)]
        except OSError:  # no real fds (embedded interpreter): nothing to capture
            yield out
            return
        with tempfile.TemporaryFile(mode="w+b") as tmp:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            try:
                yield out
            finally:
                for s in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        s.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
                tmp.seek(0)
                out.append(tmp.read().decode("utf-8", "replace"))
