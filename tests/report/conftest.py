"""Report test fixtures: the fixed results folders and a headless Chromium.

Chromium is driven over the DevTools protocol through ``--remote-debugging-pipe`` (fds 3 and 4,
NUL-separated JSON), so no websocket package and no debugging port are needed. Every console
message, uncaught exception, log entry and network request of the page is recorded, which is
what lets a test prove "no console errors and no network requests" rather than assume it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

DATA = Path(__file__).parent / "data"
CHROMIUM = os.environ.get("EDGEQ_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def results_a() -> Path:
    return DATA / "results-a"


@pytest.fixture(scope="session")
def results_b() -> Path:
    return DATA / "results-b"


@pytest.fixture
def copy_results(tmp_path: Path):
    """Copies a fixed results folder into tmp_path so a test may damage it."""

    def _copy(src: Path, name: str | None = None) -> Path:
        dst = tmp_path / (name or src.name)
        shutil.copytree(src, dst)
        return dst

    return _copy


# --------------------------------------------------------------------------------------------
# Headless Chromium over the DevTools protocol (pipe transport)


@dataclass
class PageRun:
    """What happened while a page loaded."""

    url: str
    console: list[dict[str, Any]] = field(default_factory=list)  # {type, text}
    exceptions: list[str] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)  # {level, source, text, url}
    requests: list[str] = field(default_factory=list)  # every URL the page asked for, but itself
    session: str = ""

    @property
    def errors(self) -> list[str]:
        out = [f"console.{c['type']}: {c['text']}" for c in self.console if c["type"] in ("error", "assert")]
        out += [f"exception: {e}" for e in self.exceptions]
        out += [f"log[{e['source']}] {e['level']}: {e['text']} {e.get('url', '')}"
                for e in self.log if e["level"] == "error"]
        return out


class Chromium:
    """One headless Chromium process, driven over ``--remote-debugging-pipe``."""

    def __init__(self, profile_dir: Path) -> None:
        cmd_r, self._cmd_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4. bash moves our pipe ends there
        # before exec (no preexec_fn: it is not safe with the threads a test process has). The ends
        # are first copied to fds >= 10 so moving one can never clobber the other.
        a, b = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(resp_w, fcntl.F_DUPFD, 10)
        os.close(cmd_r)
        os.close(resp_w)
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
                 f"--user-data-dir={profile_dir}", "--remote-debugging-pipe", "--window-size=1280,900"]
        bash = shutil.which("bash") or "/bin/bash"
        self.proc = subprocess.Popen([bash, "-c", f'exec "$0" "$@" 3<&{a} 4>&{b} {a}<&- {b}>&-', CHROMIUM, *flags],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     pass_fds=(a, b))
        os.close(a)
        os.close(b)
        self._id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buf = b""
        while True:
            chunk = os.read(self._resp_r, 1 << 20)
            if not chunk:
                with self._cv:
                    self._replies[-1] = {"error": {"message": "chromium closed the pipe"}}
                    self._cv.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cv:
                        self._replies[msg["id"]] = msg
                        self._cv.notify_all()
                else:
                    self._events.put(msg)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        self._id += 1
        mid = self._id
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cv:
            while mid not in self._replies and -1 not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"chromium did not answer {method} in {timeout:.0f} s")
                self._cv.wait(left)
            reply = self._replies.pop(mid, None) or self._replies[-1]
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open(self, url: str, *, settle: float = 0.4, timeout: float = 30.0) -> PageRun:
        """Loads ``url`` in a new tab, recording console, exceptions, log entries and requests."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        run = PageRun(url, session=session)
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable", session=session)
        self._drain(run, session, until=None, timeout=0.2)
        self.send("Page.navigate", {"url": url}, session=session)
        self._drain(run, session, until="Page.loadEventFired", timeout=timeout)
        self._drain(run, session, until=None, timeout=settle)  # late console messages
        return run

    def _drain(self, run: PageRun, session: str, until: str | None, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if until:
                    raise TimeoutError(f"{until} not received for {run.url} in {timeout:.0f} s")
                return
            try:
                ev = self._events.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            if ev.get("sessionId") != session:
                continue
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                run.console.append({"type": p.get("type"), "text": text})
            elif method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                run.exceptions.append(d.get("exception", {}).get("description") or d.get("text", ""))
            elif method == "Log.entryAdded":
                e = p.get("entry", {})
                run.log.append({"level": e.get("level"), "source": e.get("source"), "text": e.get("text"),
                                "url": e.get("url", "")})
            elif method == "Network.requestWillBeSent":
                u = p.get("request", {}).get("url", "")
                if u != run.url:
                    run.requests.append(u)
            elif method == until:
                return

    def evaluate(self, run: PageRun, expression: str) -> Any:
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=run.session)
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def screenshot(self, run: PageRun, path: Path, *, width: int = 1280) -> Path:
        """A full-page PNG of the loaded page."""
        metrics = self.send("Page.getLayoutMetrics", session=run.session)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": max(width, size["width"]), "height": size["height"], "scale": 1}
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip},
                         session=run.session)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def print_pdf(self, run: PageRun, path: Path) -> bytes:
        """The page printed to PDF (A4, print media styles)."""
        data = self.send("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69, "preferCSSPageSize": True},
                         session=run.session, timeout=60)["data"]
        pdf = base64.b64decode(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pdf)
        return pdf

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._cmd_w, self._resp_r):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """A headless Chromium for the session (Debian's ``chromium``; tests/system-deps.sh installs it)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: run tests/system-deps.sh (or set EDGEQ_CHROMIUM)")
    browser = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        browser.send("Browser.getVersion", timeout=60)
        yield browser
    finally:
        browser.close()
