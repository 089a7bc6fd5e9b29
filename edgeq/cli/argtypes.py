"""argparse value types shared by the subcommands: numbers that must be positive say so at parse time."""

from __future__ import annotations

import argparse


def _number(kind: type, text: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a {'whole ' if kind is int else ''}number") from None


def positive_int(text: str) -> int:
    """An int ≥ 1."""
    v = int(_number(int, text))
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {v}")
    return v


def non_negative_int(text: str) -> int:
    """An int ≥ 0."""
    v = int(_number(int, text))
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {v}")
    return v


def positive_float(text: str) -> float:
    """A float > 0."""
    v = float(_number(float, text))
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return v


def non_negative_float(text: str) -> float:
    """A float ≥ 0."""
    v = float(_number(float, text))
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {text}")
    return v
