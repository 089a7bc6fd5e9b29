"""Streaming accuracy and fidelity metrics of one variant, updated chunk by chunk.

Sums are kept instead of outputs, so an evaluation set of any size costs constant memory, and the
running top-1 can be reported after every chunk for live plots. The per-sample formulas are the
ones of :mod:`edgeq.metrics` (KL over probabilities, cosine of flattened outputs, SQNR).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeq.metrics import as_probabilities, json_number




class Score:
    """Accumulates one variant's outputs against labels and/or the reference outputs.

    Args:
        classes: number of classes when labelled (sizes the confusion matrix), else None.
        classifier: outputs are class scores (enables top-k, agreement, KL).
        top_k: the k of the top-k accuracy (None: not measured).
    """

    def __init__(self, *, classes: int | None, classifier: bool, top_k: int | None = 5) -> None:
        self.classes = classes
        self.classifier = classifier
        self.top_k = top_k
        self.count = 0
        self.correct = 0
        self.correct_k = 0
        self.confusion = np.zeros((classes, classes), np.int64) if classes else None
        self.ref_count = 0
        self.agree = 0
        self.kl_sum = 0.0
        self.cos_sum = 0.0
        self.signal = 0.0
        self.noise = 0.0
        self.max_abs = 0.0

    def update(self, outputs: np.ndarray, labels: np.ndarray | None, reference: np.ndarray | None) -> None:
        """Adds a chunk: ``outputs`` (N, ...) float, ``labels`` (N,) int, ``reference`` (N, ...)."""
        n = len(outputs)
        if n == 0:
            return
        self.count += n
        flat = outputs.reshape(n, -1).astype(np.float64)
        if labels is not None and self.classifier:
            pred = flat.argmax(-1)
            self.correct += int(np.sum(pred == labels))
            if self.confusion is not None:
                np.add.at(self.confusion, (labels, np.minimum(pred, self.confusion.shape[1] - 1)), 1)
            if self.top_k:
                k = min(self.top_k, flat.shape[1])
                topk = np.argpartition(-flat, k - 1, axis=1)[:, :k]
                self.correct_k += int(np.sum(np.any(topk == labels[:, None], axis=1)))
        if reference is not None:
            ref = reference.reshape(n, -1).astype(np.float64)
            self.ref_count += n
            diff = ref - flat
            self.signal += float(np.sum(ref**2))
            self.noise += float(np.sum(diff**2))
            self.max_abs = max(self.max_abs, float(np.max(np.abs(diff))))
            na, nb = np.linalg.norm(ref, axis=1), np.linalg.norm(flat, axis=1)
            ok = (na > 0) & (nb > 0)
            cos = np.where(ok, np.sum(ref * flat, axis=1) / np.where(ok, na * nb, 1.0), np.where(na == nb, 1.0, 0.0))
            self.cos_sum += float(np.sum(cos))
            if self.classifier:
                self.agree += int(np.sum(ref.argmax(-1) == flat.argmax(-1)))
                p, q = as_probabilities(ref), as_probabilities(flat)
                self.kl_sum += float(np.sum(p * (np.log(p + 1e-7) - np.log(q + 1e-7))))

    def merge(self, other: "Score") -> None:
        """Adds the sums of ``other`` (a score of other samples, e.g. one slice of a chunk)."""
        self.count += other.count
        self.correct += other.correct
        self.correct_k += other.correct_k
        if self.confusion is not None and other.confusion is not None:
            self.confusion += other.confusion
        self.ref_count += other.ref_count
        self.agree += other.agree
        self.kl_sum += other.kl_sum
        self.cos_sum += other.cos_sum
        self.signal += other.signal
        self.noise += other.noise
        self.max_abs = max(self.max_abs, other.max_abs)

    def empty(self) -> "Score":
        """A new score with the same settings and no samples."""
        return Score(classes=self.classes, classifier=self.classifier, top_k=self.top_k)

    @property
    def top1(self) -> float | None:
        return self.correct / self.count if self.count and self.confusion is not None else None

    @property
    def agreement(self) -> float | None:
        return self.agree / self.ref_count if self.ref_count and self.classifier else None

    def sqnr_db(self) -> float | None:
        if not self.ref_count:
            return None
        if self.noise == 0:
            return float("inf")
        if self.signal == 0:
            return float("-inf")
        return float(10 * np.log10(self.signal / self.noise))

    def to_dict(self, class_names: list[str] | None) -> dict[str, Any]:
        """The ``metrics`` block of a variant in the eval document."""
        labelled = self.confusion is not None and self.classifier
        per_class = None
        if labelled and class_names:
            totals = self.confusion.sum(axis=1)
            per_class = {name: (json_number(self.confusion[i, i] / totals[i]) if totals[i] else None)
                         for i, name in enumerate(class_names)}
        n_out = self.confusion.shape[1] if self.confusion is not None else 0
        acc_k = json_number(self.correct_k / self.count) if labelled and self.count and self.top_k else None
        return {
            "count": self.count,
            "top1": json_number(self.top1) if labelled else None,
            "top5": acc_k if n_out >= 5 and self.top_k == 5 else None,
            "top_k": {"k": self.top_k, "accuracy": acc_k} if acc_k is not None else None,
            "per_class": per_class,
            "confusion": self.confusion.tolist() if labelled else None,
            "agreement_top1": json_number(self.agreement),
            "kl_divergence": json_number(self.kl_sum / self.ref_count) if self.ref_count and self.classifier else None,
            "cosine": json_number(self.cos_sum / self.ref_count) if self.ref_count else None,
            "sqnr_db": json_number(self.sqnr_db(), 4),
            "max_abs_error": json_number(self.max_abs) if self.ref_count else None,
        }
