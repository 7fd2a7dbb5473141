"""Fixtures for the conformance suite: one emulator process for the session, two accounts,
and the official Python SDK pointed at it.

The SDK reads DROPBOX_API_HOST & co. when `dropbox` is imported, so no test module imports
it at the top: they get the module from the `sdk` fixture, which imports it only after the
environment is set.
"""

from __future__ import annotations

import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from emulator import Emulator, sdk_environment  # noqa: E402

assert "dropbox" not in sys.modules, "dropbox must not be imported before the emulator is up"

ALICE, ALICE_TOKEN = "alice", "alice-long-lived-token-0001"
BOB, BOB_TOKEN = "bob", "bob-long-lived-token-0002"
APP_KEY = "nuvosync-desktop"
APP_FOLDER = "/Apps/nuvolos.cloud"
FULL_ACCESS_APP_KEY = "conformance-full-access"
SECRET_APP_KEY, SECRET_APP_SECRET = "conformance-confidential", "conformance-secret-0001"
# The redirect URIs registered for nuvosync's key here (as in the App Console): nuvosync's own
# fixed loopback ports and those the SDK's flows below use. Dropbox matches them exactly.
REDIRECT_URIS = [
    "http://127.0.0.1:28752/callback",
    "http://127.0.0.1:53682/callback",
    "http://localhost:9/cb",
    "http://127.0.0.1:5000/a",
]
APPS = [
    "--app", f"{APP_KEY}:nuvolos.cloud:{','.join(REDIRECT_URIS)}",
    "--app", f"{FULL_ACCESS_APP_KEY}:",
    "--app", f"{SECRET_APP_KEY}={SECRET_APP_SECRET}::",
]

DEFAULT_FAULTS = {
    "latency_ms": 0,
    "latency_jitter_ms": 0,
    "bandwidth_bytes_per_sec": 0,
    "p_server_error": 0.0,
    "p_rate_limit": 0.0,
    "p_write_contention": 0.0,
    "p_write_contention_409": 0.0,
    "p_reset": 0.0,
    "retry_after_secs": 1,
    "rate_limit_text_body": False,
    "longpoll_delay_ms": 0,
    "longpoll_backoff_secs": None,
    "write_lock_ms": 0,
}


@pytest.fixture(scope="session")
def emu():
    e = Emulator({ALICE: ALICE_TOKEN, BOB: BOB_TOKEN}, extra_args=APPS)
    os.environ.update(sdk_environment(e))
    os.environ.pop("CURL_CA_BUNDLE", None)
    yield e
    alive = e.alive()
    e.cleanup()
    assert alive, "the emulator process died during the run"


@pytest.fixture(scope="session")
def sdk(emu):
    import dropbox

    assert dropbox.session.API_HOST == emu.hostport
    assert dropbox.session.API_CONTENT_HOST == emu.hostport
    assert dropbox.session.API_NOTIFICATION_HOST == emu.hostport
    return dropbox


@pytest.fixture(autouse=True)
def _emulator_survives(emu):
    """Every test leaves a live emulator behind (no crash on any input)."""
    yield
    assert emu.alive(), f"emulator died; log tail:\n{emu.log_text()[-4000:]}"


@pytest.fixture
def client(sdk):
    """Make an SDK client that never retries on its own (so tests see every error)."""
    made = []

    def make(token=None, **kw):
        kw.setdefault("max_retries_on_error", 0)
        kw.setdefault("max_retries_on_rate_limit", 0)
        kw.setdefault("timeout", 120)
        d = sdk.Dropbox(token, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


@pytest.fixture
def dbx(client):
    """Alice, with her long-lived app-folder token."""
    return client(ALICE_TOKEN)


@pytest.fixture
def dbx_bob(client):
    return client(BOB_TOKEN)


@pytest.fixture
def full_dbx(client):
    """Alice with full Dropbox access (a refresh with a registered app key that is not an app-folder app)."""
    return client(oauth2_refresh_token=ALICE_TOKEN, app_key=FULL_ACCESS_APP_KEY)


@pytest.fixture
def root(request):
    """A fresh folder path (not created) for this test, below the app folder root."""
    name = request.node.name.replace("[", "-").replace("]", "")[:40]
    return f"/{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def faults(emu):
    """Set fault settings for one test; all are back to none afterwards."""
    yield emu.set_faults
    emu.set_faults(**DEFAULT_FAULTS)


@pytest.fixture
def raw(emu):
    """A `requests` session that trusts the emulator's CA."""
    import requests

    s = requests.Session()
    s.verify = emu.ca_file
    yield s
    s.close()


def pytest_report_header(config):
    from emulator import emulator_bin

    return f"dropbox-emulator: {emulator_bin()}"
