"""The HTML report in a real browser: headless Chromium loads it from disk with no console error and
no failed or outside request, and a screenshot shows the leaderboards and every plot.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ending in a NUL byte on file descriptors 3 and 4), so the test needs no
client library and opens no port. The full-page screenshot is kept as a CI artefact
in ``$REPORT_SCREENSHOT_DIR`` (default ``reports/ci/``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from suite.reporting import write_report
from tests.report_fixtures import FAMILIES, build_run

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)
SCREENSHOT_DIR = Path(os.environ.get("REPORT_SCREENSHOT_DIR") or Path(__file__).resolve().parents[1] / "reports" / "ci")
WIDTH = 1280
TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run installs it)"
)

#: Evaluated in the page: where each leaderboard and plot is, and whether it shows.
CHECKS = """JSON.stringify({
  tables: [...document.querySelectorAll('table.leaderboard')].map(t => {
    const r = t.getBoundingClientRect(), s = getComputedStyle(t);
    return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height, rows: t.tBodies[0].rows.length,
            shown: s.visibility === 'visible' && s.display !== 'none'};
  }),
  plots: [...document.querySelectorAll('figure.plot')].map(f => {
    const img = f.querySelector('img'); const r = img ? img.getBoundingClientRect() : null;
    return {id: f.id, img: !!img, loaded: !!img && img.complete && img.naturalWidth > 0,
            x: r ? r.left + scrollX : 0, y: r ? r.top + scrollY : 0, w: r ? r.width : 0, h: r ? r.height : 0};
  }),
  scripts: document.scripts.length,
  height: document.documentElement.scrollHeight,
})"""


class Browser:
    """A headless Chromium and a DevTools-protocol session over its pipe."""

    def __init__(self, binary: str, profile: Path) -> None:
        low_read, self._write = os.pipe()
        self._read, low_write = os.pipe()
        # Moved above 9, so that putting one end on 3 cannot clobber the other.
        to_chrome_read, from_chrome_write = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (low_read, low_write))
        os.close(low_read)
        os.close(low_write)
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", f"--user-data-dir={profile}",
                 "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio", "about:blank"]  # fmt: skip

        def on_3_and_4() -> None:  # in the child, before exec: where Chromium expects the pipe ends
            os.dup2(to_chrome_read, 3)
            os.dup2(from_chrome_write, 4)

        # close_fds=False keeps 3 and 4 open across exec; every other descriptor Python
        # opened is non-inheritable (PEP 446) and still closes.
        self.process = subprocess.Popen(
            [binary, *flags],
            close_fds=False,
            preexec_fn=on_3_and_4,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise ConnectionError("chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict[str, Any] | None = None, browser: bool = False) -> dict[str, Any]:
        """Call ``method`` (on the page's session unless ``browser``) and return its result; events are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if not browser and self.session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError, ConnectionError):
            self.send("Browser.close", browser=True)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)


def problems(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions, failed requests and any request that is not the file itself or inline."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            found.append(f"console {params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params.get('exceptionDetails')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            found.append(f"log: {params['entry'].get('text')}")
        elif method == "Network.loadingFailed":
            found.append(f"failed request: {params.get('errorText')}")
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(("file://", "data:")):
                found.append(f"request to {url}")
    return found


def drawn(image: Image.Image, box: dict[str, float]) -> bool:
    """True when the region of the screenshot holds more than one colour: something is painted there."""
    region = image.crop((int(box["x"]), int(box["y"]), int(box["x"] + box["w"]), int(box["y"] + box["h"]))).convert("L")
    low, high = region.getextrema()
    return high - low > 100 and len(region.getcolors(1 << 16) or []) > 10


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a default-like run (every family, 100k params) with one failed trial and latency measured."""
    root = tmp_path_factory.mktemp("browser")
    run = build_run(root / "results", models=list(FAMILIES), seeds=[0, 1], failed=[("rnn", 1)])
    return write_report([run], out=root / "report").folder / "index.html"


def test_report_in_headless_chromium(report_page: Path, tmp_path: Path) -> None:
    browser = Browser(str(CHROMIUM), tmp_path / "profile")
    try:
        browser.open(report_page.as_uri())
        page = json.loads(browser.send("Runtime.evaluate", {"expression": CHECKS, "returnByValue": True})["result"]["value"])
        height = min(int(page["height"]), 16000)  # Chromium's largest capture
        browser.send(
            "Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False}
        )
        shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                            "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}})  # fmt: skip
        events = list(browser.events)
    finally:
        browser.close()
    png = base64.b64decode(shot["data"])
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    (SCREENSHOT_DIR / "report-screenshot.png").write_bytes(png)

    assert problems(events) == []
    assert page["scripts"] == 0
    assert len(page["tables"]) == 1 and page["tables"][0]["rows"] == len(FAMILIES) and page["tables"][0]["shown"]
    plots = {p["id"].removeprefix("fsdd-official-"): p for p in page["plots"]}
    assert set(plots) == {"accuracy-vs-params", "accuracy-vs-macs", "accuracy-vs-latency", "latency-by-batch",
                          "learning-curves", "confusion-best", "budget-match"}  # fmt: skip
    image = Image.open(io.BytesIO(png))
    assert image.size == (WIDTH, height)
    for name, plot in plots.items():
        assert plot["img"] and plot["loaded"], name
        assert plot["w"] >= 300 and plot["h"] >= 200 and plot["y"] + plot["h"] <= height, (name, plot)
        assert drawn(image, plot), f"{name}: nothing painted where the plot should be"
    assert drawn(image, page["tables"][0]), "the leaderboard is blank on the screenshot"


def test_the_browser_check_catches_errors_and_fetches(tmp_path: Path) -> None:
    """The same check on a page that logs an error and asks for an outside image: both are reported."""
    page = tmp_path / "bad.html"
    page.write_text('<html><body><img src="http://127.0.0.1:9/x.png"><img src="missing.png"></body></html>')
    browser = Browser(str(CHROMIUM), tmp_path / "profile")
    try:
        browser.open(page.as_uri())
        browser.send("Runtime.evaluate", {"expression": "console.error('boom')"})
        browser.send("Runtime.evaluate", {"expression": "1"})  # lets the console event arrive before we look
        events = list(browser.events)
    finally:
        browser.close()
    found = problems(events)
    assert any("console error" in p and "boom" in p for p in found), found
    assert any("request to http://127.0.0.1:9/x.png" in p for p in found), found
    assert any("failed request" in p for p in found), found
