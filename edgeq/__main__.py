"""``python -m edgeq`` runs the CLI."""

from edgeq.cli.main import entry

entry()
