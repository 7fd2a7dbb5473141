"""files/download by path, id: and rev:, Range requests, ETags and errors."""

import json
import os

import pytest
from helpers import content_hash, sdk_headers, tag_chain


def api_error(sdk, fn, *a, **kw):
    with pytest.raises(sdk.exceptions.ApiError) as e:
        fn(*a, **kw)
    return e.value.error


@pytest.fixture
def two_revs(dbx, root, sdk):
    v1 = dbx.files_upload(b"first version", f"{root}/doc.txt")
    v2 = dbx.files_upload(b"second version!", f"{root}/doc.txt", mode=sdk.files.WriteMode.overwrite)
    return v1, v2


def test_download_by_path(dbx, two_revs, sdk):
    v1, v2 = two_revs
    md, resp = dbx.files_download(v2.path_display)
    assert isinstance(md, sdk.files.FileMetadata)
    assert resp.content == b"second version!"
    assert md.rev == v2.rev and md.id == v2.id and md.size == 15
    assert md.content_hash == content_hash(b"second version!")
    assert resp.headers["Content-Type"] == "application/octet-stream"


def test_download_by_id_and_by_rev(dbx, two_revs):
    v1, v2 = two_revs
    assert dbx.files_download(v1.id)[1].content == b"second version!"
    md, resp = dbx.files_download(f"rev:{v1.rev}")
    assert resp.content == b"first version"
    assert md.rev == v1.rev and md.size == 13
    # The deprecated `rev` argument still works.
    assert dbx.files_download(v1.path_display, rev=v1.rev)[1].content == b"first version"


def test_download_to_file(dbx, two_revs, tmp_path):
    _, v2 = two_revs
    target = tmp_path / "out.txt"
    md = dbx.files_download_to_file(str(target), v2.path_display)
    assert target.read_bytes() == b"second version!" and md.size == 15


def test_download_a_deleted_file_by_rev(dbx, root):
    md = dbx.files_upload(b"gone soon", f"{root}/g.txt")
    dbx.files_delete_v2(f"{root}/g.txt")
    assert dbx.files_download(f"rev:{md.rev}")[1].content == b"gone soon"


def test_download_errors(dbx, root, sdk):
    dbx.files_create_folder_v2(f"{root}/folder")
    assert tag_chain(api_error(sdk, dbx.files_download, f"{root}/nope")) == ["path", "not_found"]
    assert tag_chain(api_error(sdk, dbx.files_download, f"{root}/folder")) == ["path", "not_file"]
    assert tag_chain(api_error(sdk, dbx.files_download, "rev:0123456789abcdef")) == ["path", "not_found"]
    assert tag_chain(api_error(sdk, dbx.files_download, "id:nothing-here")) == ["path", "not_found"]


def test_range_through_the_sdk_extra_headers(dbx, root):
    data = os.urandom(10_000)
    dbx.files_upload(data, f"{root}/r.bin")
    md, resp = dbx.files_download(f"{root}/r.bin", extra_headers={"Range": "bytes=100-199"})
    assert resp.status_code == 206
    assert resp.content == data[100:200]
    assert resp.headers["Content-Range"] == "bytes 100-199/10000"
    assert md.size == 10_000


@pytest.mark.parametrize(
    "spec,sl",
    [("bytes=0-0", slice(0, 1)), ("bytes=9000-", slice(9000, None)), ("bytes=-10", slice(-10, None)), ("bytes=9990-20000", slice(9990, None))],
)
def test_range_with_raw_requests(dbx, root, raw, emu, spec, sl):
    data = os.urandom(10_000)
    dbx.files_upload(data, f"{root}/r.bin")
    h = sdk_headers(dbx, {"path": f"{root}/r.bin"})
    h["Range"] = spec
    r = raw.post(f"{emu.url}/2/files/download", headers=h, timeout=30)
    assert r.status_code == 206, r.text
    assert r.content == data[sl]
    assert json.loads(r.headers["Dropbox-API-Result"])["size"] == 10_000


def test_unsatisfiable_range(dbx, root, raw, emu):
    dbx.files_upload(b"short", f"{root}/s.bin")
    h = sdk_headers(dbx, {"path": f"{root}/s.bin"})
    h["Range"] = "bytes=10-20"
    r = raw.post(f"{emu.url}/2/files/download", headers=h, timeout=30)
    assert r.status_code == 416
    assert r.headers["Content-Range"] == "bytes */5"


def test_etag_and_if_none_match(dbx, root, raw, emu):
    dbx.files_upload(b"cached", f"{root}/e.txt")
    h = sdk_headers(dbx, {"path": f"{root}/e.txt"})
    r = raw.post(f"{emu.url}/2/files/download", headers=h, timeout=30)
    etag = r.headers["ETag"]
    assert etag
    r2 = raw.post(f"{emu.url}/2/files/download", headers={**h, "If-None-Match": etag}, timeout=30)
    assert r2.status_code == 304 and r2.content == b""


def test_get_download_with_arg_query_parameter(dbx, root, raw, emu):
    dbx.files_upload("naïve content".encode(), f"{root}/q é.txt")
    arg = json.dumps({"path": f"{root}/q é.txt"}, ensure_ascii=False)
    r = raw.get(
        f"{emu.url}/2/files/download",
        params={"arg": arg, "authorization": f"Bearer {dbx._oauth2_access_token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.content == "naïve content".encode()
    result = r.headers["Dropbox-API-Result"]
    assert result.isascii()
    assert json.loads(result)["name"] == "q é.txt"
