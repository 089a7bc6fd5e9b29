"""Reading what TFLite's ``benchmark_model`` prints on Android, and device facts from ``getprop``.

The output comes in several dialects: plain, with ``INFO: `` prefixes (newer builds), or through
logcat (``07-14 13:23:15.443 25289 25289 I tflite  : …`` or ``I/tflite  ( 6794): …``). Averages
switch to scientific notation above a million microseconds (``avg=1.04176e+06``). Memory is
"Memory footprint delta from the start of the tool (MB): init=… overall=…" in most builds and
"Peak memory footprint (MB): init=… overall=…" in others, plus an optional "Overall peak memory
footprint (MB) via periodic monitoring: …". Percentiles (p5/median/p95) appear only in newer builds.
"""

from __future__ import annotations

import re
from typing import Any

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"

# Prefixes stripped before parsing: logcat threadtime, logcat brief, and TFLite's own log levels.
_PREFIXES = (
    re.compile(r"^\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+[VDIWEF]\s+[^:]*?\s*:\s?"),
    re.compile(r"^[VDIWEF]/[^(:]+\(\s*\d+\):\s?"),
    re.compile(r"^[VDIWEF]\s+tflite\s*:\s?"),
    re.compile(r"^(?:INFO|WARNING|ERROR|VERBOSE|DEBUG):\s?"),
)
_STATS = re.compile(r"^count=(\d+)(.*)$")
_KV = re.compile(r"(\w+)=(" + _NUM + r")")
_TIMINGS = re.compile(
    r"Inference timings in us: Init: (" + _NUM + r"), First inference: (" + _NUM + r"), "
    r"Warmup \(avg\): (" + _NUM + r"), Inference \(avg\): (" + _NUM + r")"
)
_MEMORY = re.compile(r"(Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): init=(" + _NUM + r") overall=(" + _NUM + r")")
_PERIODIC = re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring: (" + _NUM + r")")
_REPLACING = re.compile(r"Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]*)\) node, yielding (\d+) partitions")
_FULLY = re.compile(r"Explicitly applied (\S+) delegate, and the model graph will be completely executed by the delegate")
_INIT_SESSION = re.compile(r"Initialized session in (" + _NUM + r")ms")
_SECTION = re.compile(r"^=+\s*(.+?)\s*=+$")


def strip_prefix(line: str) -> str:
    """One output line without logcat or log-level prefixes (and without surrounding blanks)."""
    s = line.strip()
    for rx in _PREFIXES:
        m = rx.match(s)
        if m:
            s = s[m.end():]
    return s.strip()


def _num(text: str) -> float:
    return float(text)


def _table_rows(lines: list[str], start: int) -> tuple[list[list[str]], int]:
    """Tab-separated rows under a ``[header]`` line, until a blank line or the next section."""
    rows: list[list[str]] = []
    i = start
    while i < len(lines):
        raw = lines[i]
        s = strip_prefix(raw)
        if not s or _SECTION.match(s) or s.startswith(("Number of nodes", "Timings", "Memory (bytes)")):
            break
        if not s.startswith("["):
            cells = [c.strip() for c in raw.strip("\n").split("\t") if c.strip()]
            # Lines may carry a log prefix before the first tab; the cell count tells real rows.
            if len(cells) >= 7:
                rows.append(cells[-8:] if len(cells) >= 8 else cells[-7:])
        i += 1
    return rows, i


def _per_op(cells: list[str]) -> dict[str, Any] | None:
    # [node type] [first] [avg ms] [%] [cdf%] [mem KB] [times called] [Name]
    if len(cells) < 8:
        return None
    try:
        return {
            "node_type": cells[0], "first_ms": _num(cells[1]), "avg_ms": _num(cells[2]),
            "percent": _num(cells[3].rstrip("%")), "cdf_percent": _num(cells[4].rstrip("%")),
            "mem_kb": _num(cells[5]), "times_called": int(float(cells[6])), "name": cells[7],
        }
    except ValueError:
        return None


def _per_type(cells: list[str]) -> dict[str, Any] | None:
    # [Node type] [count] [avg ms] [avg %] [cdf %] [mem KB] [times called]
    cells = cells[-7:]
    try:
        return {
            "node_type": cells[0], "count": int(float(cells[1])), "avg_ms": _num(cells[2]),
            "percent": _num(cells[3].rstrip("%")), "cdf_percent": _num(cells[4].rstrip("%")),
            "mem_kb": _num(cells[5]), "times_called": int(float(cells[6])),
        }
    except (ValueError, IndexError):
        return None


def parse_benchmark_output(text: str) -> dict[str, Any]:
    """Parses a ``benchmark_model`` log into plain data.

    Returns:
        ``{"init_ms", "init_us", "first_inference_us", "warmup_avg_us", "inference_avg_us",
        "warmup": {count, first, curr, min, max, avg, std, p5?, median?, p95?} | None,
        "regular": {...} | None, "memory": {"kind": "delta"|"peak", "init_mb", "overall_mb"} | None,
        "peak_memory_mb": float | None, "delegate": {"delegated_nodes", "total_nodes", "delegate",
        "partitions"} | None, "op_profile": {"per_op": [...], "per_op_type": [...]} | None,
        "errors": [str]}``
    """
    lines = text.splitlines()
    out: dict[str, Any] = {
        "init_ms": None, "init_us": None, "first_inference_us": None, "warmup_avg_us": None, "inference_avg_us": None,
        "warmup": None, "regular": None, "memory": None, "peak_memory_mb": None, "delegate": None,
        "op_profile": None, "errors": [],
    }
    stat_blocks: list[dict[str, Any]] = []
    per_op: list[dict[str, Any]] = []
    per_type: list[dict[str, Any]] = []
    section = ""
    in_regular_profile = False
    i = 0
    while i < len(lines):
        raw = lines[i]
        s = strip_prefix(raw)
        i += 1
        if not s:
            continue
        if raw.lstrip().startswith("ERROR") or re.match(r"^\S*\s*E\s+tflite", raw.strip()) or s.startswith("Failed to"):
            out["errors"].append(s)
        if s.startswith("Operator-wise Profiling Info for Regular Benchmark Runs"):
            in_regular_profile = True
            continue
        if s.startswith("Profiling Info for Benchmark Initialization"):
            in_regular_profile = False
            continue
        sec = _SECTION.match(s)
        if sec:
            section = sec.group(1)
            # Older builds print only the regular-run profile, with no "Operator-wise" heading.
            if in_regular_profile or not any("Profiling Info" in x for x in lines):
                if section == "Run Order":
                    rows, i = _table_rows(lines, i)
                    per_op = [r for r in (_per_op(c) for c in rows) if r]
                elif section == "Summary by node type":
                    rows, i = _table_rows(lines, i)
                    per_type = [r for r in (_per_type(c) for c in rows) if r]
            continue
        m = _STATS.match(s)
        if m and not s.startswith("count=0"):
            block = {"count": int(m.group(1))}
            block.update({k: _num(v) for k, v in _KV.findall(m.group(2))})
            stat_blocks.append(block)
            continue
        if (m := _TIMINGS.search(s)):
            out["init_us"], out["first_inference_us"], out["warmup_avg_us"], out["inference_avg_us"] = (_num(g) for g in m.groups())
        elif (m := _MEMORY.search(s)):
            kind = "delta" if m.group(1).startswith("Memory footprint delta") else "peak"
            out["memory"] = {"kind": kind, "init_mb": _num(m.group(2)), "overall_mb": _num(m.group(3))}
        elif (m := _PERIODIC.search(s)):
            out["peak_memory_mb"] = _num(m.group(1))
        elif (m := _REPLACING.search(s)):
            prev = out["delegate"] or {"delegated_nodes": 0, "total_nodes": 0, "partitions": 0}
            out["delegate"] = {
                "delegated_nodes": prev["delegated_nodes"] + int(m.group(1)), "total_nodes": int(m.group(2)),
                "delegate": m.group(3), "partitions": prev["partitions"] + int(m.group(4)),
            }
        elif (m := _INIT_SESSION.search(s)):
            out["init_ms"] = _num(m.group(1))
        elif (m := _FULLY.search(s)) and out["delegate"] is None:
            out["delegate"] = {"delegated_nodes": None, "total_nodes": None, "delegate": m.group(1), "partitions": 1, "complete": True}
    # Two "count=" lines: warmup first, then regular (the op-profiling "Timings" line is excluded above).
    if len(stat_blocks) >= 2:
        out["warmup"], out["regular"] = stat_blocks[0], stat_blocks[1]
    elif len(stat_blocks) == 1:
        out["regular"] = stat_blocks[0]
    if out["init_ms"] is None and out["init_us"] is not None:
        out["init_ms"] = out["init_us"] / 1000.0
    if per_op or per_type:
        out["op_profile"] = {"per_op": per_op, "per_op_type": per_type}
    return out


def parse_getprop(text: str) -> dict[str, str]:
    """``[key]: [value]`` lines of ``adb shell getprop`` into a dict."""
    props: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^\[([^\]]+)\]:\s*\[(.*)\]\s*$", line.strip())
        if m:
            props[m.group(1)] = m.group(2)
    return props


def facts_from_getprop(props: dict[str, str]) -> dict[str, Any]:
    """Device facts in the results document's shape, from Android system properties."""
    release = props.get("ro.build.version.release", "?")
    sdk = props.get("ro.build.version.sdk", "?")
    maker = props.get("ro.product.manufacturer", "")
    model = props.get("ro.product.model", "")
    soc = " ".join(x for x in (props.get("ro.soc.manufacturer", ""), props.get("ro.soc.model", "")) if x)
    return {
        "os": f"Android {release} (SDK {sdk})",
        "machine": props.get("ro.product.cpu.abi") or None,
        "cpu_model": soc or props.get("ro.board.platform") or props.get("ro.hardware") or None,
        "device_model": f"{maker} {model}".strip() or None,
        "fingerprint": props.get("ro.build.fingerprint") or None,
    }


# -- the backend ------------------------------------------------------------------------------

from pathlib import Path  # noqa: E402 - the parser above stays importable without the backend
from typing import Iterator  # noqa: E402

from edgeq.devices.backend import BenchSettings, DeviceBackend, RunOutcome, settings_for  # noqa: E402,F401
from edgeq.errors import Cancelled, DelegateMissing, DeviceCommandFailed, RuntimeMissing, UsageError  # noqa: E402
from edgeq.events import CancelToken, Done, Event, Log, LogLevel, Stage  # noqa: E402


def benchmark_model_argv(binary: str, model: str, s: BenchSettings) -> list[str]:
    """The ``benchmark_model`` command line for these settings (taskset pins CPUs if asked)."""
    argv = [
        binary, f"--graph={model}", f"--num_threads={s.threads}", f"--warmup_runs={s.warmup}", "--warmup_min_secs=0",
        f"--num_runs={s.runs}", f"--min_secs={s.min_secs:g}", f"--max_secs={s.max_secs:g}",
        f"--use_xnnpack={'true' if s.delegate == 'xnnpack' else 'false'}",
    ]
    if s.delegate == "gpu":
        argv.append("--use_gpu=true")
    elif s.delegate == "nnapi":
        argv.append("--use_nnapi=true")
    elif s.delegate == "external":
        argv.append(f"--external_delegate_path={s.delegate_path}")
        if s.delegate_options:
            argv.append("--external_delegate_options=" + ";".join(f"{k}:{v}" for k, v in s.delegate_options.items()))
    if s.op_profiling:
        argv.append("--enable_op_profiling=true")
    if s.affinity:
        mask = sum(1 << c for c in s.affinity)
        argv = ["taskset", f"{mask:x}", *argv]
    return argv


class AndroidBackend(DeviceBackend):
    """Android over adb: pushes the profile's ``benchmark_model`` and parses what it prints."""

    def _base_dir(self) -> str:
        return (self.profile.adb.remote_dir if self.profile.adb else "") or "/data/local/tmp"

    def _binary(self) -> str:
        local = self.profile.adb.benchmark_model if self.profile.adb else ""
        if not local:
            raise RuntimeMissing(
                f"device profile '{self.profile.name}' names no benchmark_model binary",
                hint="get TFLite's benchmark_model for android_arm64 and set benchmark_model = \"/path/to/it\" under [adb] in the profile",
            )
        path = Path(local).expanduser()
        if not path.is_file():
            raise RuntimeMissing(f"benchmark_model binary {path} does not exist on this host", hint="fix benchmark_model under [adb] in the profile")
        first = str(path.resolve()) not in self._pushed
        remote = self.push(path, "benchmark_model")
        if first:
            self.transport.check(self.transport.run(["chmod", "755", remote], timeout=self.profile.command_timeout), "chmod of benchmark_model")
        return remote

    def probe(self, settings: BenchSettings | None = None) -> dict[str, Any]:
        """Device facts from ``getprop`` and the CPU governor; the runtime is benchmark_model."""
        t = self.transport
        props = parse_getprop(t.check(t.run(["getprop"], timeout=self.profile.command_timeout), "getprop").stdout)
        facts = facts_from_getprop(props)
        gov = t.run(["cat", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"], timeout=self.profile.command_timeout)
        bm = self.profile.adb.benchmark_model if self.profile.adb else ""
        facts.update(
            governor=gov.stdout.strip() or None if gov.ok else None, python=None, numpy=None, runtime="benchmark_model",
            runtime_version=(_sha256(bm)[:12] if bm and Path(bm).expanduser().is_file() else None),
            delegates_available=["none", "xnnpack", "gpu", "nnapi", "external"],
        )
        return {"facts": facts, "python_ok": None, "error": None}

    def benchmark(self, model: Path, settings: BenchSettings, cancel: CancelToken, *, variant: str = "") -> Iterator[Event]:
        """Runs benchmark_model once; ends with ``Done(RunOutcome)`` (aggregates, no per-run samples)."""
        dev = self.profile.name
        out = RunOutcome()
        yield Stage(f"push:{dev}", f"Copying benchmark_model and {model.name} to {dev}", variant=variant)
        if not hasattr(self, "_facts"):
            self._facts = self.probe(settings)["facts"]
        out.facts = dict(self._facts)
        binary = self._binary()
        remote_model = self.prepare(model)
        yield Stage(f"bench:{dev}", f"Benchmarking {model.name} on {dev} (benchmark_model)", variant=variant)
        proc = self.transport.start(benchmark_model_argv(binary, remote_model, settings), env=dict(settings.env))
        lines: list[str] = []
        try:
            for line in self._lines(proc, cancel, "benchmark_model", self.profile.run_timeout + settings.max_secs):
                lines.append(line)
                yield Log(f"{dev}: {line}", LogLevel.DEBUG)
            res = proc.wait(30)
            parsed = parse_benchmark_output("\n".join(lines) + "\n" + res.stdout)
            if res.exited != 0 or parsed["regular"] is None:
                text = "\n".join(lines) + res.stderr
                detail = "; ".join(parsed["errors"][-2:]) or res.tail() or f"exit status {res.exited}"
                if "delegate" in text.lower() and ("Failed" in text or "Could not" in text):
                    raise DelegateMissing(f"benchmark_model could not apply the {settings.delegate} delegate on '{dev}': {detail}",
                                          hint="try another delegate (--delegate xnnpack) or check the delegate library on the phone")
                raise DeviceCommandFailed(f"benchmark_model failed on '{dev}': {detail}", result=res,
                                          hint="check the binary matches the phone's ABI (arm64-v8a) and the model is a valid .tflite")
            _fill(out, parsed)
        except Cancelled as exc:
            out.cut_short(f"cancelled: {exc.message}")
        finally:
            proc.terminate()
            self.forget(model)
        yield Done(out)

    def evaluate_on_device(self, model_path: Path, inputs: Any, **_: Any) -> Any:
        raise UsageError(
            f"accuracy on device '{self.profile.name}' is not supported: Android runs benchmark_model, which cannot return outputs",
            hint="evaluate on the host or on a Linux board with Python (local or ssh devices)",
        )


def _fill(out: RunOutcome, parsed: dict[str, Any]) -> None:
    out.aggregates = {"regular": parsed["regular"], "warmup": parsed["warmup"], "init_us": parsed["init_us"],
                      "first_inference_us": parsed["first_inference_us"], "warmup_avg_us": parsed["warmup_avg_us"]}
    out.init_ms = parsed["init_ms"]
    mem, peak = parsed["memory"], parsed["peak_memory_mb"]
    if peak:
        out.memory = {"peak_rss_mb": peak, "measured": True, "note": "benchmark_model's overall peak memory footprint (periodic monitoring, whole tool)"}
    elif mem and mem["overall_mb"]:
        what = "memory footprint delta from the tool's start" if mem["kind"] == "delta" else "peak memory footprint"
        out.memory = {"peak_rss_mb": mem["overall_mb"], "measured": True, "kind": mem["kind"], "note": f"benchmark_model's {what} (MB), approximate"}
    else:
        out.memory = {"peak_rss_mb": None, "measured": False, "note": "not measured: benchmark_model reported no memory footprint on this device"}
    d = parsed["delegate"]
    if d:
        note = f"benchmark_model: {d['delegate']}, {d.get('partitions')} partition(s)"
        out.coverage = {"delegated_nodes": d.get("delegated_nodes"), "total_nodes": d.get("total_nodes"), "note": note}
    else:
        out.coverage = {"delegated_nodes": None, "total_nodes": None, "note": "benchmark_model printed no 'Replacing N out of M node(s)' line"}
    out.op_profile = parsed["op_profile"]


def _sha256(path: str) -> str:
    import hashlib

    return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()


__all__ = ["AndroidBackend", "benchmark_model_argv", "facts_from_getprop", "parse_benchmark_output", "parse_getprop", "settings_for"]
