"""Headless Chromium over the DevTools protocol on a pipe: no driver, no websocket library.

Started with ``--remote-debugging-pipe``, Chromium reads protocol commands
on its fd 3 and writes replies and events on its fd 4, one JSON object per
message, each ended by a NUL byte. That is all a test needs to load a page,
ask the laid-out DOM questions and take a screenshot, with the browser the
system has (Debian's ``chromium``) and nothing downloaded.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import pytest

FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def chromium_or_skip() -> str:
    """The Chromium executable: a loud skip without one, a failure in CI (``.ci/run`` has one)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is not None:
        return found
    message = "chromium is not installed (Debian package `chromium`)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: the browser tests must run in CI)")
    pytest.skip("LOUD SKIP: " + message)


_ON_FDS_3_AND_4: Final = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.close(int(sys.argv[1])); os.close(int(sys.argv[2])); os.execv(sys.argv[3], sys.argv[3:])"
)
"""Put the two pipe ends on fds 3 and 4, then become Chromium.

``subprocess`` keeps inherited fds at their numbers, and ``sh`` (dash)
cannot redirect fds above 9, so a two-line Python trampoline does it.
"""


def _high_fd(fd: int) -> int:
    """``fd`` moved to 10 or above, so that placing it on the child's fd 3 or 4 clobbers nothing."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """One headless browser with a fresh profile, closed when the ``with`` block ends."""

    def __init__(self, executable: str, profile: Path, timeout: float = 30.0) -> None:
        self._executable = executable
        self._profile = profile
        self._timeout = timeout
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        self._profile.mkdir(parents=True, exist_ok=True)
        browser_reads, commands = (_high_fd(fd) for fd in os.pipe())
        replies, browser_writes = (_high_fd(fd) for fd in os.pipe())
        self._log = (self._profile / "chromium.log").open("wb")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _ON_FDS_3_AND_4,
                str(browser_reads),
                str(browser_writes),
                self._executable,
                *FLAGS,
                f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            pass_fds=(browser_reads, browser_writes),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        os.close(browser_reads)
        os.close(browser_writes)
        self._commands, self._replies = commands, replies
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._send("Browser.close", {}, None)
            self._process.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait(10)
        finally:
            os.close(self._commands)
            os.close(self._replies)
            self._log.close()

    def log_tail(self) -> str:
        return (self._profile / "chromium.log").read_text(errors="replace")[-2000:]

    def _send(self, method: str, params: dict[str, Any], session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._replies], [], [], max(remaining, 0))
            if not ready:
                raise AssertionError(
                    f"chromium did not answer in time; its log:\n{self.log_tail()}"
                )
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                raise AssertionError(f"chromium closed its pipe; its log:\n{self.log_tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and return its ``result``; events that arrive meanwhile are kept."""
        sent = self._send(method, params or {}, session)
        deadline = time.monotonic() + self._timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") != sent:
                self._events.append(message)
                continue
            if "error" in message:
                raise AssertionError(f"{method}: {message['error']}")
            result: dict[str, Any] = message["result"]
            return result

    def wait_event(self, method: str, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + self._timeout
        while True:
            for index, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self._events.pop(index)
            self._events.append(self._receive(deadline))

    def open(self, url: str, width: int = 1280, height: int = 900) -> Tab:
        """A new tab at ``width`` x ``height`` that has loaded ``url`` (its load event fired)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        tab = Tab(self, session)
        tab.call("Page.enable")
        tab.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        navigated = tab.call("Page.navigate", {"url": url})
        if navigated.get("errorText"):
            raise AssertionError(f"chromium could not open {url}: {navigated['errorText']}")
        self.wait_event("Page.loadEventFired", session)
        return tab


class Tab:
    def __init__(self, browser: Chromium, session: str) -> None:
        self._browser = browser
        self._session = session

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._browser.call(method, params, self._session)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression evaluated in the page."""
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """The whole page as PNG, however long it is."""
        width, height = self.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        shot = self.call("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
