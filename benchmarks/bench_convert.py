"""(a) One `edgeq convert` producing float32, float16, dynamic and int8 vs four bare TFLiteConverter
scripts (one per mode, each loading the model and preparing its calibration data itself), same model and
images. Prints edgeq_time / scripts_time (target ≤ 0.75).

Run: ``python benchmarks/bench_convert.py``. The model is a MobileNet-style CNN (96×96×3, random weights,
built here: nothing is downloaded); calibration uses 100 photo-sized JPEGs.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import report, run, write_photos

SCRIPT = textwrap.dedent(
    """
    import sys, glob, cv2, numpy as np, tensorflow as tf, keras
    mode, model_path, calib, out = sys.argv[1:5]
    model = keras.models.load_model(model_path)
    imgs = []
    for p in sorted(glob.glob(calib + "/*.jpg"))[:100]:
        img = cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB)
        imgs.append(cv2.resize(img, (96, 96), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)
    def rep():
        for x in imgs:
            yield [x[None]]
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float32":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        c.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        c.representative_dataset = rep
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    open(out, "wb").write(c.convert())
    """
)


def build_model(path: Path) -> None:
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((96, 96, 3))
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu6")(inp)
    for filters, stride in ((32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (256, 2)):
        x = keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu6")(x)
        x = keras.layers.Conv2D(filters, 1, activation="relu6")(keras.layers.BatchNormalization()(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inp, keras.layers.Dense(10, activation="softmax")(x)).save(path)


def main() -> None:
    exe = shutil.which("edgeq", path=str(Path(sys.executable).parent)) or "edgeq"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_model(tmp / "m.keras")
        write_photos(tmp / "calib", 100)
        (tmp / "conv.py").write_text(SCRIPT)
        modes = ["float32", "float16", "dynamic", "int8"]
        t0 = time.perf_counter()
        for m in modes:
            run([sys.executable, str(tmp / "conv.py"), m, str(tmp / "m.keras"), str(tmp / "calib"), str(tmp / f"s.{m}.tflite")])
        t_scripts = time.perf_counter() - t0
        t0 = time.perf_counter()
        run([exe, "convert", str(tmp / "m.keras"), "--calib", str(tmp / "calib"), "--num-calib", "100",
             "--num-check", "20", *sum((["--mode", m] for m in modes), []), "--out", str(tmp / "out")])
        t_edgeq = time.perf_counter() - t0
    report("convert 4 modes", t_edgeq / t_scripts, "≤ 0.75",
           f"edgeq {t_edgeq:.1f} s (incl. convert-time checks) vs 4 scripts {t_scripts:.1f} s")


if __name__ == "__main__":
    main()
