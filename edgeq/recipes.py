"""Recipes: a versioned TOML document that records a whole run so ``edgeq run`` can replay it.

The GUI saves one when the user finishes the wizard; ``edgeq run recipe.toml`` replays it
headless through :mod:`edgeq.api` (convert → evaluate → profile → report). Relative paths in a
recipe are relative to the recipe file, so a recipe can travel with its data. A recipe names
the bundled example with ``model.example = true`` instead of a path into site-packages.

Layout (every table but ``[recipe]`` and ``[model]`` is optional)::

    [recipe]        schema_version, edgeq_version, created, name
    [model]         path | example, trust
    [preprocess]    preset, color, resize, mean, std
    [calibration]   folder, num_images, seed, allow_fewer
    [convert]       modes, io, per_tensor, strict_int, target, num_check
    [evaluate]      data, max_drop_pp, limit
    [profile]       devices, threads, runs, warmup, min_secs
    [report]        formats, title
    [output]        folder
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import importlib.util
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator

from edgeq import __version__
from edgeq.errors import Cancelled, EdgeqError, RecipeInvalid
from edgeq.events import CancelToken, Done, Event, Log, LogLevel, Stage
from edgeq.fsio import write_text_atomic

RECIPE_SCHEMA = 1
MODES = ("float32", "float16", "dynamic", "int8", "int16x8")
REPORT_FORMATS = ("html", "md", "csv", "json")

# table -> key -> accepted Python types (checked on load; unknown keys are rejected).
_SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "recipe": {"schema_version": (int,), "edgeq_version": (str,), "created": (str,), "name": (str,)},
    "model": {"path": (str,), "example": (bool,), "trust": (bool,)},
    "preprocess": {"preset": (str,), "color": (str,), "resize": (str,), "mean": (list,), "std": (list,)},
    "calibration": {"folder": (str,), "num_images": (int,), "seed": (int,), "allow_fewer": (bool,)},
    "convert": {"modes": (list,), "io": (str,), "per_tensor": (bool,), "strict_int": (bool,), "target": (str,),
                "engine": (str,), "calibration": (str,),
                "num_check": (int,)},
    "evaluate": {"data": (str,), "max_drop_pp": (float, int), "limit": (int,)},
    "profile": {"devices": (list,), "threads": (int,), "runs": (int,), "warmup": (int,), "min_secs": (float, int)},
    "report": {"formats": (list,), "title": (str,)},
    "output": {"folder": (str,)},
}
_PATH_KEYS = {("model", "path"), ("calibration", "folder"), ("evaluate", "data"), ("output", "folder")}


@dataclass
class Recipe:
    """A loaded, validated recipe. Paths are absolute (resolved against the recipe's folder)."""

    model: str | None = None
    example: bool = False
    trust_model: bool = False
    preprocess: dict[str, Any] = field(default_factory=dict)
    calib: str | None = None
    num_calib: int = 200
    seed: int = 0
    allow_fewer: bool = False
    modes: list[str] = field(default_factory=list)
    io: str = "float32"
    per_tensor: bool = False
    strict_int: bool = False
    target: str | None = None
    engine: str | None = None  # int8 engine: tflite-converter (default) or litert-quantizer
    calibration: str | None = None  # min-max, moving-average or auto
    num_check: int = 100
    eval_data: str | None = None
    max_drop_pp: float = 1.0
    eval_limit: int = 0
    devices: list[str] = field(default_factory=list)
    threads: int = 1
    runs: int = 50
    warmup: int = 1
    min_secs: float = 1.0
    report_formats: list[str] = field(default_factory=list)
    title: str = ""
    out: str | None = None
    name: str = ""
    source: str = "<memory>"

    def __post_init__(self) -> None:
        if not self.example and not self.model:
            raise RecipeInvalid(f"{self.source}: [model] needs 'path' or 'example = true'",
                                hint="name the .keras/.h5/SavedModel file in [model] path")
        bad = [m for m in self.modes if m not in MODES]
        if bad:
            raise RecipeInvalid(f"{self.source}: key 'convert.modes': unknown mode {bad[0]!r}",
                                hint=f"use {', '.join(MODES)}")
        bad = [f for f in self.report_formats if f not in REPORT_FORMATS]
        if bad:
            raise RecipeInvalid(f"{self.source}: key 'report.formats': unknown format {bad[0]!r}",
                                hint=f"use {', '.join(REPORT_FORMATS)}")
        if self.threads < 1 or self.runs < 1 or self.num_calib < 1:
            raise RecipeInvalid(f"{self.source}: threads, runs and num_images must be >= 1",
                                hint="fix the [profile]/[calibration] numbers")

    def resolved(self) -> "Recipe":
        """A copy with the bundled example's model, folders and preprocessing filled in."""
        if not self.example:
            return self
        from dataclasses import replace

        from edgeq.example import bundled_example

        ex = bundled_example()
        return replace(self, model=str(ex.model), calib=self.calib or str(ex.calib),
                       eval_data=self.eval_data or str(ex.val), preprocess=self.preprocess or dict(ex.preprocess))

    def to_toml_dict(self, base: Path | None = None) -> dict[str, Any]:
        """The TOML document (tables in canonical order; empty values left out)."""

        def p(value: str | None) -> str | None:
            if not value or base is None:
                return value
            try:
                return Path(value).resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                return str(Path(value).resolve())

        doc: dict[str, Any] = {
            "recipe": {"schema_version": RECIPE_SCHEMA, "edgeq_version": __version__,
                       "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
                       "name": self.name},
            "model": {"example": True} if self.example else {"path": p(self.model)},
            "preprocess": {k: v for k, v in self.preprocess.items() if k in _SCHEMA["preprocess"] and v not in (None, [], ())},
            "calibration": {"folder": p(self.calib), "num_images": self.num_calib, "seed": self.seed,
                            "allow_fewer": self.allow_fewer},
            "convert": {"modes": list(self.modes), "io": self.io, "per_tensor": self.per_tensor,
                        "strict_int": self.strict_int, "target": self.target, "num_check": self.num_check,
                        "engine": self.engine, "calibration": self.calibration},
            "evaluate": {"data": p(self.eval_data), "max_drop_pp": float(self.max_drop_pp), "limit": self.eval_limit},
            "profile": {"devices": list(self.devices), "threads": self.threads, "runs": self.runs, "warmup": self.warmup,
                        "min_secs": float(self.min_secs)},
            "report": {"formats": list(self.report_formats), "title": self.title},
            "output": {"folder": p(self.out)},
        }
        if self.trust_model:
            doc["model"]["trust"] = True
        if self.example:  # the example's own folders are found again at replay time
            if self.calib is None:
                doc["calibration"].pop("folder")
        for table in doc.values():
            for k in [k for k, v in table.items() if v is None or v == ""]:
                table.pop(k)
        return {k: v for k, v in doc.items() if v}


def loads(text: str, *, source: str = "<string>", base: Path | None = None) -> Recipe:
    """Parses and validates recipe TOML text.

    Raises:
        RecipeInvalid: bad TOML, an unknown table or key, a wrong type, or a newer schema.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeInvalid(f"{source}: not valid TOML: {exc}", hint="fix the syntax, or save the recipe again from the GUI") from None
    head = doc.get("recipe")
    if not isinstance(head, dict) or "schema_version" not in head:
        raise RecipeInvalid(f"{source}: no [recipe] schema_version: this is not an edgeq recipe",
                            hint="save a recipe from the GUI's Report page, or see docs/recipes.md")
    version = head["schema_version"]
    if not isinstance(version, int) or version < 1:
        raise RecipeInvalid(f"{source}: key 'recipe.schema_version': {version!r} is not a schema version",
                            hint="schema_version is a positive integer")
    if version > RECIPE_SCHEMA:
        raise RecipeInvalid(
            f"{source}: recipe schema version {version} was written by edgeq {head.get('edgeq_version', '?')}; "
            f"this edgeq ({__version__}) reads up to version {RECIPE_SCHEMA}",
            hint="upgrade edgeq (pip install -U edgeq) to replay this recipe",
        )
    for table, body in doc.items():
        if table not in _SCHEMA:
            raise RecipeInvalid(f"{source}: unknown table [{table}]", hint=f"known tables: {', '.join(_SCHEMA)}")
        if not isinstance(body, dict):
            raise RecipeInvalid(f"{source}: key '{table}' must be a table", hint=f"write it as [{table}]")
        for key, value in body.items():
            types = _SCHEMA[table].get(key)
            if types is None:
                raise RecipeInvalid(f"{source}: unknown key '{table}.{key}'",
                                    hint=f"keys of [{table}]: {', '.join(_SCHEMA[table])}")
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                want = " or ".join(t.__name__ for t in types)
                raise RecipeInvalid(f"{source}: key '{table}.{key}' must be {want}, got {type(value).__name__}",
                                    hint=f"fix '{key}' in [{table}]")
    base = base or Path(".")

    def get(table: str, key: str, default: Any = None) -> Any:
        value = doc.get(table, {}).get(key, default)
        if (table, key) in _PATH_KEYS and isinstance(value, str) and value:
            value = str((base / Path(value).expanduser()).resolve())
        return value

    return Recipe(
        model=get("model", "path"), example=get("model", "example", False), trust_model=get("model", "trust", False),
        preprocess=dict(doc.get("preprocess", {})),
        calib=get("calibration", "folder"), num_calib=get("calibration", "num_images", 200),
        seed=get("calibration", "seed", 0), allow_fewer=get("calibration", "allow_fewer", False),
        modes=[str(m) for m in get("convert", "modes", [])], io=get("convert", "io", "float32"),
        per_tensor=get("convert", "per_tensor", False), strict_int=get("convert", "strict_int", False),
        target=get("convert", "target"), num_check=get("convert", "num_check", 100),
        engine=get("convert", "engine"), calibration=get("convert", "calibration"),
        eval_data=get("evaluate", "data"), max_drop_pp=float(get("evaluate", "max_drop_pp", 1.0)),
        eval_limit=get("evaluate", "limit", 0),
        devices=[str(d) for d in get("profile", "devices", [])], threads=get("profile", "threads", 1),
        runs=get("profile", "runs", 50), warmup=get("profile", "warmup", 1),
        min_secs=float(get("profile", "min_secs", 1.0)),
        report_formats=[str(f) for f in get("report", "formats", [])], title=get("report", "title", ""),
        out=get("output", "folder"), name=head.get("name", ""), source=source,
    )


def load(path: str | Path) -> Recipe:
    """Reads and validates a recipe file (see :func:`loads`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeInvalid(f"recipe {path} does not exist", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeInvalid(f"cannot read recipe {path}: {exc}", hint="pass a TOML file saved by edgeq") from None
    return loads(text, source=str(path), base=path.resolve().parent)


def dumps(recipe: Recipe, *, base: Path | None = None) -> str:
    """The recipe as TOML text; paths relative to ``base`` when they are inside it."""
    return "# edgeq recipe: replay with `edgeq run THIS_FILE` (see docs/recipes.md)\n" + toml_dumps(recipe.to_toml_dict(base))


def save(recipe: Recipe, path: str | Path, *, overwrite: bool = False) -> Path:
    """Writes ``recipe`` atomically to ``path``.

    Raises:
        OutputExists: the file exists and ``overwrite`` is false.
    """
    from edgeq.errors import OutputExists

    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExists(f"{path} already exists", hint="choose another name, or confirm overwriting it")
    write_text_atomic(path, dumps(recipe, base=path.resolve().parent))
    return path


def build_request(cls: type, **candidates: Any) -> Any:
    """Instantiates an API request dataclass with the candidate fields it declares.

    The eval/profile/report requests grow fields over time; passing only what a class
    declares keeps replay working across versions.
    """
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in candidates.items() if k in names and v is not None})


def available(module: str) -> bool:
    """True when an engine module of the API can be imported (it may not be installed yet)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def run_recipe(path: str | Path, *, cancel: CancelToken, **overrides: Any) -> Iterator[Event]:
    """Replays a recipe: convert → evaluate → profile → report (see :func:`edgeq.api.run_recipe`).

    Args:
        path: the recipe file.
        cancel: stops the current step; results written so far are kept.
        **overrides: ``out`` (results folder), ``overwrite`` (bool), ``command`` (recorded).

    Yields:
        Every event of every step (their own ``Done`` events are swallowed), then
        ``Done(RecipeResult)``.
    """
    recipe = path if isinstance(path, Recipe) else load(path)
    yield from _replay(recipe, cancel=cancel, **overrides)


@dataclass
class RecipeResult:
    """What a replay produced: the results folder and each step's document (or why it was skipped)."""

    out: Path
    manifest: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    report_files: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.manifest) and self.manifest.get("status") == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "ok": self.ok, "manifest": self.manifest, "evaluation": self.evaluation,
                "profile": self.profile, "report_files": self.report_files, "skipped": self.skipped,
                "errors": self.errors}


def _forward(events: Iterator[Event], cancel: CancelToken) -> Iterator[Event]:
    """Re-yields a step's events; returns its ``Done.result`` (inner Done events are not forwarded)."""
    result = None
    try:
        for ev in events:
            if isinstance(ev, Done):
                result = ev.result
            else:
                yield ev
            if cancel.cancelled:
                break
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    cancel.raise_if_cancelled()
    return result


def _replay(recipe: Recipe, *, cancel: CancelToken, out: str | None = None, overwrite: bool = False,
            command: str = "", **_ignored: Any) -> Iterator[Event]:
    from edgeq import api

    r = recipe.resolved()
    target = Path(out or r.out or Path("edgeq-out") / (Path(r.model or "model").stem))
    command = command or f"edgeq run {recipe.source}"
    res = RecipeResult(out=target)
    yield Stage("recipe", f"replaying {Path(recipe.source).name} into {target}")
    labels = None
    if recipe.example:
        from edgeq.example import bundled_example

        labels = bundled_example().labels
    pp = r.preprocess
    conv = build_request(
        api.ConvertRequest, model=r.model, out=str(target), calib=r.calib, modes=list(r.modes),
        preset=pp.get("preset"), color=pp.get("color"), resize=pp.get("resize", "stretch"),
        mean=tuple(pp.get("mean", ()) if pp.get("preset") == "custom" else ()),
        std=tuple(pp.get("std", ()) if pp.get("preset") == "custom" else ()),
        num_calib=r.num_calib, num_check=r.num_check, seed=r.seed, allow_fewer=r.allow_fewer, io=r.io,
        per_tensor=r.per_tensor, strict_int=r.strict_int, trust_model=r.trust_model, overwrite=overwrite,
        target=r.target or None, labels=labels, command=command, engine=r.engine or None,
        calibration_method=r.calibration or None)
    converted = yield from _forward(api.convert(conv, cancel=cancel), cancel)
    res.manifest = converted.to_dict() if converted is not None else None

    steps = (("evaluate", "edgeq.evaluation.job", bool(r.eval_data), _evaluate),
             ("profile", "edgeq.profiling", bool(r.devices), _profile),
             ("report", "edgeq.reports.build", bool(r.report_formats), _report))
    for name, module, wanted, step in steps:
        if not wanted:
            continue
        if not available(module):
            res.skipped[name] = f"{module} is not part of this edgeq installation"
            yield Log(f"recipe step '{name}' skipped: {res.skipped[name]}", LogLevel.WARNING, code="step-unavailable")
            continue
        try:
            yield from step(r, res, cancel, overwrite=overwrite, command=command)
        except Cancelled:
            raise
        except EdgeqError as exc:
            res.errors[name] = {"message": exc.message, "hint": exc.hint}
            yield Log(f"recipe step '{name}' failed: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""),
                      LogLevel.WARNING, code="step-failed")
    yield Done(res)


def _evaluate(r: Recipe, res: RecipeResult, cancel: CancelToken, **kw: Any) -> Iterator[Event]:
    from edgeq import api

    req = build_request(api.EvalRequest, targets=[str(res.out)], data=r.eval_data, max_drop=r.max_drop_pp,
                        limit=r.eval_limit, command=kw["command"])
    done = yield from _forward(api.evaluate(req, cancel=cancel), cancel)
    res.evaluation = done.to_dict() if done is not None else None


def _profile(r: Recipe, res: RecipeResult, cancel: CancelToken, **kw: Any) -> Iterator[Event]:
    from edgeq import api

    models = [str(res.out / v["file"]) for v in (res.manifest or {}).get("variants", [])
              if v.get("status") == "ok" and v.get("file")]
    if not models:
        raise EdgeqError("no converted variant to profile", hint="fix the conversion errors first")
    req = build_request(api.ProfileRequest, models=models, devices=list(r.devices), threads=r.threads, runs=r.runs,
                        warmup=r.warmup, min_secs=r.min_secs, command=kw["command"])
    done = yield from _forward(api.profile(req, cancel=cancel), cancel)
    res.profile = done.to_dict() if done is not None else None


def render_report(doc: dict[str, Any], fmt: str) -> str | None:
    """The report document rendered as ``fmt``; None when this installation cannot render it."""
    try:
        from edgeq.reports import render
    except ImportError:
        render = None  # type: ignore[assignment]
    if render is not None:
        return render(doc, fmt)
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"
    return None


def write_reports(folder: Path, formats: list[str], *, title: str = "", max_drop_pp: float = 1.0,
                  overwrite: bool = False, command: str = "", dest: Path | None = None) -> tuple[list[str], list[str]]:
    """Builds the report of a results folder and writes it as ``report.<ext>`` files.

    Returns:
        (files written, formats this installation cannot render)

    Raises:
        OutputExists: a report file exists and ``overwrite`` is false.
    """
    from edgeq import api
    from edgeq.errors import OutputExists

    req = build_request(api.ReportRequest, folders=[str(folder)], title=title or None, max_drop_pp=float(max_drop_pp),
                        command=command)
    doc = api.report(req)
    dest = Path(dest or folder)
    written, missing = [], []
    for fmt in formats:
        target = dest / f"report.{fmt}"
        if target.exists() and not overwrite:
            raise OutputExists(f"{target} already exists", hint="pass --overwrite to replace it")
        text = render_report(doc, fmt)
        if text is None:
            missing.append(fmt)
            continue
        write_text_atomic(target, text)
        written.append(str(target))
    return written, missing


def _report(r: Recipe, res: RecipeResult, cancel: CancelToken, **kw: Any) -> Iterator[Event]:
    yield Stage("report", f"writing the report ({', '.join(r.report_formats)})")
    cancel.raise_if_cancelled()
    written, missing = write_reports(res.out, r.report_formats, title=r.title, max_drop_pp=r.max_drop_pp,
                                     overwrite=kw["overwrite"], command=kw["command"])
    res.report_files = written
    for fmt in missing:
        yield Log(f"report format '{fmt}' skipped: no renderer in this installation", LogLevel.WARNING,
                  code="step-unavailable")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        return repr(v) if abs(v) != float("inf") else ("inf" if v > 0 else "-inf")
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def toml_dumps(doc: dict[str, dict[str, Any]]) -> str:
    """A minimal TOML writer for one level of tables of scalars and flat arrays (all a recipe holds)."""
    lines: list[str] = []
    for table, body in doc.items():
        lines.append(f"\n[{table}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in body.items())
    return "\n".join(lines).lstrip("\n") + "\n"
