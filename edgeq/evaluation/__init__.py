"""Accuracy evaluation, per-layer error, mixed precision and drift checks.

Modules (import what you use; nothing heavy is imported here):

* :mod:`~edgeq.evaluation.job` — ``EvalRequest`` / ``run_evaluate`` (``edgeq eval``, ``api.evaluate``)
* :mod:`~edgeq.evaluation.dataset` — labelled data: class folders, folder + CSV, unlabelled
* :mod:`~edgeq.evaluation.scoring` — streaming metrics of one variant
* :mod:`~edgeq.evaluation.runner` — interpreters on every core
* :mod:`~edgeq.evaluation.layers` — ``AnalyzeRequest`` / ``run_analyze`` (``edgeq analyze``)
* :mod:`~edgeq.evaluation.mixed` — automatic mixed precision (``edgeq convert --max-drop``)
* :mod:`~edgeq.evaluation.drift` — calibration vs evaluation data, activation clipping
* :mod:`~edgeq.evaluation.quantizer_engine` — litert-quantizer as a second int8 engine
"""
