"""The SSH transport (paramiko), honouring ``~/.ssh/config`` and refusing hosts it does not know.

Host keys are checked against known_hosts with :class:`paramiko.RejectPolicy`: edgeq never adds
a key by itself, because silently trusting a new key is exactly what a man-in-the-middle needs.
An unknown host is refused with the ``ssh-keyscan`` command that trusts it. Authentication is by
key file or ssh-agent (no passwords are asked for or stored).
"""

from __future__ import annotations

import shlex
import socket
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from edgeq.devices.profiles import SshSettings
from edgeq.devices.transport import BaseTransport, CommandResult, LineQueue, PidMarkedOutput, env_argv, pid_wrapped
from edgeq.errors import DeviceCommandFailed, DeviceUnreachable, ProfileInvalid


def _expand(path: str) -> str:
    return str(Path(path).expanduser()) if path else ""


class SshProcess(PidMarkedOutput):
    """A command started over its own SSH channel; its stdin stays open until terminate()."""

    def __init__(self, owner: "SshTransport", channel: Any, argv: list[str]) -> None:
        self._owner = owner
        self._chan = channel
        self.argv = tuple(argv)
        self.pid: int | None = None
        self._err: list[str] = []
        self._out = LineQueue(channel.makefile("rb"), on_line=self._pid_line)
        self._err_thread = threading.Thread(target=self._pump_err, args=(channel.makefile_stderr("rb"),), daemon=True)
        self._err_thread.start()

    def _pump_err(self, stream: Any) -> None:
        try:
            for raw in stream:
                self._err.append(raw.decode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - dropped connection ends stderr too
            pass

    def readline(self, timeout: float) -> str | None:
        return self._out.readline(timeout)

    def terminate(self) -> None:
        if self._chan.closed:
            return
        if self.pid is not None and self._owner.alive():
            for sig in ("TERM", "KILL"):
                try:
                    self._owner.run(["kill", f"-{sig}", str(self.pid)], timeout=10)
                except (DeviceUnreachable, DeviceCommandFailed):
                    break
                if self._chan.status_event.wait(3.0):
                    break
        self._chan.close()

    def wait(self, timeout: float) -> CommandResult:
        if not self._chan.status_event.wait(timeout):
            self.terminate()
        self._err_thread.join(2)
        code = self._chan.exit_status if self._chan.exit_status_ready() else -1
        rest = self._out.drain(1.0)
        if code == -1 and not self._owner.alive():
            raise DeviceUnreachable(
                f"the connection to {self._owner.label} dropped while '{Path(self.argv[0]).name}' was running",
                hint="check the device's network and power, then run again",
            )
        self._chan.close()
        return CommandResult(self.argv, code, "\n".join(rest), "".join(self._err))


class SshTransport(BaseTransport):
    """Commands and files over one SSH connection, opened on first use."""

    kind = "ssh"

    def __init__(self, settings: SshSettings, name: str = "ssh") -> None:
        super().__init__()
        self.settings = settings
        self.name = name
        self.label = f"device '{name}' ({settings.host})"
        self._client: Any = None
        self._sftp: Any = None
        self.resolved: dict[str, Any] = {}

    # -- connection -------------------------------------------------------------------------

    def resolve(self) -> dict[str, Any]:
        """Host, port, user, key files and known_hosts after applying ``~/.ssh/config``."""
        import paramiko

        s = self.settings
        cfg_path = Path(_expand(s.config_file or "~/.ssh/config"))
        host_cfg: dict[str, Any] = {}
        if cfg_path.is_file():
            try:
                host_cfg = dict(paramiko.SSHConfig.from_path(str(cfg_path)).lookup(s.host))
            except Exception as exc:  # noqa: BLE001 - paramiko raises several types for bad configs
                raise DeviceUnreachable(f"cannot read SSH config {cfg_path}: {exc}", hint="fix the file, or set ssh.config_file in the profile") from None
        port = s.port or int(host_cfg.get("port", 22))
        keys = [_expand(s.key_file)] if s.key_file else [k for k in map(_expand, host_cfg.get("identityfile", [])) if Path(k).is_file()]
        known = s.known_hosts or (host_cfg.get("userknownhostsfile", "").split() or ["~/.ssh/known_hosts"])[0]
        return {
            "hostname": host_cfg.get("hostname", s.host),
            "port": port,
            "user": s.user or host_cfg.get("user") or _local_user(),
            "keys": keys,
            "known_hosts": _expand(known),
            "proxycommand": host_cfg.get("proxycommand"),
        }

    def _connect(self) -> None:
        import paramiko

        r = self.resolved = self.resolve()
        host, port, user = r["hostname"], r["port"], r["user"]
        where = f"{user}@{host}:{port}"
        self.label = f"device '{self.name}' ({where})"
        missing = [k for k in r["keys"] if not Path(k).is_file()]
        if missing:  # before connecting: paramiko would report it as a network error (ENOENT)
            raise ProfileInvalid(
                f"SSH key file {missing[0]} of device '{self.name}' does not exist",
                hint=f"fix ssh.key_file in the profile of '{self.name}' (edgeq devices show {self.name}), "
                     f"or create the key: ssh-keygen -t ed25519 -f {missing[0]}",
            )
        client = paramiko.SSHClient()
        if Path(r["known_hosts"]).is_file():
            try:
                client.load_system_host_keys(r["known_hosts"])
            except Exception as exc:  # noqa: BLE001
                raise DeviceUnreachable(f"cannot read known_hosts file {r['known_hosts']}: {exc}",
                                        hint="fix or remove the bad line in that file (ssh-keygen -R HOST removes a host's keys)") from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        sock = paramiko.ProxyCommand(r["proxycommand"]) if r["proxycommand"] else None
        t = self.settings.connect_timeout
        try:
            client.connect(
                host, port=port, username=user, key_filename=r["keys"] or None, timeout=t, banner_timeout=t,
                auth_timeout=t, allow_agent=True, look_for_keys=not r["keys"], sock=sock,
            )
        except paramiko.BadHostKeyException:
            client.close()
            target = host if port == 22 else f"[{host}]:{port}"
            raise DeviceUnreachable(
                f"the host key of {host}:{port} does NOT match the one in {r['known_hosts']} (possible man-in-the-middle)",
                hint=f"if the device was reinstalled, remove the old key with: ssh-keygen -f {r['known_hosts']} -R '{target}', then trust the new one",
            ) from None
        except paramiko.PasswordRequiredException:
            client.close()
            raise DeviceUnreachable(
                f"the SSH key for {where} is protected by a passphrase", hint="load it into your agent first: ssh-add " + (r["keys"][0] if r["keys"] else "")
            ) from None
        except paramiko.AuthenticationException:
            client.close()
            raise DeviceUnreachable(
                f"authentication to {where} failed (no accepted key)",
                hint=f"install your public key on the device (ssh-copy-id -p {port} {user}@{host}), set ssh.key_file in the profile, or add the key to ssh-agent",
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "known_hosts" in str(exc) or "not found in" in str(exc):
                raise DeviceUnreachable(
                    f"the host key of {host}:{port} is unknown, so edgeq refuses to connect",
                    hint=f"check the device, then trust it with: mkdir -p {Path(r['known_hosts']).parent} && "
                         f"ssh-keyscan -p {port} {host} >> {r['known_hosts']}",
                ) from None
            raise DeviceUnreachable(f"SSH to {where} failed: {exc}", hint="check that an SSH server runs on the device") from None
        except socket.gaierror:
            client.close()
            raise DeviceUnreachable(f"cannot resolve host name '{host}'", hint="check ssh.host in the profile, or add a Host entry to ~/.ssh/config") from None
        except (OSError, EOFError) as exc:
            client.close()
            why = "timed out" if isinstance(exc, (socket.timeout, TimeoutError)) else (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
            raise DeviceUnreachable(
                f"cannot connect to {host}:{port}: {why}",
                hint="check that the device is on, reachable from this host, and runs an SSH server on that port",
            ) from None
        transport = client.get_transport()
        if transport is not None and self.settings.keepalive > 0:
            transport.set_keepalive(int(max(1, self.settings.keepalive)))
        self._client = client

    def _disconnect(self) -> None:
        for obj in (self._sftp, self._client):
            try:
                if obj is not None:
                    obj.close()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass
        self._sftp = self._client = None

    def alive(self) -> bool:
        t = self._client.get_transport() if self._client is not None else None
        return bool(t is not None and t.is_active())

    def _dropped(self, what: str) -> DeviceUnreachable:
        return DeviceUnreachable(f"the connection to {self.label} dropped during {what}", hint="check the device's network and power, then run again")

    def _channel(self, what: str, timeout: float | None) -> Any:
        self.open()
        if not self.alive():
            raise self._dropped(what)
        try:
            return self._client.get_transport().open_session(timeout=timeout or self.settings.connect_timeout)
        except Exception:  # noqa: BLE001
            raise self._dropped(what) from None

    # -- commands and files -----------------------------------------------------------------

    def run(self, argv: list[str], timeout: float | None = None, *, env: Mapping[str, str] | None = None) -> CommandResult:
        cmd = shlex.join(env_argv(argv, env))
        chan = self._channel(f"'{argv[0]}'", timeout)
        try:
            chan.exec_command(cmd)
            chan.shutdown_write()
            out: list[bytes] = []
            err: list[bytes] = []
            pumps = [threading.Thread(target=_read_all, args=(f, buf), daemon=True)
                     for f, buf in ((chan.makefile("rb"), out), (chan.makefile_stderr("rb"), err))]
            for t in pumps:
                t.start()
            deadline = None if timeout is None else time.monotonic() + timeout
            while pumps[0].is_alive():
                pumps[0].join(0.2)
                if deadline is not None and time.monotonic() > deadline:
                    raise DeviceCommandFailed(
                        f"'{argv[0]}' did not finish within {timeout:g} s on {self.label}",
                        hint="raise command_timeout in the device profile if the device is just slow",
                    )
            pumps[1].join(2)
            if not chan.status_event.wait(10) or (chan.exit_status == -1 and not self.alive()):
                raise self._dropped(f"'{argv[0]}'")
            dec = lambda bufs: b"".join(bufs).decode("utf-8", "replace")  # noqa: E731
            return CommandResult(tuple(argv), chan.exit_status, dec(out), dec(err))
        finally:
            chan.close()

    def start(self, argv: list[str], *, env: Mapping[str, str] | None = None) -> SshProcess:
        full = env_argv(argv, env)
        chan = self._channel(f"'{argv[0]}'", None)
        chan.exec_command(shlex.join(pid_wrapped(full)))
        return SshProcess(self, chan, full)

    def _sftp_client(self) -> Any:
        if self._sftp is None:
            try:
                self._sftp = self._client.open_sftp()
            except Exception:  # noqa: BLE001 - no sftp subsystem (e.g. dropbear): fall back to cat
                self._sftp = False
        return self._sftp

    def put(self, local: Path, remote: str) -> None:
        self.open()
        try:
            sftp = self._sftp_client()
            if sftp:
                sftp.put(str(local), remote)
                return
            chan = self._channel("upload", None)
            try:
                chan.exec_command(shlex.join(["sh", "-c", 'cat > "$1"', "sh", remote]))
                with open(local, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 16), b""):
                        chan.sendall(chunk)
                chan.shutdown_write()
                if chan.recv_exit_status() != 0:
                    raise DeviceCommandFailed(f"cannot write {remote} on {self.label}", hint="check work_dir in the device profile")
            finally:
                chan.close()
        except (OSError, EOFError) as exc:
            if not self.alive():
                raise self._dropped(f"upload of {Path(local).name}") from None
            raise DeviceCommandFailed(f"cannot upload {Path(local).name} to {remote} on {self.label}: {exc}", hint="check work_dir in the device profile and free space on the device") from None

    def get(self, remote: str, local: Path) -> None:
        self.open()
        try:
            sftp = self._sftp_client()
            if sftp:
                sftp.get(remote, str(local))
                return
            res = self.run(["base64", remote], timeout=600)
            self.check(res, f"reading {remote}")
            import base64

            Path(local).write_bytes(base64.b64decode(res.stdout))
        except (OSError, EOFError) as exc:
            if not self.alive():
                raise self._dropped(f"download of {remote}") from None
            raise DeviceCommandFailed(f"cannot download {remote} from {self.label}: {exc}",
                                      hint=f"check free space on this host and run 'edgeq devices check {self.name}'") from None


def _read_all(stream: Any, into: list[bytes]) -> None:
    try:
        into.append(stream.read())
    except Exception:  # noqa: BLE001 - a dropped connection ends the stream
        pass


def _local_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "root"
