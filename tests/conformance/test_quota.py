"""Space allocation: writes past the quota fail with insufficient_space (raw HTTP against an
emulator started with --quota-bytes)."""

import json

import requests
from emulator import Emulator


def test_insufficient_space():
    emu = Emulator({"quinn": "quinn-token"}, extra_args=["--quota-bytes", "1000"])
    try:
        def post(route, arg, data=None):
            h = {"Authorization": "Bearer quinn-token"}
            if data is None:
                return requests.post(f"{emu.url}/2/{route}", json=arg, headers=h, verify=emu.ca_file, timeout=30)
            h.update({"Content-Type": "application/octet-stream", "Dropbox-API-Arg": json.dumps(arg)})
            return requests.post(f"{emu.url}/2/{route}", data=data, headers=h, verify=emu.ca_file, timeout=30)

        usage = post("users/get_space_usage", None).json()
        assert usage["allocation"] == {".tag": "individual", "allocated": 1000}
        assert post("files/upload", {"path": "/a.bin"}, b"x" * 600).status_code == 200
        r = post("files/upload", {"path": "/b.bin"}, b"y" * 600)
        assert r.status_code == 409
        assert r.json()["error"]["reason"] == {".tag": "insufficient_space"}
        # Replacing a file only needs the difference.
        assert post("files/upload", {"path": "/a.bin", "mode": "overwrite"}, b"z" * 900).status_code == 200
        r = post("files/copy_v2", {"from_path": "/a.bin", "to_path": "/c.bin"})
        assert r.status_code == 409 and r.json()["error"][".tag"] == "insufficient_quota"
        assert post("users/get_space_usage", None).json()["used"] == 900
    finally:
        emu.cleanup()
