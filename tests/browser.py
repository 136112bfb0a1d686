"""A real headless browser for tests: Chromium driven over the DevTools protocol.

Starts Debian's ``chromium`` with ``--remote-debugging-port=0`` (it writes the port it
chose to ``DevToolsActivePort`` in its profile folder, on the loopback interface only),
talks to it over a WebSocket written here with the standard library (the protocol needs
four messages types; no client package is required), and reports what a page did:
console messages, uncaught exceptions and browser log entries of level error, the result
of a DOM query, and a PNG screenshot. Used by ``tests/unit/report/test_page_in_browser.py``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The path of a Chromium binary on PATH, or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageVisit:
    """What happened while a page loaded."""

    errors: list[str] = field(default_factory=list)  # console errors, exceptions, log errors
    messages: list[str] = field(default_factory=list)  # every console message
    requests: list[str] = field(default_factory=list)  # URLs the page asked for
    value: Any = None  # result of the DOM query
    screenshot: bytes = b""


class _WebSocket:
    """A minimal RFC 6455 client: text frames out (masked), text frames in."""

    def __init__(self, host: str, port: int, path: str, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:80]!r}")

    def send(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        header = bytes([0x81])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("websocket closed")
            out += chunk
        return out

    def receive(self) -> str:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            if b1 & 0x80:
                self._exact(4)  # servers do not mask, but be lenient
            payload = self._exact(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if opcode in (0x9, 0xA):  # ping / pong: ignore
                continue
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts).decode()

    def close(self) -> None:
        self.sock.close()


class Browser:
    """One headless Chromium; :meth:`visit` opens a page in a fresh tab."""

    def __init__(self, binary: str, profile: Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",  # CI runs as root in a container
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Chromium puts its singleton socket folder in $TMPDIR: keep it inside the
            # throwaway profile, so nothing is left in /tmp after the test.
            env={**os.environ, "TMPDIR": str(profile)},
            # its own process group: close() stops Chromium's helper processes too, which
            # otherwise may still write into the profile while it is being removed
            start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = _WebSocket("127.0.0.1", int(port), path, timeout)
        self._id = 0
        self._events: list[dict[str, Any]] = []

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer (events meanwhile are kept)."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            answer = json.loads(self.ws.receive())
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))
            self._events.append(answer)

    def _wait_for(self, method: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == method and e.get("sessionId") == session
                   for e in self._events):
                return
            self._events.append(json.loads(self.ws.receive()))
        raise TimeoutError(f"no {method} within {self.timeout} s")

    def visit(self, url: str, query: str, *, width: int = 1280, height: int = 900) -> PageVisit:
        """Load ``url``, run the JavaScript expression ``query`` once it has loaded (its
        JSON-able value is returned), take a full-page screenshot, and collect errors."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session)
        self.call("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self._events.clear()
        self.call("Page.navigate", session, url=url)
        self._wait_for("Page.loadEventFired", session)
        value = self.call("Runtime.evaluate", session, expression=query, returnByValue=True)
        metrics = self.call("Page.getLayoutMetrics", session)["cssContentSize"]
        shot = self.call(
            "Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"],
                  "scale": 1},
        )
        visit = PageVisit(
            value=value.get("result", {}).get("value"),
            screenshot=base64.b64decode(shot["data"]),
        )
        for event in self._events:
            if event.get("sessionId") != session:
                continue
            params = event.get("params", {})
            method = event.get("method")
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in
                                params.get("args", []))
                visit.messages.append(f"{params.get('type')}: {text}")
                if params.get("type") in ("error", "assert"):
                    visit.errors.append(f"console.{params.get('type')}: {text}")
            elif method == "Runtime.exceptionThrown":
                visit.errors.append(f"exception: {params.get('exceptionDetails', {})}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                visit.errors.append(f"log ({entry.get('source')}): {entry.get('text')}")
            elif method == "Network.requestWillBeSent":
                visit.requests.append(params.get("request", {}).get("url", ""))
        self.call("Target.closeTarget", targetId=target)
        return visit

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        deadline = time.monotonic() + 10
        while self._signal_group(0) and time.monotonic() < deadline:
            time.sleep(0.05)  # helpers still exiting
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: int) -> bool:
        """Send ``sig`` to Chromium's process group; False once none of it is left."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return False
        return True


@contextmanager
def chromium(binary: str) -> Iterator[Browser]:
    """A headless Chromium for the duration of the block, with a throwaway profile."""
    with tempfile.TemporaryDirectory(prefix="hashmatch-chromium-") as profile:
        browser = Browser(binary, Path(profile))
        try:
            yield browser
        finally:
            browser.close()
