"""Converters from a loaded model to TFLite variants, one registry keyed by :class:`Mode`."""

from edgeq.converters.registry import Mode, get_converter, registered_modes

__all__ = ["Mode", "get_converter", "registered_modes"]
