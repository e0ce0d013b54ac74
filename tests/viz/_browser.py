"""Load a page in headless Chromium and inspect it over the DevTools protocol.

Only the standard library: Chromium is started with ``--remote-debugging-port=0``
(it writes the port it chose to ``DevToolsActivePort`` in its profile folder),
and the page's target is driven over a minimal WebSocket client (RFC 6455:
masked text frames out, unmasked frames in).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path


def chromium() -> str | None:
    """The path of Debian's chromium (or chromium-browser), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _WebSocket:
    """Just enough of a WebSocket client for the DevTools protocol."""

    def __init__(self, url: str, timeout: float):
        assert url.startswith("ws://"), url
        host_port, _, path = url[len("ws://"):].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode("ascii"))
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"no WebSocket handshake from {url}: {response!r}")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"WebSocket handshake refused: {head.decode(errors='replace')}")

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the browser closed the WebSocket")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, text: str) -> None:
        payload = text.encode("utf-8")
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def receive(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            opcode, n = first & 0x0F, second & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._read(8))
            mask = self._read(4) if second & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("the browser closed the WebSocket")
            if opcode in (0x9, 0xA):  # ping, pong: not part of a message
                continue
            message += payload
            if first & 0x80:
                return message.decode("utf-8")

    def close(self) -> None:
        self.sock.close()


#: Collected in the page once it has loaded: every image's decoded size, every
#: in-page link's target, the download links' data and the page's height.
_INSPECT = """(async () => {
  const images = await Promise.all([...document.images].map(async (img) => {
    let decoded = true;
    try { await img.decode(); } catch (e) { decoded = false; }
    return {alt: img.alt, complete: img.complete, decoded: decoded,
            naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
            width: img.getBoundingClientRect().width};
  }));
  const links = [...document.querySelectorAll('a[href^="#"]')].map((a) => {
    const target = document.getElementById(a.getAttribute('href').slice(1));
    return {href: a.getAttribute('href'), text: a.textContent,
            target: target ? target.tagName.toLowerCase() : null};
  });
  const downloads = await Promise.all([...document.querySelectorAll('a[download]')].map(
    async (a) => ({name: a.getAttribute('download'),
                   text: await (await fetch(a.href)).text()})));
  return {images, links, downloads, title: document.title,
          height: document.documentElement.scrollHeight,
          sections: [...document.querySelectorAll('section[id]')].map((s) => s.id)};
})()"""


def inspect_page(page: Path, workdir: Path, *, timeout: float = 60.0) -> dict:
    """Open ``page`` in headless Chromium; return what it shows and what went wrong.

    Returns
    -------
    dict
        ``images``, ``links``, ``downloads``, ``title``, ``height`` and
        ``sections`` as :data:`_INSPECT` collects them, and ``errors``: every
        console message of level error or warning, uncaught exception and
        browser log entry of level error (failed loads among them), as text.
    """
    profile = workdir / "chromium-profile"
    profile.mkdir()
    log = (workdir / "chromium.log").open("wb")
    process = subprocess.Popen(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1280,900",
         "about:blank"],
        stdout=log, stderr=log)
    deadline = time.monotonic() + timeout
    socket_ = None
    try:
        port_file = profile / "DevToolsActivePort"
        while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its debugging port; see "
                                   f"{workdir / 'chromium.log'}")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        socket_ = _WebSocket(url, timeout=timeout)
        errors, ids = [], iter(range(1, 1 << 30))

        def record(event):
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning",
                                                                              "assert"):
                errors.append(f"console.{params['type']}: " + " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                errors.append("exception: " + details.get("exception", {}).get(
                    "description", details.get("text", "")))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                errors.append(f"log ({entry['source']}): {entry['text']} {entry.get('url', '')}")
            return method

        def call(method, wait_for=None, **params):
            """Send one command; return its result (and wait for an event, if named)."""
            number = next(ids)
            socket_.send(json.dumps({"id": number, "method": method, "params": params}))
            result, seen = None, wait_for is None
            while result is None or not seen:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chromium did not answer {method} in {timeout} s")
                message = json.loads(socket_.receive())
                if message.get("id") == number:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    result = message["result"]
                elif record(message) == wait_for:
                    seen = True
            return result

        for domain in ("Runtime", "Log", "Page"):
            call(f"{domain}.enable")
        call("Page.navigate", wait_for="Page.loadEventFired", url=page.resolve().as_uri())
        answer = call("Runtime.evaluate", expression=_INSPECT, awaitPromise=True,
                      returnByValue=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"the inspection failed: {answer['exceptionDetails']}")
        # events the page raised while it was inspected arrive before the answer
        return {**answer["result"]["value"], "errors": errors}
    finally:
        if socket_ is not None:
            socket_.close()
        process.kill()
        process.wait(timeout=30)
        log.close()
