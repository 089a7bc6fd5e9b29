"""The SSH path against a real OpenSSH sshd on 127.0.0.1, running the real runner and interpreter."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from edgeq import api
from edgeq.devices.profiles import SshSettings
from edgeq.devices.ssh import SshTransport
from edgeq.errors import DeviceUnreachable, ExitStatus
from edgeq.events import CancelToken, Done, RunType, Samples

FAST = ["--runs", "20", "--warmup", "2", "--min-secs", "0"]


def _empty(folder: Path, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not os.listdir(folder):
            return True
        time.sleep(0.1)
    return False


def test_check_and_profile_over_ssh(models, sshd, run_cli, tmp_path: Path, write_profile) -> None:
    work = tmp_path / "work"
    work.mkdir()
    write_profile("box", sshd.profile(work_dir=work))
    r = run_cli("devices", "check", "box", "--json")
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["facts"]["runtime"] == "ai_edge_litert" and f"127.0.0.1:{sshd.port}" in doc["where"]
    out = tmp_path / "p.json"
    r = run_cli("profile", models.int8, models.float32, "--device", "box", *FAST, "--out", out)
    assert r.code == 0, r.stderr
    runs = json.loads(out.read_text())["runs"]
    assert [x["model_file"] for x in runs] == ["tiny.int8.tflite", "tiny.float32.tflite"]
    for run in runs:
        assert run["status"] == "ok" and run["device"]["transport"] == "ssh" and run["stats"]["count"] >= 20
        assert len(run["warmup_samples_us"]) == 2 and run["memory"]["measured"] and run["device"]["facts"]["numpy"]
    assert os.listdir(work) == []  # the mktemp folder, runner and models are gone


def test_ssh_config_alias_is_honoured(models, sshd, run_cli, write_profile, tmp_path: Path) -> None:
    """Only the alias is in the profile: host name, port, user, key and known_hosts come from ssh config."""
    work = tmp_path / "w"
    work.mkdir()
    write_profile("alias", f'transport = "ssh"\npython = "{os.sys.executable}"\nwork_dir = "{work}"\n[ssh]\nhost = "edgeq-box"\nconfig_file = "{sshd.config}"\n')
    t = SshTransport(SshSettings(host="edgeq-box", config_file=str(sshd.config)), "alias")
    r = t.resolve()
    assert (r["hostname"], r["port"], r["keys"], r["known_hosts"]) == ("127.0.0.1", sshd.port, [str(sshd.user_key)], str(sshd.known_hosts))
    with t:
        res = t.run(["sh", "-c", 'printf "%s|" "$1" "$2"', "sh", "a b; rm -rf /", "$HOME"], timeout=10)
    assert res.ok and res.stdout == "a b; rm -rf /|$HOME|"  # argv reaches the device verbatim, never via shell text
    r2 = run_cli("profile", models.int8, "-d", "alias", *FAST, "--json")
    assert r2.code == 0, r2.stderr and json.loads(r2.stdout)["runs"][0]["status"] == "ok"


def test_unknown_host_key_is_refused_with_the_keyscan_command(models, sshd, run_cli, tmp_path: Path, write_profile) -> None:
    work = tmp_path / "w"
    work.mkdir()
    write_profile("stranger", sshd.profile(known_hosts=sshd.empty_known_hosts, work_dir=work))
    r = run_cli("profile", models.int8, "-d", "stranger", *FAST)
    assert r.code == ExitStatus.DEVICE
    assert "host key of 127.0.0.1" in r.stderr and "unknown" in r.stderr
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {sshd.empty_known_hosts}" in r.stderr
    assert os.listdir(work) == [] and sshd.empty_known_hosts.read_text() == ""  # nothing trusted silently


def test_missing_key_file_is_named_not_taken_for_a_network_error(models, sshd, run_cli, tmp_path: Path, write_profile) -> None:
    missing = tmp_path / "id_missing"
    write_profile("nokey", sshd.profile(work_dir=tmp_path).replace(f'key_file = "{sshd.user_key}"', f'key_file = "{missing}"'))
    r = run_cli("devices", "check", "nokey")
    assert r.code == ExitStatus.INPUT, r.stderr
    assert f"SSH key file {missing} of device 'nokey' does not exist" in r.stderr
    assert "ssh-keygen -t ed25519" in r.stderr and "cannot connect" not in r.stderr


def test_unknown_host_key_hint_works_without_a_ssh_folder(sshd, tmp_path: Path) -> None:
    """The hint is a command that works as printed, even where ~/.ssh does not exist yet."""
    known = tmp_path / "fresh-home" / ".ssh" / "known_hosts"
    t = SshTransport(SshSettings(host="127.0.0.1", port=sshd.port, key_file=str(sshd.user_key), known_hosts=str(known),
                                 config_file="/nonexistent"))
    with pytest.raises(DeviceUnreachable) as e:
        t.run(["true"], timeout=10)
    command = e.value.hint.split("trust it with: ", 1)[1]
    assert command.startswith(f"mkdir -p {known.parent} && ssh-keyscan")
    assert subprocess.run(["bash", "-c", command], capture_output=True, timeout=30).returncode == 0
    assert SshTransport(SshSettings(host="127.0.0.1", port=sshd.port, key_file=str(sshd.user_key), known_hosts=str(known),
                                    config_file="/nonexistent")).run(["true"], timeout=10).ok


def test_changed_host_key_is_refused(sshd, tmp_path: Path) -> None:
    other = tmp_path / "kh"
    other.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk9x2m3s2fQ6l0cJ7fM0hZbq9R3mXo3Qx1y0a5b6c7d\n")
    t = SshTransport(SshSettings(host="127.0.0.1", port=sshd.port, key_file=str(sshd.user_key), known_hosts=str(other), config_file="/nonexistent"))
    with pytest.raises(DeviceUnreachable) as e:
        t.open()
    assert "does NOT match" in e.value.message and "ssh-keygen" in e.value.hint


def test_auth_failure_and_unreachable_host(models, sshd, run_cli, tmp_path: Path, write_profile) -> None:
    stranger_key = tmp_path / "id_other"
    os.system(f"ssh-keygen -q -t ed25519 -N '' -f {stranger_key}")
    write_profile("badkey", sshd.profile(ssh_extra="").replace(str(sshd.user_key), str(stranger_key)))
    r = run_cli("devices", "check", "badkey")
    assert r.code == ExitStatus.DEVICE and "authentication to" in r.stderr and "ssh-copy-id" in r.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    write_profile("gone", sshd.profile().replace(f"port = {sshd.port}", f"port = {closed_port}"))
    t0 = time.monotonic()
    r = run_cli("profile", models.int8, "-d", "gone", *FAST)
    assert r.code == ExitStatus.DEVICE and f"cannot connect to 127.0.0.1:{closed_port}" in r.stderr and "hint:" in r.stderr
    assert time.monotonic() - t0 < 10


def test_connection_killed_mid_run_keeps_samples_and_marks_partial(models, fresh_sshd, tmp_path: Path, write_profile) -> None:
    work = tmp_path / "w"
    work.mkdir()
    write_profile("flaky", fresh_sshd.profile(work_dir=work))
    out = tmp_path / "p.json"
    req = api.ProfileRequest(models=[str(models.slow), str(models.int8)], devices=["flaky"], runs=10, warmup=1, min_secs=30, out=str(out))
    got, killed, result, t0 = 0, False, None, time.monotonic()
    for ev in api.profile(req, cancel=CancelToken()):
        if isinstance(ev, Samples) and ev.run_type == RunType.REGULAR:
            got += len(ev.latencies_us)
            if got >= 100 and not killed:
                fresh_sshd.kill_sessions()
                killed = True
        elif isinstance(ev, Done):
            result = ev.result
    assert time.monotonic() - t0 < 25  # detected promptly, not after min_secs
    doc = json.loads(out.read_text())
    assert doc == result.to_dict() and doc["partial"] is True and "dropped" in doc["partial_reason"]
    slow, tiny = doc["runs"]
    assert slow["status"] == "partial" and "dropped" in slow["error"]["message"]
    assert slow["stats"]["count"] == len(slow["samples_us"]) >= 100
    assert tiny["status"] == "failed" and tiny["stats"]["count"] == 0  # never started: the device was gone
    assert _empty(work), os.listdir(work)  # the runner saw its stdin close and removed its own folder


def test_cancel_over_ssh_kills_the_remote_runner(models, sshd, tmp_path: Path, write_profile) -> None:
    work = tmp_path / "w"
    work.mkdir()
    write_profile("box", sshd.profile(work_dir=work))
    cancel = CancelToken()
    req = api.ProfileRequest(models=[str(models.slow)], devices=["box"], runs=10, min_secs=60, out=str(tmp_path / "p.json"))
    t0 = time.monotonic()
    with pytest.raises(Exception) as e:
        for ev in api.profile(req, cancel=cancel):
            if isinstance(ev, Samples) and ev.run_type == RunType.REGULAR and ev.end > 20:
                cancel.cancel("test")
    assert type(e.value).__name__ == "Cancelled" and time.monotonic() - t0 < 20
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["partial"] and doc["runs"][0]["stats"]["count"] >= 20
    assert _empty(work)
    assert not [p for p in sshd.session_pids() if b"runner.py" in Path(f"/proc/{p}/cmdline").read_bytes()]



def test_files_travel_without_sftp(nosftp_sshd, tmp_path: Path) -> None:
    """Boards whose SSH server has no sftp subsystem: put/get fall back to cat/base64 over exec."""
    s = nosftp_sshd
    src = tmp_path / "blob.bin"
    src.write_bytes(bytes(range(256)) * 300)
    remote = str(s.root / "work" / "blob.bin")
    t = SshTransport(SshSettings(host="127.0.0.1", port=s.port, key_file=str(s.user_key), known_hosts=str(s.known_hosts),
                                 config_file="/nonexistent"), "nosftp")
    with t:
        t.put(src, remote)
        back = tmp_path / "back.bin"
        t.get(remote, back)
        assert t._sftp is False  # the sftp subsystem really was missing
    assert Path(remote).read_bytes() == src.read_bytes() == back.read_bytes()
