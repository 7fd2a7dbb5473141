"""Raw HTTP checks with `requests`: headers, encodings and hostile input. After every test
the emulator must still answer (see the autouse fixture in conftest)."""

import json

import pytest
from conftest import ALICE_TOKEN
from helpers import content_hash

AUTH = {"Authorization": f"Bearer {ALICE_TOKEN}"}


def rpc(raw, emu, route, body, headers=None, **kw):
    h = dict(AUTH)
    h.update(headers or {})
    return raw.post(f"{emu.url}/2/{route}", data=body, headers=h, timeout=60, **kw)


def upload(raw, emu, arg_header, data=b"x", route="files/upload", **kw):
    h = dict(AUTH, **{"Content-Type": "application/octet-stream", "Dropbox-API-Arg": arg_header})
    return raw.post(f"{emu.url}/2/{route}", data=data, headers=h, timeout=60, **kw)


def still_alive(raw, emu):
    r = rpc(raw, emu, "users/get_space_usage", b"null", {"Content-Type": "application/json"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "route,body",
    [
        ("users/get_current_account", b"null"),
        ("users/get_space_usage", b"null"),
        ("files/list_folder", b'{"path": ""}'),
        ("files/list_folder/get_latest_cursor", b'{"path": ""}'),
        ("files/get_metadata", b'{"path": "/does-not-exist"}'),
        ("files/create_folder_v2", b'{"path": "/raw-ct-check", "autorename": true}'),
    ],
)
def test_rpc_content_type_is_exactly_application_json(raw, emu, route, body):
    r = rpc(raw, emu, route, body, {"Content-Type": "application/json"})
    assert r.status_code in (200, 409), r.text
    assert r.headers["Content-Type"] == "application/json"
    json.loads(r.content)


def test_upload_result_is_json_in_the_body(raw, emu, root):
    r = upload(raw, emu, json.dumps({"path": f"{root}/u.txt"}), b"body")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert "Dropbox-API-Result" not in r.headers
    assert r.json()["size"] == 4


def test_void_routes_accept_null_empty_and_no_content_type(raw, emu):
    for body, headers in [
        (b"null", {"Content-Type": "application/json"}),
        (b"", {"Content-Type": "application/json"}),
        (b"", {}),
        (b" null ", {"Content-Type": "application/json; charset=utf-8"}),
    ]:
        r = rpc(raw, emu, "users/get_current_account", body, headers)
        assert r.status_code == 200, (body, headers, r.text)


def test_revoke_answers_null(raw, emu):
    name, token = "revokeraw", "revokeraw-token"
    emu.admin("POST", "accounts", {"name": name, "token": token})
    r = raw.post(f"{emu.url}/2/auth/token/revoke", data=b"null", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() is None


@pytest.mark.parametrize("body", [b"{not json", b'{"path": ', b"\xff\xfe", b"[1,2"])
def test_malformed_json_is_400_text(raw, emu, body):
    r = rpc(raw, emu, "files/list_folder", body, {"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text


def test_malformed_arg_header_is_400_text(raw, emu):
    r = upload(raw, emu, "{oops")
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("text/plain")
    h = dict(AUTH, **{"Dropbox-API-Arg": "{oops"})
    r = raw.post(f"{emu.url}/2/files/download", headers=h, timeout=30)
    assert r.status_code == 400


def test_wrong_argument_types_are_400(raw, emu):
    for body in [b'{"path": 5}', b'{"recursive": true}', b'{"path": "", "limit": 0}', b'{"path": "", "limit": 2001}']:
        r = rpc(raw, emu, "files/list_folder", body, {"Content-Type": "application/json"})
        assert r.status_code == 400, (body, r.status_code, r.text)


def test_wrong_content_type_is_400(raw, emu):
    r = rpc(raw, emu, "files/list_folder", b'{"path": ""}', {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    r = raw.post(
        f"{emu.url}/2/files/upload",
        data=b"x",
        headers=dict(AUTH, **{"Content-Type": "application/json", "Dropbox-API-Arg": '{"path": "/ct.txt"}'}),
        timeout=30,
    )
    assert r.status_code == 400


def test_cors_hack_content_type_is_accepted(raw, emu, root):
    r = rpc(raw, emu, "files/list_folder", b'{"path": ""}', {"Content-Type": "text/plain; charset=dropbox-cors-hack"})
    assert r.status_code == 200
    r = raw.post(
        f"{emu.url}/2/files/upload",
        data=b"x",
        headers=dict(AUTH, **{"Content-Type": "text/plain; charset=dropbox-cors-hack", "Dropbox-API-Arg": json.dumps({"path": f"{root}/cors.txt"})}),
        timeout=30,
    )
    assert r.status_code == 200, r.text


def test_arg_header_with_unicode_escapes(raw, emu, root, dbx):
    name = "Grüße 😀 ü\u00f1\u00ee.txt"
    header = json.dumps({"path": f"{root}/{name}"})  # ensure_ascii: \u00fc and surrogate pairs
    assert header.isascii() and "\\ud83d\\ude00" in header
    r = upload(raw, emu, header, b"escaped")
    assert r.status_code == 200, r.text
    assert r.json()["name"] == name
    assert dbx.files_get_metadata(f"{root}/{name}").name == name
    # And in the download result header, non-ASCII comes back escaped.
    r = raw.post(f"{emu.url}/2/files/download", headers=dict(AUTH, **{"Dropbox-API-Arg": header}), timeout=30)
    assert r.status_code == 200 and r.content == b"escaped"
    result = r.headers["Dropbox-API-Result"]
    assert result.isascii() and "\\u" in result
    assert json.loads(result)["name"] == name


def test_arg_query_parameter_for_upload(raw, emu, root):
    arg = json.dumps({"path": f"{root}/qp ü.txt", "mode": "overwrite"}, ensure_ascii=False)
    r = raw.post(
        f"{emu.url}/2/files/upload",
        params={"arg": arg},
        data=b"via query",
        headers=dict(AUTH, **{"Content-Type": "application/octet-stream"}),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["path_display"] == f"{root}/qp ü.txt"


def test_authorization_query_parameter(raw, emu):
    r = raw.post(
        f"{emu.url}/2/users/get_space_usage",
        params={"authorization": f"Bearer {ALICE_TOKEN}"},
        data=b"null",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 200


def test_shorthand_unions_and_unknown_fields(raw, emu, root):
    r = upload(raw, emu, json.dumps({"path": f"{root}/s.txt", "mode": "add", "future_field": 1}), b"v1")
    assert r.status_code == 200, r.text
    rev = r.json()["rev"]
    r = upload(raw, emu, json.dumps({"path": f"{root}/s.txt", "mode": {".tag": "update", "update": rev}}), b"v2")
    assert r.status_code == 200, r.text
    r = upload(raw, emu, json.dumps({"path": f"{root}/s.txt", "mode": {"update": rev, ".tag": "update"}}), b"v3")
    assert r.status_code == 409
    assert r.json()["error_summary"].startswith("path/conflict/file/")


def test_error_shape_409(raw, emu):
    r = rpc(raw, emu, "files/get_metadata", b'{"path": "/no/such/thing"}', {"Content-Type": "application/json"})
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == {".tag": "path", "path": {".tag": "not_found"}}
    assert body["error_summary"].startswith("path/not_found/")


def test_error_shape_401(raw, emu):
    r = raw.post(f"{emu.url}/2/users/get_space_usage", data=b"null", headers={"Authorization": "Bearer nope", "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 401 and r.headers["Content-Type"] == "application/json"
    assert r.json()["error"][".tag"] == "invalid_access_token"
    assert r.json()["error_summary"].startswith("invalid_access_token/")
    r = raw.post(f"{emu.url}/2/users/get_space_usage", data=b"null", headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400


def test_unknown_route_and_wrong_method(raw, emu):
    r = rpc(raw, emu, "files/no_such_route", b"{}", {"Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("text/plain")
    assert r.text == 'Error in call to API function "files/no_such_route": Unknown API function: /2/files/no_such_route'
    r = raw.get(f"{emu.url}/2/files/list_folder", headers=AUTH, timeout=30)
    assert r.status_code in (400, 405)


def test_head_root_connectivity_check(raw, emu):
    r = raw.head(f"{emu.url}/", timeout=30)
    assert r.status_code < 500


def test_upload_over_the_payload_limit(raw, emu, root):
    data = b"\0" * (150 * 1024 * 1024 + 1)
    try:
        r = upload(raw, emu, json.dumps({"path": f"{root}/huge.bin"}), data)
    except Exception as e:  # the server may answer before reading the whole body
        pytest.fail(f"no answer to an over-limit upload: {e!r}")
    assert r.status_code == 409, r.text[:200]
    assert r.json()["error"][".tag"] == "payload_too_large"
    still_alive(raw, emu)


def test_upload_session_append_over_the_limit(raw, emu, dbx):
    sid = dbx.files_upload_session_start(b"").session_id
    data = b"\0" * (150 * 1024 * 1024 + 1)
    r = upload(raw, emu, json.dumps({"cursor": {"session_id": sid, "offset": 0}}), data, route="files/upload_session/append_v2")
    assert r.status_code == 409
    assert r.json()["error"][".tag"] == "payload_too_large"


def test_rpc_body_over_the_limit_is_refused(raw, emu):
    body = b'{"path": "' + b"a" * (20 * 1024 * 1024) + b'"}'
    r = rpc(raw, emu, "files/get_metadata", body, {"Content-Type": "application/json"})
    assert r.status_code == 400
    still_alive(raw, emu)


@pytest.mark.parametrize(
    "path",
    [
        "/..",
        "/../..",
        "/../Apps",
        "/a/../../etc/passwd",
        "//",
        "//x",
        "/x//",
        "/nul\u0000byte",
        "/\u0000",
        "/.",
        "/trailing/",
        "/" + "n" * 256,
        "/del\u007fchar",
        "/bad\\slash",
    ],
)
def test_path_tricks_are_errors_not_crashes(raw, emu, path):
    before = set(emu.tree("alice"))
    for route, body in [
        ("files/get_metadata", {"path": path}),
        ("files/list_folder", {"path": path}),
        ("files/create_folder_v2", {"path": path}),
        ("files/delete_v2", {"path": path}),
        ("files/move_v2", {"from_path": path, "to_path": "/moved-trick"}),
        ("files/move_v2", {"from_path": "/nonexistent-src", "to_path": path}),
    ]:
        r = rpc(raw, emu, route, json.dumps(body).encode(), {"Content-Type": "application/json"})
        assert r.status_code in (400, 409), (route, path, r.status_code, r.text[:200])
        if r.status_code == 409:
            assert r.headers["Content-Type"] == "application/json"
    r = upload(raw, emu, json.dumps({"path": path}))
    assert r.status_code in (400, 409), (path, r.status_code, r.text[:200])
    r = raw.post(f"{emu.url}/2/files/download", headers=dict(AUTH, **{"Dropbox-API-Arg": json.dumps({"path": path})}), timeout=30)
    assert r.status_code in (400, 409), (path, r.status_code)
    # Nothing escaped the app folder.
    new = set(emu.tree("alice")) - before
    assert all(p.lower().startswith("/apps/nuvolos.cloud/") for p in new), new
    still_alive(raw, emu)


def test_raw_bytes_in_header_do_not_crash(raw, emu):
    import http.client
    import ssl

    ctx = ssl.create_default_context(cafile=emu.ca_file)
    conn = http.client.HTTPSConnection("127.0.0.1", emu.port, context=ctx, timeout=30)
    conn.putrequest("POST", "/2/files/upload")
    conn.putheader("Authorization", f"Bearer {ALICE_TOKEN}")
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Dropbox-API-Arg", b'{"path": "/raw\xff\xfe.txt"}')
    conn.putheader("Content-Length", "1")
    conn.endheaders(b"x")
    r = conn.getresponse()
    assert r.status in (400, 409)
    conn.close()
    still_alive(raw, emu)


def test_garbage_on_the_socket_does_not_crash(raw, emu):
    import socket

    for payload in [b"\x16\x03\x01\x00\x05hello", b"GARBAGE / HTTP/9.9\r\n\r\n", b"\x00" * 100, b"CONNECT\r\n\r\n"]:
        with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as s:
            s.sendall(payload)
            try:
                s.recv(1024)
            except OSError:
                pass
    still_alive(raw, emu)


def test_content_hash_header_argument(raw, emu, root):
    r = upload(raw, emu, json.dumps({"path": f"{root}/h.txt", "content_hash": content_hash(b"abc")}), b"abc")
    assert r.status_code == 200
    r = upload(raw, emu, json.dumps({"path": f"{root}/h2.txt", "content_hash": content_hash(b"abd")}), b"abc")
    assert r.status_code == 409 and r.json()["error"][".tag"] == "content_hash_mismatch"


def test_http_1_0_over_tls(emu):
    import socket
    import ssl

    ctx = ssl.create_default_context(cafile=emu.ca_file)
    ctx.set_alpn_protocols(["http/1.0"])
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as raw_sock:
        with ctx.wrap_socket(raw_sock, server_hostname="127.0.0.1") as s:
            body = b"null"
            s.sendall(
                b"POST /2/users/get_space_usage HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                + f"Authorization: Bearer {ALICE_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
    assert reply.startswith(b"HTTP/1.0 200") or reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert b'"used"' in reply
