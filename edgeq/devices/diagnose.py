"""What is wrong with a device or a run, and the fix for each: the messages users act on.

``diagnose`` turns a probe's facts into problems for ``edgeq devices check``; ``runner_error``
turns the on-device runner's ``error`` line into the edgeq error (and exit code) whose hint
names the command that fixes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeq.errors import DelegateMissing, DeviceCommandFailed, EdgeqError, InputError, ModelLoadError, RuntimeMissing


def runner_error(kind: str, message: str, profile: Any, settings: Any = None) -> EdgeqError:
    """Maps the runner's ``error`` line (``kind``, ``message``) to the edgeq error whose hint fixes it.

    ``settings`` (the run's BenchSettings) tell which delegate and CPUs were really asked for, and
    whether they came from the command line (differing from the profile) or from the profile file.
    """
    py = profile.python
    delegate = settings.delegate if settings is not None else profile.delegate
    path_from_cli = settings is not None and settings.delegate_path != profile.effective_delegate_path
    delegate_from_cli = delegate != profile.delegate
    if kind == "runtime_missing":
        pkg = "numpy" if "numpy" in message else ("tflite-runtime" if profile.runtime == "tflite_runtime" else "ai-edge-litert")
        return RuntimeMissing(f"{message} on device '{profile.name}'", hint=f"install it on the device: {py} -m pip install {pkg}")
    if kind in ("delegate_missing", "delegate_failed"):
        if delegate == "edgetpu":
            hint = ("install the Edge TPU runtime on the device (sudo apt-get install libedgetpu1-std from Coral's apt repository)"
                    if kind == "delegate_missing" else "plug the Edge TPU in (USB 3 port), check 'lsusb' for Global Unichip/Google, then run again")
            if kind == "delegate_missing" and delegate_from_cli:
                hint += ", or drop --delegate edgetpu to use the device's own delegate"
        elif path_from_cli or delegate_from_cli:
            hint = "pass --delegate-path with the path of a delegate library that exists on the device"
        else:
            hint = f"check delegate_path in {profile.source} points to a library that exists on the device"
        return DelegateMissing(f"{message} (device '{profile.name}')", hint=hint)
    if kind == "needs_edgetpu":
        return InputError(message, hint="profile an *_edgetpu.tflite only on a device whose delegate is edgetpu (e.g. --device coral-usb-rpi)")
    if kind == "model_invalid":
        return ModelLoadError(message, hint="check the file is a .tflite model this runtime version supports")
    if kind == "affinity":
        where = "--affinity" if settings is not None and tuple(settings.affinity) != tuple(profile.affinity) else f"'affinity' in {profile.source}"
        return DeviceCommandFailed(message.replace("this device", f"device '{profile.name}'"), hint=f"choose CPUs the device has in {where}")
    return DeviceCommandFailed(f"{message} (device '{profile.name}')", hint="run 'edgeq devices check " + profile.name + "' to diagnose")


def diagnose(profile: Any, facts: dict[str, Any], info: dict[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    """What keeps a device from being profiled, each with its fix, plus notes (e.g. the governor).

    Args:
        profile: the device profile.
        facts: what the probe reported (runner ``hello`` or getprop).
        info: the probe's ``python_ok`` and ``error``.

    Returns:
        ``(problems, notes)``; problems are ``{"problem", "fix"}`` dicts.
    """
    problems: list[dict[str, str]] = []
    notes: list[str] = []
    py = profile.python

    def need(problem: str, fix: str) -> None:
        problems.append({"problem": problem, "fix": fix})

    if profile.transport == "adb":
        bm = profile.adb.benchmark_model if profile.adb else ""
        if not bm or not Path(bm).expanduser().is_file():
            need("no benchmark_model binary on this host for this profile", "get TFLite's benchmark_model (android_arm64) and set benchmark_model under [adb]")
    elif info.get("python_ok") is False:
        need(f"'{py}' does not run on the device: {info.get('error')}", f"install Python 3 on the device, or set python = \"/path/to/python3\" in {profile.source}")
    else:
        if not facts.get("numpy"):
            need("numpy is not installed on the device", f"{py} -m pip install numpy")
        if not facts.get("runtime"):
            pkg = "tflite-runtime" if profile.runtime == "tflite_runtime" else "ai-edge-litert"
            need("no TFLite runtime (ai_edge_litert or tflite_runtime) on the device", f"{py} -m pip install {pkg}")
        elif facts.get("runtime") != profile.runtime:
            notes.append(f"profile asks for {profile.runtime}, the device has {facts.get('runtime')} {facts.get('runtime_version')} (used instead)")
        if profile.delegate == "edgetpu":
            if "edgetpu" not in facts.get("delegates_available", []):
                need(f"the Edge TPU runtime ({profile.effective_delegate_path}) is not installed on the device",
                     "install it from Coral's apt repository: sudo apt-get install libedgetpu1-std")
            if not facts.get("edgetpu_devices"):
                need("no Edge TPU is attached (none on USB or PCIe)", "plug in the Coral USB Accelerator (USB 3 port) or check the M.2/PCIe card and its driver (gasket/apex)")
        if profile.delegate == "external" and "external" not in facts.get("delegates_available", []):
            need(f"the delegate library {profile.delegate_path} cannot be loaded on the device", f"install it, or fix delegate_path in {profile.source}")
        count = facts.get("cpu_count")
        if count and any(c >= count for c in profile.affinity):
            need(f"affinity {list(profile.affinity)} names CPUs the device does not have ({count} CPUs)", f"fix affinity in {profile.source}")
    gov = facts.get("governor")
    if gov and gov != "performance":
        notes.append(f"CPU frequency governor is '{gov}': latencies vary with frequency scaling; for stable numbers set 'performance' "
                     "(sudo cpupower frequency-set -g performance)")
    return problems, notes
