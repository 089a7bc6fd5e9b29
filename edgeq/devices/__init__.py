"""Device profiles, transports and backends for on-device profiling.

Modules (import the one you need; nothing heavy is imported here):

* :mod:`~edgeq.devices.profiles` — device profiles (TOML → frozen dataclasses)
* :mod:`~edgeq.devices.transport` — the Transport protocol; :mod:`.local`, :mod:`.ssh`, :mod:`.adb`
* :mod:`~edgeq.devices.backend` — backends: the Python runner (local, SSH) and :mod:`.android`
* :mod:`~edgeq.devices.runner` — the self-contained on-device runner script
* :mod:`~edgeq.devices.edgetpu` — offline Edge TPU compatibility and ``edgetpu_compiler``
* :mod:`~edgeq.devices.stats` — latency statistics; :mod:`.diagnose` — problems and their fixes
"""

__all__ = ["adb", "android", "backend", "diagnose", "edgetpu", "local", "profiles", "runner", "ssh", "stats", "transport"]
