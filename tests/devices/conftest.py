"""Fixtures for device tests: small real .tflite models, a real OpenSSH server, profile folders.

Models are built once per session with TensorFlow (float32, full-int8, a slower float32 for
streaming tests, and a dynamic-batch one). The sshd listens on 127.0.0.1 with a throwaway host
key and user key; a missing sshd fails the tests loudly (tests/system-deps.sh installs it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

SSHD = "/usr/sbin/sshd"
STANDIN = Path(__file__).with_name("standin")


@dataclass
class Models:
    float32: Path
    int8: Path
    slow: Path  # ~1 ms per inference: streams samples at a rate SSH and the host can follow
    dynamic: Path  # batch dimension left dynamic (the Edge TPU refuses it)


def _build_models(folder: Path) -> Models:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    def small(batch: int | None) -> tf.keras.Model:
        tf.keras.utils.set_random_seed(0)
        inp = tf.keras.Input((32, 32, 3), batch_size=batch)
        x = tf.keras.layers.Conv2D(8, 3, activation="relu")(inp)
        x = tf.keras.layers.DepthwiseConv2D(3, activation="relu")(x)
        x = tf.keras.layers.GlobalAveragePooling2D()(x)
        out = tf.keras.layers.Dense(4, activation="softmax")(x)
        return tf.keras.Model(inp, out)

    def convert(model: tf.keras.Model, path: Path, *, int8: bool = False) -> Path:
        c = tf.lite.TFLiteConverter.from_keras_model(model)
        if int8:
            shape = [1, *model.input_shape[1:]]

            def rep() -> Iterator[list[np.ndarray]]:
                rng = np.random.default_rng(0)
                for _ in range(16):
                    yield [rng.random(shape, dtype=np.float32)]

            c.optimizations = [tf.lite.Optimize.DEFAULT]
            c.representative_dataset = rep
            c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            c.inference_input_type = tf.int8
            c.inference_output_type = tf.int8
        path.write_bytes(c.convert())
        return path

    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((96, 96, 3), batch_size=1)
    x = inp
    for ch in (32, 48, 64):
        x = tf.keras.layers.Conv2D(ch, 3, padding="same", activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    slow = tf.keras.Model(inp, tf.keras.layers.Dense(4)(x))
    return Models(
        float32=convert(small(1), folder / "tiny.float32.tflite"),
        int8=convert(small(1), folder / "tiny.int8.tflite", int8=True),
        slow=convert(slow, folder / "slow.float32.tflite"),
        dynamic=convert(small(None), folder / "dyn.int8.tflite", int8=True),
    )


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return _build_models(tmp_path_factory.mktemp("device-models"))


@pytest.fixture
def devices_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user profile folder (EDGEQ_DEVICES_DIR) for this test."""
    d = tmp_path / "devices"
    d.mkdir()
    monkeypatch.setenv("EDGEQ_DEVICES_DIR", str(d))
    return d


def _write_profile(folder: Path, name: str, body: str) -> Path:
    p = folder / f"{name}.toml"
    p.write_text(f'schema_version = 1\nname = "{name}"\n' + body)
    return p


@pytest.fixture
def write_profile(devices_dir: Path) -> Callable[[str, str], Path]:
    """Writes ``NAME.toml`` (schema_version and name filled in) into the test's profile folder."""
    return lambda name, body: _write_profile(devices_dir, name, body)


# -- sshd ----------------------------------------------------------------------------------


@dataclass
class Sshd:
    port: int
    pid: int
    root: Path
    user_key: Path
    known_hosts: Path  # trusts this server
    empty_known_hosts: Path  # trusts nothing
    config: Path  # an ssh config with Host alias "edgeq-box" for this server
    log: Path
    proc: subprocess.Popen

    def profile(self, *, known_hosts: Path | None = None, work_dir: Path | None = None, extra: str = "", ssh_extra: str = "") -> str:
        """TOML body of a device profile reaching this server directly (no ssh config)."""
        return (
            f'transport = "ssh"\npython = "{sys.executable}"\nwork_dir = "{work_dir or self.root / "work"}"\n'
            f"threads = 1\nrun_timeout = 20\ncommand_timeout = 30\n{extra}\n"
            f'[ssh]\nhost = "127.0.0.1"\nport = {self.port}\nuser = "{_user()}"\nkey_file = "{self.user_key}"\n'
            f'known_hosts = "{known_hosts or self.known_hosts}"\nconfig_file = "{self.root / "no_config"}"\n'
            f"connect_timeout = 5\nkeepalive = 1\n{ssh_extra}\n"
        )

    def session_pids(self) -> list[int]:
        """Every process below the listening sshd (the per-connection sessions and their children)."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
        out, todo = [], list(children.get(self.pid, []))
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def kill_sessions(self) -> None:
        """Kills only the sshd session processes (not the runner): the TCP connection drops."""
        for pid in self.session_pids():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            # Session processes rename themselves "sshd: user [priv]" / "sshd: user@notty".
            if cmd.startswith(b"sshd:") and b"[listener]" not in cmd:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _user() -> str:
    import getpass

    return getpass.getuser()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgeq-test", "-f", str(path)], check=True)


def start_sshd(root: Path, *, sftp: bool = True) -> Sshd:
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        pytest.fail(f"OpenSSH server not installed ({SSHD} missing): run tests/system-deps.sh (apt-get install openssh-server)")
    root.mkdir(parents=True, exist_ok=True)
    (root / "work").mkdir(exist_ok=True)
    try:
        os.makedirs("/run/sshd", exist_ok=True)  # privilege separation directory sshd insists on
    except PermissionError:
        pass  # not root: sshd's own message (below) says what is missing
    host_key, user_key = root / "host_ed25519", root / "user_ed25519"
    _keygen(host_key)
    _keygen(user_key)
    (root / "authorized_keys").write_text((root / "user_ed25519.pub").read_text())
    port = _free_port()
    server = "/usr/lib/openssh/sftp-server" if os.path.exists("/usr/lib/openssh/sftp-server") else "internal-sftp"
    subsystem = f"Subsystem sftp {server}\n" if sftp else ""  # boards with dropbear often have no sftp
    cfg = root / "sshd_config"
    cfg.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {root / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {root / 'authorized_keys'}\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        f"PasswordAuthentication no\nKbdInteractiveAuthentication no\n{subsystem}LogLevel VERBOSE\n"
        "MaxStartups 50\nMaxSessions 50\n"
    )
    log = root / "sshd.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited at start: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"sshd did not listen on {port}: {log.read_text()}")
    pub = (root / "host_ed25519.pub").read_text().split()
    known = root / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {pub[0]} {pub[1]}\n")
    empty = root / "known_hosts_empty"
    empty.write_text("")
    config = root / "ssh_config"
    config.write_text(
        f"Host edgeq-box\n  HostName 127.0.0.1\n  Port {port}\n  User {_user()}\n  IdentityFile {user_key}\n  UserKnownHostsFile {known}\n"
    )
    return Sshd(port, proc.pid, root, user_key, known, empty, config, log, proc)


def stop_sshd(s: Sshd) -> None:
    s.kill_sessions()
    s.proc.terminate()
    try:
        s.proc.wait(5)
    except subprocess.TimeoutExpired:
        s.proc.kill()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """One sshd for the session's well-behaved tests."""
    s = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield s
    stop_sshd(s)


@pytest.fixture
def fresh_sshd(tmp_path: Path) -> Iterator[Sshd]:
    """An sshd of its own, for tests that break connections."""
    s = start_sshd(tmp_path / "sshd")
    yield s
    stop_sshd(s)


@pytest.fixture
def nosftp_sshd(tmp_path: Path) -> Iterator[Sshd]:
    """An sshd without the sftp subsystem (like many dropbear boards)."""
    s = start_sshd(tmp_path / "sshd-nosftp", sftp=False)
    yield s
    stop_sshd(s)


@pytest.fixture
def standin_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Points EDGEQ_ADB at the stand-in adb with a fresh sandbox; returns a setter for device states."""
    sandbox = tmp_path / "android"
    (sandbox / "data" / "local" / "tmp").mkdir(parents=True)
    monkeypatch.setenv("EDGEQ_ADB", str(STANDIN / "adb"))
    monkeypatch.setenv("EDGEQ_STANDIN_ADB_ROOT", str(sandbox))
    monkeypatch.setenv("EDGEQ_STANDIN_ADB_DEVICES", "emulator-5554:device")

    def set_devices(spec: str = "emulator-5554:device", fixture: str | None = None) -> Path:
        monkeypatch.setenv("EDGEQ_STANDIN_ADB_DEVICES", spec)
        if fixture is not None:
            monkeypatch.setenv("EDGEQ_STANDIN_BM_FIXTURE", fixture)
        return sandbox

    return set_devices
