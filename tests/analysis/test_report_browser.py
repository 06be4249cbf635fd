"""The report of a real (tiny) study, rendered in headless Chromium: the summary table has one row
per variant, the page loads without a console error, exception or failed request, and every image
loads (issue 16). Chromium is driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``), so the test needs no package beyond the standard library; it skips
where no Chromium binary is found (Debian: ``apt-get install chromium``)."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("dassdp.analysis.figures")

from dassdp.analysis.report import build_report  # noqa: E402
from dassdp.cli import main  # noqa: E402

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: flags for a headless Chromium on a machine without a display or network (a fresh profile is added)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)

STUDY = """
name = "tiny_report"
description = "A -> B in Brian2: does a gated rule learn B as well as an ungated one?"
phase = "brian2"
variants = ["none", "dastdp", "dassdp"]
seeds = [0, 1]
sequence = [{ task = "A", epochs = 1 }, { task = "B", epochs = 1 }]

[tasks]
kind = "classes"
scenario = "task"
[tasks.classes]
A = [0, 1, 2, 3, 4]
B = [5, 6, 7, 8, 9]

[network]
hidden = [16, 16]
n_steps = 8

[brian2]
pretrain = ["A"]
pretrain_epochs = 1
train_samples = 30
eval_samples = 20
teacher = 1.0

[brian2.dassdp]
warmup = 10

[calibration]
grid = [1.0, 10.0]
seeds = [100]
"""


def chromium_binary() -> str | None:
    found = [shutil.which(name) for name in BINARIES]
    return next((path for path in found if path), None)


# skipped before any fixture runs, so that the study does not run for nothing
pytestmark = pytest.mark.skipif(
    chromium_binary() is None,
    reason=f"no Chromium binary ({', '.join(BINARIES)}) on PATH; on Debian: apt-get install chromium",
)


class Chromium:
    """A headless Chromium on the DevTools protocol over a pipe: JSON messages, each ended by a
    NUL byte, written to the browser's fd 3 and read from its fd 4."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        # posix_spawn places the browser's ends at fds 3 and 4 (no preexec_fn: this process may run threads);
        # copies at fd >= 10 first, so that placing one cannot overwrite the other
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser, from_browser)]
        os.close(to_browser)
        os.close(from_browser)
        argv = [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
        self.pid = os.posix_spawn(
            binary,
            argv,
            os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, ends[0], 3), (os.POSIX_SPAWN_DUP2, ends[1], 4), *quiet],
        )
        for fd in ends:
            os.close(fd)
        self._buffer = b""
        self._id = 0
        self.events: list[dict] = []

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise ConnectionError("Chromium closed the pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") != self._id:
                self.events.append(answer)
            elif "error" in answer:
                raise RuntimeError(f"{method}: {answer['error']}")
            else:
                return answer["result"]

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            event = self._message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def open(self, url: str, width: int = 1280, height: int = 900) -> str:
        """Load ``url`` in a new tab of ``width`` x ``height`` CSS pixels; return its session."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        self.send("Page.navigate", {"url": url}, session)
        self.wait_for("Page.loadEventFired")
        return session

    def evaluate(self, session: str, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        return result["result"]["value"]

    def screenshot(self, session: str, path: Path, full_page: bool = False) -> Path:
        params: dict = {"format": "png"}
        if full_page:
            width, height = self.evaluate(
                session, "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params |= {
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            }
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", params, session)["data"]))
        return path

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads reported so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (ConnectionError, TimeoutError, RuntimeError):
            pass
        deadline = time.monotonic() + 10
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            time.sleep(0.05)
        os.close(self._read)
        os.close(self._write)


@pytest.fixture
def chromium(tmp_path):
    browser = Chromium(chromium_binary(), tmp_path / "profile")
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """A real Brian2 study: 3 variants (DA-STDP's dopamine, DA-SSDP's gate) x 2 seeds, calibrated."""
    root = tmp_path_factory.mktemp("tiny_report")
    (root / "s.toml").write_text(STUDY)
    assert main(["run", str(root / "s.toml"), "--out", str(root / "out"), "--quiet", "--workers", "2"]) == 0
    return root / "out"


def test_report_renders_in_chromium(tiny_study, chromium, tmp_path):
    html, _ = build_report(tiny_study)
    session = chromium.open(html.as_uri())
    page = chromium.evaluate(
        session,
        """({
        rows: [...document.querySelectorAll('table.summary tbody tr th')].map(th => th.textContent),
        images: [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,
                                                 src: i.getAttribute('src').slice(0, 22)})),
        sections: [...document.querySelectorAll('h2')].map(h => h.textContent),
        external: [...document.querySelectorAll('script, link, iframe')].length,
    })""",
    )
    assert chromium.errors() == []
    variants = ["none", "dastdp", "dassdp"]
    assert [row.removesuffix(" (reference)") for row in page["rows"]] == variants
    figures = sorted(p.stem for p in (html.parent / "figures").glob("*.png"))
    assert sorted(i["alt"] for i in page["images"]) == figures
    for image in page["images"]:
        assert image["complete"] and image["width"] > 0, image
        assert image["src"] == "data:image/png;base64,"  # embedded: the page opens offline
    assert page["external"] == 0
    for section in (
        "Accuracy matrices",
        "Learning curves",
        "Weights",
        "DA-SSDP gate and DA-STDP dopamine",
        "Synchrony over training",
        "Gate diagnostics",
        "Calibration",
    ):
        assert section in page["sections"]
    shot = chromium.screenshot(session, tmp_path / "first_screen.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = pd.read_parquet(tiny_study / "summary.parquet")
    assert set(summary.variant) == set(variants)
