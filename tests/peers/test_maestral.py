"""Maestral 1.9.6 (a real third-party Dropbox client, pinned with dropbox 12.2.1) syncing
against the emulator, headless, following shared/reference/peers.md.

The daemon runs for the whole module; the tests go in order and each waits for the sync to
settle. Maestral has full Dropbox access (its built-in app key), so files written through
the account token's app folder show up locally under Apps/nuvolos.cloud/.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from emulator import Emulator, sdk_environment, wait_for
from helpers import content_hash

HERE = Path(__file__).resolve().parent
MAESTRAL = os.environ.get("NUVOSYNC_MAESTRAL_BIN", str(HERE / ".venv-maestral" / "bin" / "maestral"))
ACCOUNT, TOKEN = "maestral", "maestral-refresh-token-0001"
CONFIG = "peer"

if not os.path.exists(MAESTRAL):
    pytest.skip(
        f"Maestral is not installed at {MAESTRAL}: run tests/conformance/run, or "
        f"python3 -m venv {HERE}/.venv-maestral && {HERE}/.venv-maestral/bin/pip install -r {HERE}/requirements-maestral.txt",
        allow_module_level=True,
    )


MAESTRAL_APP_KEY = "2jmbq42w7vof78h"  # maestral/constants.py DROPBOX_APP_KEY


class Daemon:
    def __init__(self, tmp: Path):
        # Maestral's built-in app key (full Dropbox access, no redirect: it uses the code-paste
        # flow) and the key this test's own API calls use, registered as in the App Console.
        self.emu = Emulator(
            {ACCOUNT: TOKEN},
            admin_token="adm-maestral",
            extra_args=["--app", f"{MAESTRAL_APP_KEY}:", "--app", "maestral-peer-test:"],
        )
        self.root = tmp
        self.dropbox = tmp / "Dropbox"
        self.dropbox.mkdir()
        run = tmp / "run"
        run.mkdir(mode=0o700)
        self.env = dict(os.environ)
        for k in ("CURL_CA_BUNDLE", "DBUS_SESSION_BUS_ADDRESS", "SSL_CERT_FILE"):
            self.env.pop(k, None)
        self.env.update(sdk_environment(self.emu))
        self.env.update(
            XDG_CONFIG_HOME=str(tmp / "config"),
            XDG_DATA_HOME=str(tmp / "data"),
            XDG_CACHE_HOME=str(tmp / "cache"),
            XDG_RUNTIME_DIR=str(run),
            PYTHONUNBUFFERED="1",
        )
        self.log = tmp / "cache" / "maestral" / f"{CONFIG}.log"
        self.proc = None

    def cli(self, *args, check=True, timeout=60):
        p = subprocess.run([MAESTRAL, *args, "-c", CONFIG], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"maestral {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}\n{self.log_text()}")
        return p.stdout + p.stderr

    def start(self):
        self.cli("auth", "link", "--refresh-token", TOKEN)
        self.cli("config", "set", "path", str(self.dropbox))
        self.out = open(self.root / "maestral.out", "wb")
        self.proc = subprocess.Popen(
            [MAESTRAL, "start", "-f", "-c", CONFIG], env=self.env, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.wait_idle(what="the first sync")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.emu.cleanup()

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def status(self) -> str:
        return self.cli("status", check=False, timeout=30)

    def wait_idle(self, timeout=60, what="sync"):
        """Until the daemon reports 'Up to date' twice in a row, a second apart."""
        assert self.proc.poll() is None, f"maestral exited:\n{self.log_text()}"

        def settled():
            s1 = self.status()
            if "Up to date" not in s1:
                return False
            time.sleep(1.0)
            return "Up to date" in self.status()

        try:
            wait_for(settled, timeout, interval=0.5, what=what)
        except AssertionError:
            raise AssertionError(f"maestral did not settle after {what}:\n{self.status()}\n{self.log_text()[-5000:]}")

    def tree(self):
        return self.emu.tree(ACCOUNT)

    def token(self, app_key="maestral-peer-test"):
        r = requests.post(
            f"{self.emu.url}/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": TOKEN, "client_id": app_key},
            verify=self.emu.ca_file,
            timeout=30,
        )
        r.raise_for_status()
        return r.json()["access_token"]

    def api(self, route, arg, data=None, token=None):
        token = token or self.token()
        h = {"Authorization": f"Bearer {token}"}
        if data is None:
            r = requests.post(f"{self.emu.url}/2/{route}", json=arg, headers=h, verify=self.emu.ca_file, timeout=60)
        else:
            h.update({"Dropbox-API-Arg": json.dumps(arg), "Content-Type": "application/octet-stream"})
            r = requests.post(f"{self.emu.url}/2/{route}", data=data, headers=h, verify=self.emu.ca_file, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def maestral(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("maestral"))
    try:
        d.start()
        yield d
    finally:
        d.stop()


def test_linked_and_idle(maestral):
    s = maestral.status()
    assert "maestral@example.com" in s
    assert re.search(r"Sync errors\s+0", s), s


def test_local_files_reach_the_emulator(maestral):
    small = b"written locally\n"
    big = os.urandom(9 * 1024 * 1024 + 321)  # over 4 MiB: upload sessions
    (maestral.dropbox / "docs").mkdir()
    (maestral.dropbox / "docs" / "notes.txt").write_bytes(small)
    (maestral.dropbox / "big.bin").write_bytes(big)
    (maestral.dropbox / "ünï cødé.txt").write_bytes(b"unicode")

    def arrived():
        t = maestral.tree()
        return all(p in t for p in ("/docs/notes.txt", "/big.bin", "/ünï cødé.txt")) and t
    t = wait_for(arrived, 60, what="local files on the emulator")
    assert t["/docs/notes.txt"]["content_hash"] == content_hash(small)
    assert t["/big.bin"]["content_hash"] == content_hash(big)
    assert t["/big.bin"]["size"] == len(big)
    assert t["/docs"].get("folder")
    maestral.wait_idle(what="local uploads")


def test_remote_files_arrive_locally(maestral):
    data = os.urandom(5 * 1024 * 1024 + 7)
    # Through the account's app-folder token (raw HTTP, as the SDK sends it)...
    maestral.api("files/upload", {"path": "/from-app.bin", "mode": "add"}, data=data, token=TOKEN)
    # ...and with full access at the top level.
    maestral.api("files/upload", {"path": "/remote/hello.txt"}, data=b"hello from the server")
    local_app = maestral.dropbox / "Apps" / "nuvolos.cloud" / "from-app.bin"
    local_top = maestral.dropbox / "remote" / "hello.txt"
    wait_for(lambda: local_app.exists() and local_top.exists(), 60, what="remote files locally")
    maestral.wait_idle(what="remote downloads")
    assert local_app.read_bytes() == data
    assert local_top.read_bytes() == b"hello from the server"


def test_remote_changes_and_deletes_sync_down(maestral):
    local = maestral.dropbox / "remote" / "hello.txt"
    md = maestral.api("files/get_metadata", {"path": "/remote/hello.txt"})
    maestral.api("files/upload", {"path": "/remote/hello.txt", "mode": {".tag": "update", "update": md["rev"]}}, data=b"changed remotely")
    wait_for(lambda: local.read_bytes() == b"changed remotely", 60, what="a remote edit locally")
    maestral.api("files/delete_v2", {"path": "/remote"})
    wait_for(lambda: not (maestral.dropbox / "remote").exists(), 60, what="a remote delete locally")
    maestral.wait_idle(what="remote delete")


def test_local_move_edit_and_delete_sync_up(maestral):
    before = maestral.tree()["/docs/notes.txt"]
    (maestral.dropbox / "docs").rename(maestral.dropbox / "papers")
    wait_for(lambda: "/papers/notes.txt" in maestral.tree() and "/docs" not in maestral.tree(), 60, what="a local move")
    assert maestral.tree()["/papers/notes.txt"]["id"] == before["id"], "a move keeps the id"
    maestral.wait_idle(what="local move")
    (maestral.dropbox / "papers" / "notes.txt").write_bytes(b"edited locally\n")
    wait_for(
        lambda: maestral.tree()["/papers/notes.txt"]["content_hash"] == content_hash(b"edited locally\n"), 60, what="a local edit"
    )
    maestral.wait_idle(what="local edit")
    (maestral.dropbox / "ünï cødé.txt").unlink()
    wait_for(lambda: "/ünï cødé.txt" not in maestral.tree(), 60, what="a local delete")
    maestral.wait_idle(what="local delete")


def test_revisions_diff_and_restore(maestral):
    revs = maestral.cli("revs", "/papers/notes.txt")
    found = re.findall(r"^([0-9a-f]{9,})\s", revs, re.M)
    assert len(found) == 2, revs
    new, old = found
    out = maestral.cli("diff", "/papers/notes.txt", "-v", old, "-v", new, "--no-pager", "--no-color")
    assert "-written locally" in out and "+edited locally" in out, out
    maestral.cli("restore", "/papers/notes.txt", "-v", old)
    local = maestral.dropbox / "papers" / "notes.txt"
    wait_for(lambda: local.read_bytes() == b"written locally\n", 60, what="a restore locally")
    maestral.wait_idle(what="restore")


def test_conflicting_edits_keep_both_versions(maestral):
    """An edit on each side while the daemon is paused: after resuming, both versions
    exist on both sides (one of them as a conflicted copy) and nothing is lost."""
    path = maestral.dropbox / "papers" / "conflict.txt"
    path.write_bytes(b"base\n")
    wait_for(lambda: "/papers/conflict.txt" in maestral.tree(), 60, what="the base version")
    maestral.wait_idle(what="base version")
    base = maestral.tree()["/papers/conflict.txt"]
    maestral.cli("pause")
    try:
        maestral.api(
            "files/upload",
            {"path": "/papers/conflict.txt", "mode": {".tag": "update", "update": base["rev"]}},
            data=b"remote edit\n",
        )
        path.write_bytes(b"local edit\n")
    finally:
        maestral.cli("resume")

    def both_versions():
        hashes = {e.get("content_hash") for p, e in maestral.tree().items() if p.startswith("/papers/conflict")}
        return {content_hash(b"remote edit\n"), content_hash(b"local edit\n")} <= hashes

    wait_for(both_versions, 60, what="both versions on the emulator")
    maestral.wait_idle(what="conflict")
    local = sorted(p.name for p in (maestral.dropbox / "papers").iterdir() if p.name.startswith("conflict"))
    assert len(local) == 2, local
    contents = {(maestral.dropbox / "papers" / n).read_bytes() for n in local}
    assert contents == {b"remote edit\n", b"local edit\n"}
    remote = sorted(p for p in maestral.tree() if p.startswith("/papers/conflict"))
    assert [p.rsplit("/", 1)[1] for p in remote] == local


def test_listing_through_maestral(maestral):
    out = maestral.cli("ls", "-l", "/")
    for name in ("Apps", "papers", "big.bin"):
        assert name in out, out


def test_maestral_used_the_expected_routes(maestral):
    routes = maestral.emu.admin("GET", "stats")["routes"]
    for r in [
        "users/get_current_account",
        "users/get_space_usage",
        "files/list_folder",
        "files/list_folder/continue",
        "files/list_folder/longpoll",
        "files/get_metadata",
        "files/upload",
        "files/upload_session/start",
        "files/download",
        "files/list_revisions",
        "files/restore",
    ]:
        assert routes.get(r), (r, routes)
    assert routes.get("files/move_v2") or routes.get("files/move_batch_v2"), routes
    assert routes.get("files/delete_v2") or routes.get("files/delete_batch"), routes


def test_no_sync_errors_were_logged(maestral):
    maestral.wait_idle(what="the end")
    s = maestral.status()
    assert re.search(r"Sync errors\s+0", s), s
    bad = [l for l in maestral.log_text().splitlines() if re.search(r"\b(ERROR|CRITICAL)\b", l)]
    assert not bad, "\n".join(bad)
    warnings = [l for l in maestral.log_text().splitlines() if " WARNING" in l]
    assert not warnings, "\n".join(warnings)
    assert maestral.emu.alive()
