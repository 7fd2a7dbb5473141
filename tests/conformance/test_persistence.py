"""State kept with --data-dir survives a restart: files, revisions, cursors and tokens."""

import json

import requests
from emulator import Emulator


def call(emu, route, arg, token, data=None):
    h = {"Authorization": f"Bearer {token}"}
    if data is None:
        r = requests.post(f"{emu.url}/2/{route}", json=arg, headers=h, verify=emu.ca_file, timeout=30)
    else:
        h.update({"Content-Type": "application/octet-stream", "Dropbox-API-Arg": json.dumps(arg)})
        r = requests.post(f"{emu.url}/2/{route}", data=data, headers=h, verify=emu.ca_file, timeout=30)
    return r


def test_restart_keeps_state(tmp_path):
    data_dir = tmp_path / "state"
    args = ["--data-dir", str(data_dir)]
    first = Emulator({"dora": "dora-token"}, extra_args=args)
    try:
        v1 = call(first, "files/upload", {"path": "/keep.txt"}, "dora-token", b"version one").json()
        v2 = call(first, "files/upload", {"path": "/keep.txt", "mode": "overwrite"}, "dora-token", b"version two").json()
        cursor = call(first, "files/list_folder", {"path": "", "recursive": True}, "dora-token").json()["cursor"]
        tok = requests.post(
            f"{first.url}/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": "dora-token", "client_id": "nuvosync-desktop"},
            verify=first.ca_file,
            timeout=30,
        ).json()["access_token"]
    finally:
        first.stop()
    second = Emulator({"dora": "dora-token"}, extra_args=args)
    try:
        md = call(second, "files/get_metadata", {"path": "/keep.txt"}, "dora-token").json()
        assert (md["id"], md["rev"]) == (v2["id"], v2["rev"])
        r = requests.post(
            f"{second.url}/2/files/download",
            headers={"Authorization": f"Bearer {tok}", "Dropbox-API-Arg": json.dumps({"path": f"rev:{v1['rev']}"})},
            verify=second.ca_file,
            timeout=30,
        )
        assert r.status_code == 200 and r.content == b"version one"
        # The old cursor still works, and new revs do not collide with old ones.
        v3 = call(second, "files/upload", {"path": "/keep.txt", "mode": "overwrite"}, "dora-token", b"three").json()
        assert v3["rev"] not in (v1["rev"], v2["rev"])
        res = call(second, "files/list_folder/continue", {"cursor": cursor}, "dora-token")
        assert res.status_code == 200, res.text
        assert [e["rev"] for e in res.json()["entries"]] == [v3["rev"]]
    finally:
        second.cleanup()
        first.cleanup()
