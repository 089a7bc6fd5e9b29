"""Accuracy evaluation, per-layer error, mixed precision and drift checks."""
