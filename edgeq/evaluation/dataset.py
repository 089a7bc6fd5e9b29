"""Labelled evaluation data: ImageNet-style class folders, a folder plus a ``file,label`` CSV, or
an unlabelled folder (which still gives agreement with the float reference).

Class order comes from a labels file (one name per line) when given, else from the folder names
sorted naturally (``2_x`` before ``10_x``), so a model trained with Keras'
``image_dataset_from_directory`` (alphabetical) and one trained with numeric prefixes both line up.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from edgeq.calibration import IMAGE_EXTENSIONS, list_images
from edgeq.errors import DatasetError


@dataclass
class LabelledData:
    """The files of an evaluation set and their class indices.

    Attributes:
        folder: the folder given by the user.
        kind: ``folders`` | ``csv`` | ``unlabelled``.
        classes: class names in model-output order (None when unlabelled).
        files: image paths, in evaluation order.
        labels: class index per file (None when unlabelled).
        skipped: files that were not used, with the reason.
    """

    folder: Path
    kind: str
    classes: list[str] | None
    files: list[Path]
    labels: list[int] | None
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        return self.labels is not None

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.folder))
        except ValueError:
            return str(path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "kind": self.kind,
            "classes": self.classes,
            "images": len(self.files),
            "skipped": self.skipped,
        }


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def read_labels_file(path: str | Path) -> list[str]:
    """Class names, one per line (blank lines ignored).

    Raises:
        DatasetError: the file is missing or empty.
    """
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"labels file {p} does not exist", hint="pass --labels FILE with one class name per line")
    names = [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise DatasetError(f"labels file {p} is empty", hint="write one class name per line, in model-output order")
    return names


def find_dataset(folder: str | Path, *, csv_path: str | Path | None = None,
                 classes: Sequence[str] | None = None) -> LabelledData:
    """Finds the evaluation images and their labels.

    Args:
        folder: image folder (class subfolders, or flat with ``csv_path``, or flat unlabelled).
        csv_path: a ``file,label`` CSV; ``file`` relative to ``folder``; ``label`` a class name
            or a class index.
        classes: class names in model-output order (from ``--labels``); default: sorted folder
            names, or the sorted label names of the CSV.

    Raises:
        DatasetError: missing folder, empty class folder, CSV naming missing files, no images.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(
            f"evaluation folder {root} does not exist" if not root.exists() else f"{root} is not a folder",
            hint="pass --data FOLDER: one subfolder of images per class, or a folder plus --csv",
        )
    if csv_path is not None:
        return _from_csv(root, Path(csv_path), classes)
    subdirs = sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")),
                     key=lambda d: _natural_key(d.name))
    top_images = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if not subdirs:
        images, others = list_images(root)
        if not images:
            raise DatasetError(f"evaluation folder {root} has no images", hint=f"put {', '.join(IMAGE_EXTENSIONS)} files in it")
        return LabelledData(root, "unlabelled", None, images, None,
                            [{"file": str(p.relative_to(root)), "reason": "not an image file"} for p in others])
    return _from_folders(root, subdirs, top_images, classes)


def _from_folders(root: Path, subdirs: list[Path], top_images: list[Path], classes: Sequence[str] | None) -> LabelledData:
    names = [d.name for d in subdirs]
    order = list(classes) if classes else names
    if classes:
        unknown = [n for n in names if n not in order]
        if unknown:
            raise DatasetError(
                f"class folder(s) {', '.join(unknown[:5])} of {root} are not in the labels file",
                hint="name each class folder exactly as its line in --labels, or drop --labels to use sorted folder names",
            )
    files: list[Path] = []
    labels: list[int] = []
    skipped = [{"file": p.name, "reason": "image outside the class folders"} for p in top_images]
    for d in subdirs:
        images, others = list_images(d)
        skipped += [{"file": str(p.relative_to(root)), "reason": "not an image file"} for p in others]
        if not images:
            raise DatasetError(
                f"class folder {d} has no images",
                hint="add images of that class, or remove the empty folder (it would shift every class index after it)",
            )
        files += images
        labels += [order.index(d.name)] * len(images)
    return LabelledData(root, "folders", order, files, labels, skipped)


def _from_csv(root: Path, csv_path: Path, classes: Sequence[str] | None) -> LabelledData:
    if not csv_path.is_file():
        raise DatasetError(f"labels CSV {csv_path} does not exist", hint="pass --csv FILE with rows 'file,label'")
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["file", "label"]:
        rows = rows[1:]
    if not rows:
        raise DatasetError(f"labels CSV {csv_path} has no rows", hint="write one 'file,label' row per image")
    bad = [i + 1 for i, r in enumerate(rows) if len(r) < 2]
    if bad:
        raise DatasetError(f"labels CSV {csv_path} row {bad[0]} has no label column", hint="every row must be 'file,label'")
    pairs = [(r[0].strip(), r[1].strip()) for r in rows]
    missing = [f for f, _ in pairs if not (root / f).is_file()]
    if missing:
        raise DatasetError(
            f"labels CSV {csv_path.name} names {len(missing)} file(s) missing from {root}, e.g. {', '.join(missing[:3])}",
            hint="fix the paths (relative to --data) or remove those rows",
        )
    raw = [lab for _, lab in pairs]
    if classes:
        order = list(classes)
    elif all(lab.isdigit() for lab in raw):
        order = [str(i) for i in range(max(int(lab) for lab in raw) + 1)]
    else:
        order = sorted(set(raw), key=_natural_key)
    labels = []
    for f, lab in pairs:
        if lab in order:
            labels.append(order.index(lab))
        elif lab.isdigit() and int(lab) < len(order):
            labels.append(int(lab))
        else:
            raise DatasetError(f"labels CSV row '{f},{lab}': unknown class '{lab}'",
                               hint="use a class name from --labels or a class index")
    return LabelledData(root, "csv", order, [root / f for f, _ in pairs], labels, [])


def class_key(name: str) -> str:
    """A class name compared loosely: case, punctuation and a numeric prefix (``0_``) ignored.

    ``0_tshirt_top``, ``T-shirt/top`` and ``tshirt top`` all give ``tshirttop``.
    """
    return re.sub(r"[^0-9a-z]+", "", re.sub(r"^\d+[\s_.\-]+", "", name.strip()).lower())


def align_to_labels(data: LabelledData, labels: Sequence[str]) -> tuple[LabelledData, list[str]]:
    """Matches class folders to the model's labels (the manifest's) by name.

    When every folder names a distinct label (see :func:`class_key`), class indices follow the
    labels' order, so folders sorted differently from the model's outputs still score right.
    Otherwise the folder order stays the class index and the mismatch is returned as warnings.

    Returns:
        (the data, possibly re-indexed; warnings for the user).
    """
    if data.kind != "folders" or not data.labelled or not labels:
        return data, []
    folders = list(data.classes or [])
    keys = {class_key(lab): i for i, lab in enumerate(labels)}
    hits = [keys.get(class_key(f)) for f in folders]
    where = data.folder
    if len(keys) == len(labels) and None not in hits and len(set(hits)) == len(hits):
        order = list(labels)
        for f, i in zip(folders, hits):
            order[i] = f
        remapped = [hits[lab] for lab in data.labels or []]
        out = LabelledData(data.folder, data.kind, order, data.files, remapped, data.skipped)
        warnings = []
        if len(folders) < len(labels):
            missing = [lab for i, lab in enumerate(labels) if i not in hits]
            warnings.append(f"{where} has {len(folders)} class folder(s) for the model's {len(labels)} classes; "
                            f"no images of {_names(missing)} (folders matched to the labels by name)")
        return out, warnings
    unknown = [f for f, i in zip(folders, hits) if i is None]
    warnings = [f"class folder(s) {_names(unknown or folders)} of {where} do not match the model's labels "
                f"({_names(labels)}): accuracy uses the folder order as the class index; name the folders after "
                f"the labels (e.g. 0_{re.sub(r'[^0-9a-z]+', '_', labels[0].lower()).strip('_') or 'name'}) or pass --labels FILE"]
    return data, warnings


def _names(names: Sequence[str], most: int = 5) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
