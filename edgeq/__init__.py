"""edgeq: take a trained vision model to an edge device.

The public surface is :mod:`edgeq.api`; this package root stays import-light so that
``edgeq --help`` and the GUI's first window never pay for TensorFlow.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
