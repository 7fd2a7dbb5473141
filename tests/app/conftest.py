"""The real tray app (`nuvosync-app --demo`) driven through WebDriver.

One X server (Xvfb, unless DISPLAY is set) and one tauri-driver for the whole run; a fresh
app, demo folder and in-process Dropbox emulator per test. The app's web view is the real
WebKitGTK one and every button press goes through Tauri's IPC into the engine.

Environment:
  NUVOSYNC_APP_BIN   the app binary (default: target/debug/nuvosync-app)
  TAURI_DRIVER       the tauri-driver binary (default: on PATH or ~/.cargo/bin)
  APP_SCREENSHOTS    where screenshots go: each screen the tests visit (app-*.png) and each
                     test's last screen (default: target/app-screenshots)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests
import urllib3
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.webelement import WebElement

REPO = Path(__file__).resolve().parents[2]
TARGET = REPO / os.environ.get("CARGO_TARGET_DIR", "target")  # an absolute CARGO_TARGET_DIR wins
APP_BIN = Path(os.environ.get("NUVOSYNC_APP_BIN", TARGET / "debug" / "nuvosync-app"))
REMOTE = "/Demo Org/Demo Space/Demo Instance"
SHOTS = Path(os.environ.get("APP_SCREENSHOTS") or REPO / "target" / "app-screenshots")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check: Callable[[], object], timeout: float = 30.0, every: float = 0.2):
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (WebDriverException, OSError, requests.RequestException, ValueError, KeyError) as e:
            last_error = e
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """An X display: the caller's, or a private Xvfb."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        pytest.fail("Xvfb is missing: apt-get install -y xvfb (or set DISPLAY)")
    for n in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    proc = subprocess.Popen([xvfb, f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for("Xvfb to start", lambda: Path(f"/tmp/.X11-unix/X{n}").exists(), timeout=20)
    os.environ["DISPLAY"] = f":{n}"
    yield f":{n}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def driver_url(display: str) -> Iterator[str]:
    """A running tauri-driver (which starts WebKitWebDriver for each session)."""
    exe = os.environ.get("TAURI_DRIVER") or shutil.which("tauri-driver") or str(Path.home() / ".cargo/bin/tauri-driver")
    if not Path(exe).exists():
        pytest.fail("tauri-driver is missing: cargo install tauri-driver --version '^2' --locked")
    if not shutil.which("WebKitWebDriver"):
        pytest.fail("WebKitWebDriver is missing: apt-get install -y webkit2gtk-driver")
    if not APP_BIN.exists():
        pytest.fail(f"no app at {APP_BIN}: cargo build -p nuvosync-app --features demo (or set NUVOSYNC_APP_BIN)")
    port, native = free_port(), free_port()
    log = tempfile.NamedTemporaryFile(prefix="tauri-driver-", suffix=".log", delete=False)
    proc = subprocess.Popen([exe, "--port", str(port), "--native-port", str(native)], stdout=log, stderr=log)

    def up() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    wait_for("tauri-driver to listen", up, timeout=20)
    yield f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


class Dropbox:
    """A co-author's view of the demo account: plain HTTPS calls to the emulator."""

    def __init__(self, info: dict):
        self.url = info["emulator"].rstrip("/")
        self.verify = info["ca_file"] or True
        self.headers = {"Authorization": f"Bearer {info['token']}"}
        self.admin = {"Authorization": f"Bearer {info['admin_token']}"}

    def faults(self, faults: dict) -> None:
        """Set the emulator's faults (latency, errors…); the rest go back to none."""
        r = requests.post(f"{self.url}/admin/faults", json=faults, headers=self.admin, verify=self.verify, timeout=30)
        r.raise_for_status()

    def rpc(self, route: str, arg: dict) -> requests.Response:
        return requests.post(f"{self.url}/2/{route}", json=arg, headers=self.headers, verify=self.verify, timeout=30)

    def upload(self, rel: str, data: bytes, mode: str = "overwrite") -> dict:
        arg = {"path": f"{REMOTE}/{rel}", "mode": mode, "mute": False}
        headers = {**self.headers, "Dropbox-API-Arg": json.dumps(arg), "Content-Type": "application/octet-stream"}
        r = requests.post(f"{self.url}/2/files/upload", data=data, headers=headers, verify=self.verify, timeout=30)
        r.raise_for_status()
        return r.json()

    def download(self, path: str) -> bytes | None:
        """The file's bytes, or None when there is no such file. `path` is absolute or relative to the pair."""
        full = path if path.startswith("/") else f"{REMOTE}/{path}"
        headers = {**self.headers, "Dropbox-API-Arg": json.dumps({"path": full})}
        r = requests.post(f"{self.url}/2/files/download", headers=headers, verify=self.verify, timeout=30)
        if r.status_code == 409:
            return None
        r.raise_for_status()
        return r.content

    def names(self, folder: str = REMOTE) -> list[str]:
        r = self.rpc("files/list_folder", {"path": folder})
        r.raise_for_status()
        return sorted(e["name"] for e in r.json()["entries"])


class App:
    """One running app: its WebDriver session, its demo folder and the demo's Dropbox."""

    def __init__(self, driver: webdriver.Remote, dir: Path, info: dict):
        self.driver = driver
        self.dir = dir
        self.info = info
        self.local = Path(info["local"])
        self.dropbox = Dropbox(info)

    # --- the page -------------------------------------------------------------------------
    def find(self, testid: str, within: WebElement | None = None) -> WebElement:
        root = within or self.driver
        return root.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def all(self, testid: str, within: WebElement | None = None) -> list[WebElement]:
        root = within or self.driver
        return root.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def wait(self, testid: str, timeout: float = 30.0, what: str | None = None) -> WebElement:
        """Wait for an element to be present and displayed."""

        def shown():
            els = self.all(testid)
            return next((e for e in els if e.is_displayed()), None)

        return wait_for(what or f'[data-testid="{testid}"] to show', shown, timeout)

    def click(self, testid: str, timeout: float = 30.0) -> None:
        el = self.wait(testid, timeout)
        wait_for(f'[data-testid="{testid}"] to be enabled', el.is_enabled, timeout)
        # In a scrolling dialog the element may be below the fold: WebKit's driver does not scroll.
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.click()

    def text(self, testid: str) -> str:
        """The element's text, also when the layout hides it (the narrow window hides some)."""
        return (self.find(testid).get_attribute("textContent") or "").strip()

    def attr(self, testid: str, name: str) -> str | None:
        return self.find(testid).get_attribute(name)

    def shot(self, name: str) -> Path:
        """Save a screenshot of the current window as a test artifact."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def go(self, view: str) -> None:
        self.click(f"nav-{view}")

    # --- the engine, through the same IPC the page uses -----------------------------------
    def call(self, cmd: dict):
        """Run one API command through Tauri's IPC from inside the page; returns its value."""
        result = self.driver.execute_async_script(
            """
            const [cmd, done] = arguments;
            window.__TAURI_INTERNALS__.invoke('command', { cmd })
              .then((v) => done({ ok: v }), (e) => done({ err: e }));
            """,
            cmd,
        )
        if "err" in result:
            raise RuntimeError(f"{cmd['cmd']} failed: {result['err']}")
        return result["ok"]

    def pair(self) -> dict:
        return self.call({"cmd": "status"})["pairs"][0]

    def wait_synced(self, timeout: float = 60.0) -> dict:
        return wait_for("the pair to be up to date", lambda: (p := self.pair())["state"] == "up_to_date" and p, timeout)


@pytest.fixture
def launch(driver_url: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., App]]:
    """Start the app in demo mode in a fresh folder: `launch(unlinked=False)`."""
    started: list[App] = []
    dirs: list[Path] = []

    def start(unlinked: bool = False) -> App:
        dir = Path(tempfile.mkdtemp(prefix="nuvosync-app-test-"))
        dirs.append(dir)
        args = ["--demo", "--dir", str(dir)]
        if unlinked:
            args.append("--unlinked")
        opts = ArgOptions()
        opts.set_capability("browserName", "wry")
        opts.set_capability("tauri:options", {"application": str(APP_BIN), "args": args})
        driver = None
        for attempt in range(3):  # tauri-driver drops the odd connection (a reset, no answer)
            try:
                # A bounded HTTP timeout: a wedged web view fails the test instead of hanging it.
                config = ClientConfig(remote_server_addr=driver_url, timeout=90)
                driver = webdriver.Remote(command_executor=driver_url, options=opts, client_config=config)
                break
            except (WebDriverException, urllib3.exceptions.HTTPError, ConnectionError):
                if attempt == 2:
                    raise
                time.sleep(1)
        assert driver is not None
        try:
            driver.set_script_timeout(30)
            info = wait_for("the demo's ready.json", lambda: json.loads((dir / "ready.json").read_text()), timeout=60)
        except BaseException:
            driver.quit()
            raise
        app = App(driver, dir, info)
        started.append(app)
        wait_for("the UI to load", lambda: app.all("overall") or app.all("link-view") or app.all("not-linked"), timeout=30)
        return app

    yield start

    for i, app in enumerate(started):
        try:
            app.shot("last-" + request.node.name + (f"-{i}" if i else ""))
        except WebDriverException:
            pass
        try:
            app.driver.quit()
        except WebDriverException:
            pass
    for dir in dirs:
        shutil.rmtree(dir, ignore_errors=True)
