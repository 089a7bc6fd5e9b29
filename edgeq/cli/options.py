"""Option groups several subcommands share, so their flags, choices and help read the same."""

from __future__ import annotations

import argparse

from edgeq.preprocess import Color, Preset, Resize


def add_preprocess_arguments(group: argparse._ArgumentGroup, *, default_from: str, resize_default: str | None = None,
                             custom: bool = True) -> None:
    """--preprocess/--color/--resize (and --mean/--std when ``custom``), choices taken from edgeq.preprocess.

    Args:
        group: where to add them.
        default_from: what an omitted flag falls back to, for the help text.
        resize_default: --resize default (None: fall back like the others).
        custom: offer ``--preprocess custom`` with --mean/--std.
    """
    presets = [p.value for p in Preset if custom or p != Preset.CUSTOM]
    group.add_argument("--preprocess", choices=presets,
                       help="normalization: raw 0..255, unit 0..1, symmetric -1..1, imagenet, caffe"
                            + (", or custom --mean/--std" if custom else "") + f" (default: {default_from})")
    group.add_argument("--color", choices=[c.value for c in Color],
                       help=f"channel order fed to the model (default: {default_from})")
    group.add_argument("--resize", choices=[r.value for r in Resize], default=resize_default,
                       help=f"how to reach the input size (default: {resize_default or default_from})")
    if custom:
        group.add_argument("--mean", type=float, nargs="+", default=(), help="custom per-channel mean (0..255 scale)")
        group.add_argument("--std", type=float, nargs="+", default=(), help="custom per-channel std (0..255 scale)")
