"""files/upload: write modes, autorename, strict_conflict, no-op writes, names and paths."""

import datetime

import pytest
from helpers import content_hash, tag_chain


def api_error(sdk, fn, *a, **kw):
    with pytest.raises(sdk.exceptions.ApiError) as e:
        fn(*a, **kw)
    return e.value.error


def test_add_creates_file_with_full_metadata(dbx, root, sdk):
    data = b"hello"
    md = dbx.files_upload(data, f"{root}/Hello.TXT")
    assert isinstance(md, sdk.files.FileMetadata)
    assert md.name == "Hello.TXT"
    assert md.path_display == f"{root}/Hello.TXT"
    assert md.path_lower == f"{root}/hello.txt".lower()
    assert md.size == 5
    assert md.content_hash == content_hash(data) == "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
    assert md.id.startswith("id:")
    assert len(md.rev) >= 9
    assert md.is_downloadable
    # Parents are created implicitly.
    parent = dbx.files_get_metadata(root)
    assert isinstance(parent, sdk.files.FolderMetadata)


def test_empty_file(dbx, root):
    md = dbx.files_upload(b"", f"{root}/empty")
    assert md.size == 0
    assert md.content_hash == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_client_modified_is_kept_verbatim(dbx, root):
    t = datetime.datetime(2015, 5, 12, 15, 50, 38)
    md = dbx.files_upload(b"x", f"{root}/t.txt", client_modified=t)
    assert md.client_modified == t
    assert md.server_modified >= datetime.datetime(2020, 1, 1)


def test_add_conflict_and_autorename(dbx, root, sdk):
    dbx.files_upload(b"one", f"{root}/doc.txt")
    err = api_error(sdk, dbx.files_upload, b"two", f"{root}/doc.txt")
    assert err.is_path()
    assert err.get_path().reason.is_conflict()
    assert err.get_path().reason.get_conflict().is_file()
    assert tag_chain(err) == ["path", "conflict", "file"]
    md = dbx.files_upload(b"two", f"{root}/doc.txt", autorename=True)
    assert md.name == "doc (1).txt"
    md = dbx.files_upload(b"three", f"{root}/doc.txt", autorename=True)
    assert md.name == "doc (2).txt"
    # Names without an extension get the number at the end.
    dbx.files_upload(b"one", f"{root}/README")
    assert dbx.files_upload(b"two", f"{root}/README", autorename=True).name == "README (1)"


def test_identical_content_is_a_no_op_that_keeps_the_rev(dbx, root, sdk):
    first = dbx.files_upload(b"same", f"{root}/same.txt")
    again = dbx.files_upload(b"same", f"{root}/same.txt")
    assert again.rev == first.rev and again.id == first.id
    over = dbx.files_upload(b"same", f"{root}/same.txt", mode=sdk.files.WriteMode.overwrite)
    assert over.rev == first.rev
    upd = dbx.files_upload(b"same", f"{root}/same.txt", mode=sdk.files.WriteMode.update("0123456789abcdef"))
    assert upd.rev == first.rev
    # With autorename too: nothing is written, no copy appears.
    dbx.files_upload(b"same", f"{root}/same.txt", autorename=True)
    assert [e.name for e in dbx.files_list_folder(root).entries] == ["same.txt"]


def test_strict_conflict_counts_identical_content_as_conflict(dbx, root, sdk):
    dbx.files_upload(b"same", f"{root}/s.txt")
    err = api_error(sdk, dbx.files_upload, b"same", f"{root}/s.txt", strict_conflict=True)
    assert tag_chain(err) == ["path", "conflict", "file"]


def test_overwrite_replaces_and_keeps_id(dbx, root, sdk):
    a = dbx.files_upload(b"v1", f"{root}/o.txt")
    b = dbx.files_upload(b"v2", f"{root}/o.txt", mode=sdk.files.WriteMode.overwrite)
    assert b.id == a.id and b.rev != a.rev
    assert dbx.files_download(f"{root}/o.txt")[1].content == b"v2"
    # Overwrite keeps the existing casing of the name.
    c = dbx.files_upload(b"v3", f"{root}/O.TXT", mode=sdk.files.WriteMode.overwrite)
    assert c.id == a.id and c.path_display == f"{root}/o.txt"


def test_update_with_matching_rev_replaces(dbx, root, sdk):
    a = dbx.files_upload(b"base", f"{root}/u.txt")
    b = dbx.files_upload(b"next", f"{root}/u.txt", mode=sdk.files.WriteMode.update(a.rev))
    assert b.id == a.id and b.rev != a.rev
    assert dbx.files_download(f"{root}/u.txt")[1].content == b"next"


def test_update_with_stale_rev_conflicts_or_makes_conflicted_copy(dbx, root, sdk):
    a = dbx.files_upload(b"base", f"{root}/u.txt")
    dbx.files_upload(b"theirs", f"{root}/u.txt", mode=sdk.files.WriteMode.update(a.rev))
    stale = sdk.files.WriteMode.update(a.rev)
    err = api_error(sdk, dbx.files_upload, b"mine", f"{root}/u.txt", mode=stale)
    assert tag_chain(err) == ["path", "conflict", "file"]
    md = dbx.files_upload(b"mine", f"{root}/u.txt", mode=stale, autorename=True)
    # files.stone WriteMode.update: "document (Panda's conflicted copy).txt"
    assert md.name == "u (Alice's conflicted copy).txt"
    assert dbx.files_download(f"{root}/u.txt")[1].content == b"theirs"


def test_update_of_a_deleted_file(dbx, root, sdk):
    a = dbx.files_upload(b"base", f"{root}/gone.txt")
    dbx.files_delete_v2(f"{root}/gone.txt")
    mode = sdk.files.WriteMode.update(a.rev)
    # strict_conflict: a missing file is a conflict too.
    err = api_error(sdk, dbx.files_upload, b"new", f"{root}/gone.txt", mode=mode, strict_conflict=True)
    assert tag_chain(err)[:2] == ["path", "conflict"]
    # Without it the write goes through.
    md = dbx.files_upload(b"new", f"{root}/gone.txt", mode=mode)
    assert md.size == 3


def test_writing_over_a_folder_conflicts(dbx, root, sdk):
    dbx.files_create_folder_v2(f"{root}/dir")
    for mode in (sdk.files.WriteMode.add, sdk.files.WriteMode.overwrite):
        err = api_error(sdk, dbx.files_upload, b"x", f"{root}/dir", mode=mode)
        assert tag_chain(err) == ["path", "conflict", "folder"]
    md = dbx.files_upload(b"x", f"{root}/dir", autorename=True)
    assert md.name == "dir (1)"


def test_writing_below_a_file_conflicts_with_file_ancestor(dbx, root, sdk):
    dbx.files_upload(b"x", f"{root}/f")
    err = api_error(sdk, dbx.files_upload, b"y", f"{root}/f/child.txt")
    assert tag_chain(err) == ["path", "conflict", "file_ancestor"]


def test_case_insensitive_identity_with_preserved_casing(dbx, root, sdk):
    md = dbx.files_upload(b"x", f"{root}/MiXed/Name.Txt")
    got = dbx.files_get_metadata(f"{root}/mixed/NAME.txt".lower())
    assert got.id == md.id and got.path_display == f"{root}/MiXed/Name.Txt"
    err = api_error(sdk, dbx.files_upload, b"other", f"{root}/mixed/name.txt")
    assert tag_chain(err) == ["path", "conflict", "file"]
    # A new file in an existing folder takes the folder's stored casing.
    md2 = dbx.files_upload(b"z", f"{root}/mixed/second.txt")
    assert md2.path_display == f"{root}/MiXed/second.txt"


@pytest.mark.parametrize("name", ["desktop.ini", "Thumbs.db", "thumbs.db", ".DS_Store", "DESKTOP.INI"])
def test_disallowed_names(dbx, root, sdk, name):
    err = api_error(sdk, dbx.files_upload, b"x", f"{root}/{name}")
    assert tag_chain(err) == ["path", "disallowed_name"]
    with pytest.raises(sdk.exceptions.ApiError):
        dbx.files_get_metadata(f"{root}/{name}")


@pytest.mark.parametrize(
    "path",
    ["{root}/a//b.txt", "{root}/a/", "{root}/../x.txt", "{root}/./x.txt", "{root}/tail /x", "{root}/nul\x00.txt", "{root}/back\\slash"],
)
def test_malformed_paths(dbx, root, sdk, path):
    err = api_error(sdk, dbx.files_upload, b"x", path.format(root=root))
    assert tag_chain(err) == ["path", "malformed_path"]


def test_non_ascii_names_round_trip(dbx, root, sdk):
    names = ["Ünïcødé.txt", "日本語のファイル.md", "emoji 😀 🎉.bin", "Ελληνικά"]
    for i, n in enumerate(names):
        md = dbx.files_upload(f"{i}".encode(), f"{root}/{n}")
        assert md.name == n
        assert md.path_display == f"{root}/{n}"
    listed = {e.name for e in dbx.files_list_folder(root).entries}
    assert listed == set(names)
    md, resp = dbx.files_download(f"{root}/emoji 😀 🎉.bin")
    assert md.name == "emoji 😀 🎉.bin" and resp.content == b"2"


def test_content_hash_mismatch(dbx, root, sdk):
    err = api_error(sdk, dbx.files_upload, b"data", f"{root}/h.txt", content_hash="0" * 64)
    assert err.is_content_hash_mismatch()
    with pytest.raises(sdk.exceptions.ApiError):
        dbx.files_get_metadata(f"{root}/h.txt")
    # The right hash is accepted.
    md = dbx.files_upload(b"data", f"{root}/h.txt", content_hash=content_hash(b"data"))
    assert md.content_hash == content_hash(b"data")


def test_upload_by_id_path_overwrites_that_file(dbx, root, sdk):
    a = dbx.files_upload(b"v1", f"{root}/byid.txt")
    b = dbx.files_upload(b"v2", a.id, mode=sdk.files.WriteMode.overwrite)
    assert b.id == a.id and b.path_display == a.path_display
    assert dbx.files_download(f"{root}/byid.txt")[1].content == b"v2"


def test_upload_of_several_mebibytes(dbx, root):
    data = bytes(range(256)) * (4 * 4096 + 7)  # a bit over 4 MiB
    md = dbx.files_upload(data, f"{root}/big.bin")
    assert md.size == len(data)
    assert md.content_hash == content_hash(data)
    assert dbx.files_download(f"{root}/big.bin")[1].content == data


def test_failed_upload_keeps_the_data_in_a_session_for_a_retry(dbx, root, sdk):
    """UploadWriteFailed.upload_session_id: the data is already on the server, and the
    commit can be retried with upload_session/finish."""
    dbx.files_upload(b"first", f"{root}/taken.txt")
    err = api_error(sdk, dbx.files_upload, b"second!", f"{root}/taken.txt")
    sid = err.get_path().upload_session_id
    assert sid
    md = dbx.files_upload_session_finish(
        b"", sdk.files.UploadSessionCursor(session_id=sid, offset=7), sdk.files.CommitInfo(path=f"{root}/retry.txt")
    )
    assert md.size == 7
    assert dbx.files_download(f"{root}/retry.txt")[1].content == b"second!"
