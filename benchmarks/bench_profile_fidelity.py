"""(d) Measurement fidelity: `edgeq profile --device local` median latency vs a bare timed
``interpreter.invoke()`` loop on the same model, in the same run (target: ratio within 1 ± 0.03).

The two are interleaved (profile, bare, profile, bare, …) so CPU frequency or load drift hits both;
the ratio is the median of the profile medians over the median of the bare medians.

Run: ``python benchmarks/bench_profile_fidelity.py [--model M.tflite] [--rounds 5] [--runs 300]``.
Without --model, a ~1 ms conv model is built with TensorFlow in a subprocess.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import report

_BUILD = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
tf.keras.utils.set_random_seed(0)
inp = tf.keras.Input((96, 96, 3), batch_size=1)
x = inp
for ch in (32, 48, 64):
    x = tf.keras.layers.Conv2D(ch, 3, padding="same", activation="relu")(x)
x = tf.keras.layers.GlobalAveragePooling2D()(x)
m = tf.keras.Model(inp, tf.keras.layers.Dense(10)(x))
open(sys.argv[1], "wb").write(tf.lite.TFLiteConverter.from_keras_model(m).convert())
"""


def bare_median(model: Path, runs: int, warmup: int, threads: int) -> float:
    """The reference: the simplest correct timing loop, with the same inputs rule as the runner."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(model), num_threads=threads)
    it.allocate_tensors()
    rng = np.random.RandomState(0)
    for d in it.get_input_details():
        it.set_tensor(d["index"], rng.uniform(-1, 1, size=tuple(d["shape"])).astype(d["dtype"]))
    for _ in range(warmup):
        it.invoke()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        it.invoke()
        times.append((time.perf_counter_ns() - t0) / 1000.0)
    return statistics.median(times)


def edgeq_median(model: Path, runs: int, warmup: int, threads: int) -> float:
    from edgeq import api
    from edgeq.events import drain

    req = api.ProfileRequest(models=[str(model)], devices=["local"], runs=runs, warmup=warmup, min_secs=0.0, threads=threads)
    result = drain(api.profile(req))
    run = result.to_dict()["runs"][0]
    assert run["status"] == "ok", run["error"]
    return run["stats"]["median_us"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(args.model) if args.model else Path(tmp) / "bench.float32.tflite"
        if not args.model:
            subprocess.run([sys.executable, "-c", _BUILD, str(model)], check=True, capture_output=True)
        edgeq_meds, bare_meds = [], []
        for _ in range(args.rounds):
            edgeq_meds.append(edgeq_median(model, args.runs, args.warmup, args.threads))
            bare_meds.append(bare_median(model, args.runs, args.warmup, args.threads))
        e, b = statistics.median(edgeq_meds), statistics.median(bare_meds)
        ratio = e / b
        verdict = "OK" if abs(ratio - 1) <= 0.03 else "OUT OF TARGET"
        report("edgeq profile --device local median vs bare invoke() loop", ratio, "1 ± 0.03",
               f"{e:.1f} µs vs {b:.1f} µs median over {args.rounds} interleaved rounds of {args.runs} runs, "
               f"{args.threads} thread(s): {verdict}")


if __name__ == "__main__":
    main()
