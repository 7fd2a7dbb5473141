"""Start and drive a `dropbox-emulator` process (shared by the conformance and peer tests).

Nothing here imports `dropbox`: the SDK reads its hosts from the environment when it is
imported, so callers set the environment first (see `sdk_environment`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

DEFAULT_BIN = "/work/main/target/debug/dropbox-emulator"


def emulator_bin() -> str:
    return os.environ.get("NUVOSYNC_EMULATOR_BIN", DEFAULT_BIN)


class Emulator:
    """One emulator process. `accounts` maps name → token."""

    def __init__(self, accounts: dict[str, str], admin_token: str = "adm-conformance", extra_args=()):
        self.accounts = dict(accounts)
        self.admin_token = admin_token
        self.dir = Path(tempfile.mkdtemp(prefix="dbx-emu-"))
        self.log_path = self.dir / "emulator.log"
        args = [emulator_bin(), "--tls-dir", str(self.dir / "tls"), "--admin-token", admin_token]
        for name, token in self.accounts.items():
            args += ["--account", f"{name}:{token}"]
        args += list(extra_args)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log)
        line = self._read_ready_line()
        info = json.loads(line)
        self.url: str = info["url"]
        self.ca_file: str = info["ca_file"]
        self.port = int(self.url.rsplit(":", 1)[1])
        self.hostport = f"127.0.0.1:{self.port}"
        self.http = requests.Session()
        self.http.verify = self.ca_file

    def _read_ready_line(self) -> str:
        result: list[bytes] = []
        t = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(30)
        if not result or not result[0]:
            self.stop()
            raise RuntimeError(f"emulator did not start; log:\n{self.log_text()}")
        return result[0].decode()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    # ---- admin endpoint
    def admin(self, method: str, route: str, body=None, **params):
        r = self.http.request(
            method,
            f"{self.url}/admin/{route}",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            json=body,
            params=params or None,
            timeout=30,
            # Per request: REQUESTS_CA_BUNDLE in the environment beats a session's `verify`.
            verify=self.ca_file,
        )
        r.raise_for_status()
        return r.json()

    def set_faults(self, **faults):
        return self.admin("POST", "faults", faults)

    def tree(self, account: str) -> dict[str, dict]:
        """Full display path → entry, for one account."""
        return {e["path"]: e for e in self.admin("GET", "tree", account=account)["entries"]}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def sdk_environment(emu: Emulator) -> dict[str, str]:
    """The environment that points the official SDK (and Maestral) at `emu`."""
    return {
        "DROPBOX_API_HOST": emu.hostport,
        "DROPBOX_API_CONTENT_HOST": emu.hostport,
        "DROPBOX_API_NOTIFY_HOST": emu.hostport,
        "DROPBOX_WEB_HOST": emu.hostport,
        "REQUESTS_CA_BUNDLE": emu.ca_file,
    }


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
