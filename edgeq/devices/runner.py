#!/usr/bin/env python3
"""edgeq's on-device runner: benchmark or run a .tflite model, one JSON object per stdout line.

This file is copied alone to a temporary folder on the device and run there, so it imports
nothing from edgeq and needs only numpy and ai_edge_litert (or tflite_runtime). It keeps to
Python 3.7 syntax because boards often ship old Pythons.

Modes:
  probe      report runtime, CPU and delegates, then exit (no model)
  benchmark  load MODEL, run warmup and regular inferences, print each latency
  accuracy   run MODEL on --inputs X.npy (float or the input dtype), write --outputs Y.npy (float)

Output lines (one JSON object each): hello, init, runs (run_type warmup|regular, i: index of
the first run, us: the latencies of consecutive runs, about 20 ms of them per line), memory,
delegate, warning, done; on failure error {kind, message} and exit status 3.
Timing follows TFLite's benchmark_model: inputs are filled once, each invoke() is timed alone;
warmup runs are reported apart from regular runs; regular runs continue until at least --runs
runs and --min-secs seconds, and stop at --max-secs.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import threading
import time

EXIT_ERROR = 3
EXIT_HANGUP = 4
HANGUP_DIR = [""]  # our temp folder, removed if the host goes away (stdin closes or stdout breaks)
_out_lock = threading.Lock()


def emit(obj):
    """Writes one JSON line and flushes it (the hang-up watcher writes from another thread)."""
    line = json.dumps(obj, separators=(",", ":"))
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class RunLog(object):
    """Latencies of consecutive runs, written as one ``runs`` line about every 20 ms.

    One line per run made a fast model (~75k runs/s) cost the host one JSON parse and one event
    per run; packed, the host's work is per line. Writing happens between timed invokes, never
    inside one.
    """

    def __init__(self, run_type, period_s=0.02):
        self.run_type = run_type
        self.period_ns = int(period_s * 1e9)
        self.first = 0
        self.us = []
        self.last = time.perf_counter_ns()

    def add(self, us, now_ns, flush=False):
        self.us.append(round(us, 3))
        if flush or now_ns - self.last >= self.period_ns:
            self.flush(now_ns)

    def flush(self, now_ns=None):
        if self.us:
            emit({"type": "runs", "run_type": self.run_type, "i": self.first, "us": self.us})
            self.first += len(self.us)
            self.us = []
        self.last = now_ns if now_ns is not None else time.perf_counter_ns()


def fail(kind, message, code=EXIT_ERROR):
    emit({"type": "error", "kind": kind, "message": message})
    sys.exit(code)


def _read(path):
    try:
        with open(path) as fh:
            return fh.read()
    except (OSError, IOError):
        return ""


def cpu_model():
    info = _read("/proc/cpuinfo")
    for key in ("Model", "model name", "Hardware", "Processor", "cpu model"):
        for line in info.splitlines():
            if line.split(":")[0].strip() == key and ":" in line:
                value = line.split(":", 1)[1].strip()
                if value:
                    return value
    return platform.processor() or platform.machine()


def os_name():
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.platform()


def governor():
    text = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").strip()
    return text or None


def edgetpu_devices():
    """Coral devices seen by the kernel: PCIe/M.2 (/dev/apex_*) and USB (ids 1a6e:089a, 18d1:9302)."""
    found = []
    if os.path.isdir("/dev"):
        found += ["pcie:" + n for n in sorted(os.listdir("/dev")) if n.startswith("apex_")]
    base = "/sys/bus/usb/devices"
    if os.path.isdir(base):
        for d in sorted(os.listdir(base)):
            vid = _read(os.path.join(base, d, "idVendor")).strip()
            pid = _read(os.path.join(base, d, "idProduct")).strip()
            if (vid, pid) in (("1a6e", "089a"), ("18d1", "9302")):
                found.append("usb:" + d)
    return found


def library_loadable(path):
    import ctypes

    try:
        ctypes.CDLL(path)
        return True
    except OSError:
        return False


def import_runtime(preferred):
    """Returns (runtime name, version, Interpreter, load_delegate, OpResolverType or None)."""
    order = ["ai_edge_litert", "tflite_runtime"]
    if preferred == "tflite_runtime":
        order.reverse()
    errors = []
    for name in order:
        try:
            if name == "ai_edge_litert":
                from ai_edge_litert import interpreter as mod
            else:
                from tflite_runtime import interpreter as mod
        except ImportError as exc:
            errors.append("%s: %s" % (name, exc))
            continue
        version = "unknown"
        try:
            top = __import__(name)
            version = getattr(top, "__version__", None) or version
        except Exception:
            pass
        if version == "unknown":
            try:
                from importlib import metadata  # Python 3.8+

                version = metadata.version(name.replace("_", "-"))
            except Exception:
                pass
        return name, str(version), mod.Interpreter, mod.load_delegate, getattr(mod, "OpResolverType", None)
    raise ImportError("; ".join(errors))


def hello(args):
    facts = {
        "type": "hello",
        "pid": os.getpid(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "os": os_name(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "governor": governor(),
        "numpy": None,
        "runtime": None,
        "runtime_version": None,
        "delegates_available": [],
        "edgetpu_devices": edgetpu_devices(),
    }
    try:
        import numpy

        facts["numpy"] = numpy.__version__
    except ImportError:
        pass
    try:
        name, version, _, _, resolver = import_runtime(args.runtime)
        facts["runtime"], facts["runtime_version"] = name, version
        facts["delegates_available"] = ["none", "xnnpack"] if resolver is not None else ["xnnpack"]
    except ImportError:
        pass
    if library_loadable(args.delegate_path if args.delegate == "edgetpu" and args.delegate_path else "libedgetpu.so.1"):
        facts["delegates_available"].append("edgetpu")
    if args.delegate == "external" and args.delegate_path and library_loadable(args.delegate_path):
        facts["delegates_available"].append("external")
    emit(facts)
    return facts


def watch_stdin(remove_dir):
    """Exits (after removing our temp folder) when stdin closes: edgeq or its connection is gone."""

    def watch():
        # os.read on the raw fd: a BufferedReader held by a daemon thread blocks interpreter exit.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        if remove_dir:
            safe_rmtree(remove_dir)
        os._exit(EXIT_HANGUP)

    t = threading.Thread(target=watch)
    t.daemon = True
    t.start()


def safe_rmtree(path):
    # Only ever our own mktemp folder: it must hold this very script and be named edgeq.*
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.abspath(path) == here and os.path.basename(here).startswith("edgeq."):
        shutil.rmtree(here, ignore_errors=True)


def delegate_coverage(interp, delegate_name):
    """Counts original nodes replaced by delegate kernels: walks back from each DELEGATE node's
    outputs to its inputs (the partition it took over). None where the runtime hides op details."""
    try:
        ops = interp._get_ops_details()
    except Exception:
        return None
    delegates = [o for o in ops if o.get("op_name") == "DELEGATE"]
    original = [o for o in ops if o.get("op_name") != "DELEGATE"]
    producer = {}
    for o in original:
        for t in o.get("outputs", []):
            producer[int(t)] = o["index"]
    covered = set()
    for d in delegates:
        stop = set(int(t) for t in d.get("inputs", []))
        todo = [int(t) for t in d.get("outputs", [])]
        seen = set()
        while todo:
            t = todo.pop()
            if t in seen or t in stop or t not in producer:
                continue
            seen.add(t)
            idx = producer[t]
            if idx not in covered:
                covered.add(idx)
                node = next(o for o in original if o["index"] == idx)
                todo.extend(int(x) for x in node.get("inputs", []) if int(x) >= 0)
    custom = [o["op_name"] for o in original if o.get("op_name") in ("edgetpu-custom-op", "CUSTOM")]
    out = {
        "type": "delegate",
        "delegate": delegate_name,
        "delegated_nodes": len(covered),
        "total_nodes": len(original),
        "partitions": len(delegates),
    }
    if custom:
        out["note"] = "model holds %d compiled custom op(s); their inner ops are not visible" % len(custom)
    return out


def parse_options(items):
    opts = {}
    for item in items or []:
        if "=" not in item:
            fail("usage", "--delegate-option needs KEY=VALUE, got %r" % item)
        k, v = item.split("=", 1)
        opts[k] = v
    return opts


def make_interpreter(args, rt):
    name, version, Interpreter, load_delegate, resolver = rt
    kw = {"model_path": args.model, "num_threads": args.threads}
    if args.delegate == "none":
        if resolver is None:
            emit({"type": "warning", "message": "this runtime cannot switch XNNPACK off; delegate 'none' runs its defaults"})
        else:
            kw["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    elif args.delegate in ("edgetpu", "external"):
        path = args.delegate_path or ("libedgetpu.so.1" if args.delegate == "edgetpu" else "")
        if not path:
            fail("usage", "--delegate external needs --delegate-path")
        if not library_loadable(path):
            fail("delegate_missing", "delegate library %s cannot be loaded on this device" % path)
        try:
            kw["experimental_delegates"] = [load_delegate(path, parse_options(args.delegate_option))]
        except (ValueError, OSError, RuntimeError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            no_dev = args.delegate == "edgetpu" and not edgetpu_devices()
            fail("delegate_failed", "delegate %s was found but failed to load%s: %s"
                 % (path, " (no Edge TPU device is attached)" if no_dev else "", detail))
    try:
        interp = Interpreter(**kw)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        msg = str(exc).strip()
        if "edgetpu-custom-op" in msg:
            fail("needs_edgetpu", "the model was compiled for the Edge TPU and needs the edgetpu delegate: " + msg.splitlines()[0])
        fail("model_invalid", "cannot load %s: %s" % (os.path.basename(args.model), msg.splitlines()[0] if msg else type(exc).__name__))
    return interp


def random_inputs(interp, np):
    rng = np.random.RandomState(0)
    for d in interp.get_input_details():
        dt = np.dtype(d["dtype"])
        shape = tuple(int(x) for x in d["shape"])
        if dt.kind == "f":
            data = rng.uniform(-1.0, 1.0, size=shape).astype(dt)
        elif dt.kind in "iu":
            info = np.iinfo(dt)
            lo, hi = max(int(info.min), -128), min(int(info.max), 255)
            data = rng.randint(lo, hi + 1, size=shape).astype(dt)
        elif dt.kind == "b":
            data = rng.randint(0, 2, size=shape).astype(dt)
        else:
            fail("model_invalid", "input %s has dtype %s, which the runner cannot fill" % (d["name"], dt))
        interp.set_tensor(d["index"], data)


def peak_rss_mb():
    for line in _read("/proc/self/status").splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024.0, 2), "VmHWM"
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Linux reports KiB, macOS bytes.
        return round(peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0, 2), "ru_maxrss"
    except Exception:
        return None, None


def current_rss_mb():
    for line in _read("/proc/self/status").splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024.0, 2)
    return None


def benchmark(args, interp, np):
    random_inputs(interp, np)
    invoke = interp.invoke
    clock = time.perf_counter_ns
    t_start = clock()
    log = RunLog("warmup")
    for i in range(args.warmup):
        t0 = clock()
        invoke()
        t1 = clock()
        log.add((t1 - t0) / 1000.0, t1, flush=i == 0)
    log.flush()
    emit({"type": "phase", "phase": "regular", "warmup_ms": (clock() - t_start) / 1e6})
    log = RunLog("regular")
    t_start = clock()
    min_ns, max_ns = int(args.min_secs * 1e9), int(args.max_secs * 1e9)
    i = 0
    while True:
        t0 = clock()
        invoke()
        t1 = clock()
        log.add((t1 - t0) / 1000.0, t1)
        i += 1
        elapsed = t1 - t_start
        if i >= args.runs and elapsed >= min_ns:
            # Whichever condition was met last is the one that decided the count.
            stopped_by = "runs" if i == args.runs else "min_secs"
            break
        if elapsed >= max_ns:
            stopped_by = "max_secs"
            break
    log.flush()
    emit({"type": "phase", "phase": "end", "regular_ms": (clock() - t_start) / 1e6, "count": i, "stopped_by": stopped_by})


def accuracy(args, interp, np):
    if not args.inputs or not args.outputs:
        fail("usage", "accuracy mode needs --inputs X.npy and --outputs Y.npy")
    ins = interp.get_input_details()
    if len(ins) != 1:
        fail("model_invalid", "accuracy mode supports single-input models; this one has %d inputs" % len(ins))
    d, o = ins[0], interp.get_output_details()[0]
    xs = np.load(args.inputs, allow_pickle=False)
    dt = np.dtype(d["dtype"])
    shape = tuple(int(x) for x in d["shape"])
    scale, zp = d.get("quantization", (0.0, 0))
    oscale, ozp = o.get("quantization", (0.0, 0))
    outs = []
    for k, x in enumerate(xs):
        x = np.asarray(x).reshape(shape)
        if dt.kind in "iu" and np.asarray(x).dtype.kind == "f":
            if not scale:
                fail("model_invalid", "integer input without quantization parameters; pass inputs as %s" % dt)
            info = np.iinfo(dt)
            x = np.clip(np.round(x / scale + zp), info.min, info.max)
        interp.set_tensor(d["index"], x.astype(dt))
        interp.invoke()
        y = interp.get_tensor(o["index"])
        y = (y.astype(np.float32) - ozp) * oscale if (np.dtype(y.dtype).kind in "iu" and oscale) else y.astype(np.float32)
        outs.append(y[0] if y.shape and y.shape[0] == 1 else y)
        if k % 50 == 0:
            emit({"type": "progress", "done": k + 1, "total": int(len(xs))})
    np.save(args.outputs, np.stack(outs) if outs else np.zeros((0,), np.float32))
    emit({"type": "accuracy", "count": len(outs), "outputs": args.outputs})


def _cpu_list(cpus):
    spans = []
    for c in sorted(set(cpus)):
        if spans and spans[-1][1] == c - 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    return ",".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in spans)


def pin_cpus(text):
    """Pins this process to the CPUs in ``text`` ("2,3"); a CPU the device lacks is named, with those it has."""
    try:
        want = set(int(c) for c in text.split(",") if c.strip())
    except ValueError:
        fail("affinity", "--affinity %r is not a list of CPU numbers" % text)
    try:
        have = os.sched_getaffinity(0)
    except AttributeError:
        fail("affinity", "this device cannot pin processes to CPUs (no sched_setaffinity)")
    missing = sorted(want - have)
    if missing:
        fail("affinity", "CPU%s %s %s not exist on this device (it has CPUs %s)"
             % ("s" if len(missing) > 1 else "", _cpu_list(missing), "do" if len(missing) > 1 else "does", _cpu_list(have)))
    try:
        os.sched_setaffinity(0, want)
    except OSError as exc:
        fail("affinity", "cannot pin to CPUs %s: %s" % (_cpu_list(want), exc.strerror or exc))


def main(argv=None):
    p = argparse.ArgumentParser(prog="edgeq-runner", description=__doc__.split("\n")[0])
    p.add_argument("model", nargs="?")
    p.add_argument("--mode", choices=("probe", "benchmark", "accuracy"), default="benchmark")
    p.add_argument("--runtime", default="ai_edge_litert")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--delegate", choices=("none", "xnnpack", "edgetpu", "external"), default="xnnpack")
    p.add_argument("--delegate-path", default="")
    p.add_argument("--delegate-option", action="append", default=[])
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--min-secs", type=float, default=1.0)
    p.add_argument("--max-secs", type=float, default=150.0)
    p.add_argument("--affinity", default="")
    p.add_argument("--inputs")
    p.add_argument("--outputs")
    p.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes (host gone)")
    p.add_argument("--remove-dir-on-hangup", default="")
    args = p.parse_args(argv)
    HANGUP_DIR[0] = args.remove_dir_on_hangup
    if args.watch_stdin:
        watch_stdin(args.remove_dir_on_hangup)
    if args.affinity:
        pin_cpus(args.affinity)
    facts = hello(args)
    if args.mode == "probe":
        emit({"type": "done"})
        return 0
    if facts["numpy"] is None:
        fail("runtime_missing", "numpy is not installed for %s" % sys.executable)
    if facts["runtime"] is None:
        fail("runtime_missing", "neither ai_edge_litert nor tflite_runtime is installed for %s" % sys.executable)
    if not args.model or not os.path.isfile(args.model):
        fail("model_missing", "model file %s not found on the device" % args.model)
    import numpy as np

    rt = import_runtime(args.runtime)
    base_rss = current_rss_mb()
    t0 = time.perf_counter_ns()
    interp = make_interpreter(args, rt)
    emit({"type": "init", "ms": (time.perf_counter_ns() - t0) / 1e6})
    cov = delegate_coverage(interp, args.delegate)
    if cov is not None:
        emit(cov)
    try:
        if args.mode == "benchmark":
            benchmark(args, interp, np)
        else:
            accuracy(args, interp, np)
    except (RuntimeError, ValueError) as exc:
        fail("invoke_failed", "inference failed: %s" % (str(exc).strip().splitlines() or [type(exc).__name__])[0])
    peak, source = peak_rss_mb()
    emit({"type": "memory", "peak_rss_mb": peak, "baseline_rss_mb": base_rss, "source": source})
    emit({"type": "done"})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the host went away mid-write
        if HANGUP_DIR[0]:
            safe_rmtree(HANGUP_DIR[0])
        os._exit(EXIT_HANGUP)
    except KeyboardInterrupt:
        os._exit(130)
