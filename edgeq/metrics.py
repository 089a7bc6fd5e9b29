"""Comparing a variant's outputs with the float reference: agreement, SQNR, cosine, KL."""

from __future__ import annotations

from typing import Any

import numpy as np


def sqnr_db(ref: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB (inf when identical)."""
    ref = ref.astype(np.float64)
    noise = np.sum((ref - test.astype(np.float64)) ** 2)
    signal = np.sum(ref**2)
    if noise == 0:
        return float("inf")
    if signal == 0:
        return float("-inf")
    return float(10 * np.log10(signal / noise))


def cosine(ref: np.ndarray, test: np.ndarray) -> float:
    """Mean per-sample cosine similarity of flattened outputs."""
    a = ref.reshape(len(ref), -1).astype(np.float64)
    b = test.reshape(len(test), -1).astype(np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    ok = (na > 0) & (nb > 0)
    if not ok.any():
        return 1.0 if np.allclose(a, b) else 0.0
    return float(np.mean(np.sum(a[ok] * b[ok], axis=1) / (na[ok] * nb[ok])))


def softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def as_probabilities(y: np.ndarray) -> np.ndarray:
    """Outputs as probabilities: kept if they already sum to 1, else softmaxed (logits)."""
    y = y.astype(np.float64)
    if (y >= -1e-6).all() and np.allclose(y.sum(axis=-1), 1.0, atol=2e-2):
        p = np.clip(y, 0, None)
        return p / p.sum(axis=-1, keepdims=True)
    return softmax(y)


def kl_divergence(ref: np.ndarray, test: np.ndarray, eps: float = 1e-7) -> float:
    """Mean KL(ref || test) over samples, outputs taken as probabilities."""
    p, q = as_probabilities(ref), as_probabilities(test)
    return float(np.mean(np.sum(p * (np.log(p + eps) - np.log(q + eps)), axis=-1)))


def compare_outputs(ref: np.ndarray, test: np.ndarray, *, classifier: bool) -> dict[str, Any]:
    """The convert-time check numbers for one variant against the float model."""
    out: dict[str, Any] = {
        "samples": int(len(ref)),
        "sqnr_db": json_number(sqnr_db(ref, test)),
        "cosine": json_number(cosine(ref, test)),
        "max_abs_error": json_number(float(np.max(np.abs(ref - test))) if ref.size else 0.0),
    }
    if classifier:
        out["top1_agreement"] = json_number(float(np.mean(ref.argmax(-1) == test.argmax(-1))))
        out["kl_divergence"] = json_number(kl_divergence(ref, test))
    return out


def json_number(v: float | None, nd: int = 6) -> float | str | None:
    """A metric as JSON can hold it: rounded; infinities as "inf"/"-inf" (JSON has none); NaN as null."""
    if v is None or np.isnan(v):
        return None
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return round(float(v), nd)
