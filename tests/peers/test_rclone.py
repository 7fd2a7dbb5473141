"""rclone (Debian's package, v1.60) against the emulator. Its Dropbox backend has fixed
`*.dropboxapi.com` hosts, so it goes through the emulator's own CONNECT tunnel via
HTTPS_PROXY, trusting the emulator's CA with --ca-cert."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from emulator import Emulator
from helpers import content_hash

ACCOUNT, TOKEN = "rclone", "rclone-token-0001"
APP = "/Apps/nuvolos.cloud"
RCLONE = shutil.which("rclone")

if RCLONE is None:
    pytest.skip(
        "rclone is not installed: run `apt-get install -y --no-install-recommends rclone` (as root) to enable this test",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def emu():
    e = Emulator({ACCOUNT: TOKEN}, admin_token="adm-rclone")
    yield e
    e.cleanup()


@pytest.fixture
def rclone(emu, tmp_path):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("RCLONE_") or k.lower() in ("https_proxy", "http_proxy", "all_proxy", "no_proxy"):
            del env[k]
    env.update(
        RCLONE_CONFIG=str(tmp_path / "rclone.conf"),  # no config file: everything from the environment
        RCLONE_CONFIG_DBX_TYPE="dropbox",
        RCLONE_CONFIG_DBX_TOKEN=json.dumps(
            {"access_token": TOKEN, "token_type": "bearer", "refresh_token": TOKEN, "expiry": "2099-01-01T00:00:00Z"}
        ),
        HTTPS_PROXY=f"http://127.0.0.1:{emu.port}",
    )

    def run(*args, timeout=300):
        cmd = [RCLONE, *args, "--ca-cert", emu.ca_file, "--retries", "1", "--low-level-retries", "2"]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        assert p.returncode == 0, f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
        return p.stdout, p.stderr

    return run


def make_tree(base: Path) -> dict[str, bytes]:
    files = {
        "a.txt": b"hello rclone\n",
        "empty": b"",
        "big.bin": os.urandom(9 * 1024 * 1024 + 5),  # > 4 MiB, several chunks below
        "exact-4MiB.bin": os.urandom(4 * 1024 * 1024),
        "sub/ünï cødé.txt": "ünïcødé\n".encode(),
        "sub/deeper/x.dat": os.urandom(70_000),
    }
    for rel, data in files.items():
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def test_copy_up_and_down_with_batch_mode_sync(emu, rclone, tmp_path):
    src = tmp_path / "src"
    files = make_tree(src)
    # Small chunks so the big files go through upload sessions with several appends.
    _, err = rclone("copy", str(src), "dbx:up", "--dropbox-batch-mode", "sync", "--dropbox-chunk-size", "4M", "--transfers", "8", "-v")
    assert "ERROR" not in err, err
    tree = emu.tree(ACCOUNT)
    for rel, data in files.items():
        entry = tree[f"{APP}/up/{rel}"]
        assert entry["size"] == len(data)
        assert entry["content_hash"] == content_hash(data), rel
    # rclone compares DropboxHash on both sides.
    _, err = rclone("check", str(src), "dbx:up")
    assert f"{len(files)} matching files" in err, err
    out, _ = rclone("hashsum", "dropbox", "dbx:up")
    sums = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in out.splitlines() if line.strip()}
    assert sums == {rel: content_hash(data) for rel, data in files.items()}
    # Batch mode: data through upload sessions, commits in batches.
    routes = emu.admin("GET", "stats")["routes"]
    assert routes.get("files/upload_session/start") and routes.get("files/upload_session/append_v2"), routes
    assert routes.get("files/upload_session/finish_batch_v2") or routes.get("files/upload_session/finish_batch"), routes
    # And back down.
    dst = tmp_path / "down"
    rclone("copy", "dbx:up", str(dst), "--transfers", "8", "-v")
    for rel, data in files.items():
        assert (dst / rel).read_bytes() == data, rel
    assert emu.alive()


def test_copy_of_files_uploaded_by_others(emu, rclone, tmp_path):
    """Files put there through the API (as another client would) come down intact, with
    rclone's hash check on the download."""
    import requests

    blobs = {f"other/{i}.bin": os.urandom(1000 * (i + 1)) for i in range(5)}
    for rel, data in blobs.items():
        r = requests.post(
            f"{emu.url}/2/files/upload",
            data=data,
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/octet-stream",
                "Dropbox-API-Arg": json.dumps({"path": f"/{rel}"}),
            },
            verify=emu.ca_file,
            timeout=30,
        )
        assert r.status_code == 200, r.text
    dst = tmp_path / "other"
    rclone("copy", "dbx:other", str(dst))
    for rel, data in blobs.items():
        got = (dst / rel.split("/", 1)[1]).read_bytes()
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_sync_moves_and_deletes(emu, rclone, tmp_path):
    src = tmp_path / "s"
    make_tree(src)
    rclone("sync", str(src), "dbx:mirror", "--dropbox-batch-mode", "sync")
    (src / "a.txt").unlink()
    shutil.rmtree(src / "sub" / "deeper")
    (src / "new.txt").write_bytes(b"new")
    rclone("sync", str(src), "dbx:mirror", "--dropbox-batch-mode", "sync")
    tree = emu.tree(ACCOUNT)
    assert f"{APP}/mirror/a.txt" not in tree
    assert f"{APP}/mirror/sub/deeper/x.dat" not in tree
    assert f"{APP}/mirror/new.txt" in tree
    rclone("moveto", "dbx:mirror/new.txt", "dbx:mirror/renamed.txt")
    tree = emu.tree(ACCOUNT)
    assert f"{APP}/mirror/renamed.txt" in tree and f"{APP}/mirror/new.txt" not in tree
    (src / "new.txt").rename(src / "renamed.txt")
    _, err = rclone("check", str(src), "dbx:mirror")
    assert "0 differences found" in err, err
    rclone("purge", "dbx:mirror")
    assert not any(p.startswith(f"{APP}/mirror") for p in emu.tree(ACCOUNT))


def test_bisync_two_way(emu, rclone, tmp_path):
    """rclone 1.60's bisync: the batch-style two-way peer."""
    import requests

    local = tmp_path / "two-way"
    local.mkdir()
    (local / "local.txt").write_bytes(b"from local")
    workdir = str(tmp_path / "bisync-state")
    rclone("mkdir", "dbx:two-way")
    rclone("bisync", str(local), "dbx:two-way", "--resync", "--workdir", workdir)
    assert f"{APP}/two-way/local.txt" in emu.tree(ACCOUNT)
    # A change on each side.
    (local / "second.txt").write_bytes(b"second local")
    r = requests.post(
        f"{emu.url}/2/files/upload",
        data=b"from the server",
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/octet-stream",
            "Dropbox-API-Arg": json.dumps({"path": "/two-way/remote.txt"}),
        },
        verify=emu.ca_file,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    rclone("bisync", str(local), "dbx:two-way", "--workdir", workdir)
    assert (local / "remote.txt").read_bytes() == b"from the server"
    tree = emu.tree(ACCOUNT)
    assert tree[f"{APP}/two-way/second.txt"]["content_hash"] == content_hash(b"second local")
