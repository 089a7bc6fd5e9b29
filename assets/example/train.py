"""Regenerates the bundled example: a small Fashion-MNIST CNN with its calibration and validation images.

Run from the repository root::

    python assets/example/train.py

It reads Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` (installed with
``apt-get install dataset-fashion-mnist``; the IDX files land in ``/usr/share/datasets/fashion-mnist/``,
or pass ``--data DIR``). Nothing is downloaded. Everything is seeded (Python, NumPy, TensorFlow,
deterministic ops), so a re-run on the same TensorFlow/Keras versions gives the same weights, images
and numbers (the .keras archive itself differs only in its save date and object ids). Written next to this file:

* ``fashion_cnn.keras``   trained Keras 3 functional CNN, input (28, 28, 1) float32 in 0..1, 10-class softmax;
                          the /255 scaling is done outside the model (edgeq preset ``unit``)
* ``calib/``              100 calibration PNGs (8-bit gray, 28x28) from the training set, 10 per class
* ``val/<i>_<name>/``     300 labelled validation PNGs from the test set, 30 per class; the folder names
                          sort in the model's output-index order
* ``labels.txt``          one class name per line, in output-index order
* ``example.json``        what edgeq reads (paths, preprocessing, training facts and accuracies)
* ``README.md``           a short description with the numbers of this run

Fashion-MNIST is (c) 2017 Zalando SE, https://github.com/zalandoresearch/fashion-mnist, MIT license.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import time
from pathlib import Path

SEED = 20240517
EPOCHS = 4
BATCH = 128
N_CALIB_PER_CLASS = 10
N_VAL_PER_CLASS = 30
MAX_MODEL_BYTES = 2 * 1024 * 1024

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = Path("/usr/share/datasets/fashion-mnist")

LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FOLDERS = ["0_tshirt_top", "1_trouser", "2_pullover", "3_dress", "4_coat",
           "5_sandal", "6_shirt", "7_sneaker", "8_bag", "9_ankle_boot"]


def read_idx(path: Path):
    """Reads a gzipped IDX file (the MNIST format) into a uint8 NumPy array."""
    import numpy as np

    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {shape}, found {arr.size} values")
    return arr.reshape(shape)


def load_split(data_dir: Path, prefix: str):
    images = read_idx(data_dir / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(data_dir / f"{prefix}-labels-idx1-ubyte.gz")
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise ValueError(f"{data_dir}: unexpected {prefix} shapes {images.shape} / {labels.shape}")
    return images, labels.astype("int64")


def balanced_pick(labels, per_class: int, rng):
    """``per_class`` indices of each class (drawn with ``rng``), in class order then index order."""
    import numpy as np

    picked = []
    for c in range(len(LABELS)):
        idx = np.flatnonzero(labels == c)
        picked.append(np.sort(rng.choice(idx, size=per_class, replace=False)))
    return picked


def build_model():
    """A small all-builtin CNN (BatchNorm folds into the convolutions when converting to TFLite)."""
    import keras
    from keras import layers

    def block(x, filters: int, name: str):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    inputs = keras.Input(shape=(28, 28, 1), dtype="float32", name="image")
    x = block(inputs, 32, "block1")
    x = layers.MaxPooling2D(2, name="pool1")(x)  # 14x14
    x = block(x, 64, "block2")
    x = layers.MaxPooling2D(2, name="pool2")(x)  # 7x7
    x = block(x, 128, "block3")
    x = layers.MaxPooling2D(2, name="pool3")(x)  # 3x3
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="dropout1")(x)
    x = layers.Dense(128, name="fc")(x)
    x = layers.ReLU(name="fc_relu")(x)
    x = layers.Dropout(0.3, name="dropout2")(x)
    outputs = layers.Dense(len(LABELS), activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="fashion_cnn")


def write_png(path: Path, image) -> None:
    import cv2

    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")


def read_folder_png(paths):
    import cv2
    import numpy as np

    out = np.empty((len(paths), 28, 28, 1), dtype=np.float32)
    for i, p in enumerate(paths):
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if img is None or img.shape != (28, 28):
            raise ValueError(f"{p}: not a 28x28 grayscale image")
        out[i, :, :, 0] = img.astype(np.float32) / 255.0
    return out


README = """# The bundled example

A small convolutional classifier for [Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist)
(28x28 grayscale pictures of clothing, 10 classes), with the images edgeq needs to convert and evaluate it.
`edgeq convert --example` and recipes with `model.example = true` use it.

| file | what |
|---|---|
| `fashion_cnn.keras` | Keras 3 functional model `fashion_cnn`, {params:,} parameters, {size_kb:.0f} KB; input `(28, 28, 1)` float32 in 0..1, output 10-class softmax |
| `calib/` | {n_calib} calibration PNGs (8-bit gray, 28x28) from the training set, {calib_per_class} per class |
| `val/<i>_<name>/` | {n_val} labelled validation PNGs from the test set, {val_per_class} per class; folder names sort in output-index order |
| `labels.txt` | class names in output-index order |
| `example.json` | paths, preprocessing and training facts read by edgeq |
| `train.py` | the script that made all of the above |

**Preprocessing** is done outside the model (no Rescaling layer): decode as grayscale, stretch to 28x28,
divide by 255 (edgeq `--preprocess unit --color gray --resize stretch`).

**How it was made.** `python assets/example/train.py` reads Fashion-MNIST from the Debian package
`dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`), trains a small CNN
(three Conv-BatchNorm-ReLU blocks of 32/64/128 filters, each followed by 2x2 max-pooling, then a 128-unit dense
layer with dropout and a 10-way softmax) for {epochs} epochs on the 60,000 training images (Adam, batch {batch},
seed {seed}) with TensorFlow {tf_version} / Keras {keras_version}, and writes every file here. Training takes
one to two minutes on two CPU cores.

**Accuracy** (float model): {test_acc:.2%} on the full 10,000-image test set; {val_acc:.2%} on the {n_val}
bundled validation PNGs (decoded with OpenCV and divided by 255).

**License.** Fashion-MNIST is (c) 2017 Zalando SE (Zalando Research) and distributed under the MIT license;
the images in `calib/` and `val/` are taken unchanged from it.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with the Fashion-MNIST IDX .gz files")
    parser.add_argument("--out", type=Path, default=HERE,
                        help="where to write the example (default: next to this script)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["PYTHONHASHSEED"] = str(SEED)
    import numpy as np
    import keras
    import tensorflow as tf

    random.seed(SEED)
    np.random.seed(SEED)
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    if not (args.data / "train-images-idx3-ubyte.gz").exists():
        parser.error(f"{args.data} has no Fashion-MNIST files; install them with "
                     "`apt-get install dataset-fashion-mnist` or pass --data")
    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    # --- images: calibration from train, validation from test (own RNG so they do not depend on training)
    rng = np.random.default_rng(SEED)
    calib_dir, val_dir = out / "calib", out / "val"
    for d in (calib_dir, val_dir):
        if d.exists():
            shutil.rmtree(d)
    calib_dir.mkdir()
    calib_idx = np.concatenate(balanced_pick(y_train, N_CALIB_PER_CLASS, rng))
    calib_idx = calib_idx[rng.permutation(len(calib_idx))]  # interleave classes
    for n, i in enumerate(calib_idx):
        write_png(calib_dir / f"calib_{n:03d}.png", x_train[i])
    val_paths, val_labels, n = [], [], 0
    for c, idx in enumerate(balanced_pick(y_test, N_VAL_PER_CLASS, rng)):
        folder = val_dir / FOLDERS[c]
        folder.mkdir(parents=True)
        for i in idx:
            n += 1
            p = folder / f"val_{n:04d}.png"
            write_png(p, x_test[i])
            val_paths.append(p)
            val_labels.append(c)
    (out / "labels.txt").write_text("\n".join(LABELS) + "\n")

    # --- training
    xs_train = (x_train.astype(np.float32) / 255.0)[..., None]
    xs_test = (x_test.astype(np.float32) / 255.0)[..., None]
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(xs_train, y_train, batch_size=BATCH, epochs=args.epochs, shuffle=True, verbose=2)
    train_seconds = time.perf_counter() - start
    test_acc = float(np.mean(np.argmax(model.predict(xs_test, batch_size=512, verbose=0), axis=1) == y_test))

    # --- save without optimizer state (smaller; edgeq loads with compile=False), then check the saved file
    bare = build_model()
    bare.set_weights(model.get_weights())
    model_path = out / "fashion_cnn.keras"
    bare.save(model_path)
    size = model_path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise SystemExit(f"{model_path} is {size} bytes, over the {MAX_MODEL_BYTES} limit")
    reloaded = keras.models.load_model(model_path, safe_mode=True, compile=False)
    x_val = read_folder_png(val_paths)
    val_pred = np.argmax(reloaded.predict(x_val, batch_size=512, verbose=0), axis=1)
    val_acc = float(np.mean(val_pred == np.asarray(val_labels)))

    meta = {
        "model": model_path.name,
        "calib": "calib",
        "val": "val",
        "labels": "labels.txt",
        "preprocess": {"preset": "unit", "color": "gray", "resize": "stretch"},
        "trained": {
            "epochs": args.epochs,
            "test_accuracy": round(test_acc, 4),
            "val_accuracy": round(val_acc, 4),
            "script": "assets/example/train.py",
            "dataset": "Debian dataset-fashion-mnist",
        },
    }
    (out / "example.json").write_text(json.dumps(meta, indent=2) + "\n")
    (out / "README.md").write_text(README.format(
        params=bare.count_params(), size_kb=size / 1024, n_calib=len(calib_idx), calib_per_class=N_CALIB_PER_CLASS,
        n_val=len(val_paths), val_per_class=N_VAL_PER_CLASS, epochs=args.epochs, batch=BATCH, seed=SEED,
        tf_version=tf.__version__, keras_version=keras.__version__,
        test_acc=test_acc, val_acc=val_acc))
    print(f"trained {args.epochs} epochs in {train_seconds:.0f} s; test accuracy {test_acc:.4f}, "
          f"val accuracy {val_acc:.4f} ({len(val_paths)} PNGs); {model_path.name} {size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
