"""files/list_folder, list_folder/continue, get_latest_cursor, list_folder/longpoll and
get_metadata."""

import threading
import time

import pytest
from helpers import by_path, continue_all, kind, list_all, tag_chain


def api_error(sdk, fn, *a, **kw):
    with pytest.raises(sdk.exceptions.ApiError) as e:
        fn(*a, **kw)
    return e.value.error


@pytest.fixture
def tree(dbx, root):
    """root/{a.txt, b.txt, sub/{c.txt, deep/d.txt}}"""
    for p in ("a.txt", "b.txt", "sub/c.txt", "sub/deep/d.txt"):
        dbx.files_upload(p.encode(), f"{root}/{p}")
    return root


def test_list_folder_direct_children(dbx, tree, sdk):
    res = dbx.files_list_folder(tree)
    assert not res.has_more and res.cursor
    names = {e.name: kind(e) for e in res.entries}
    assert names == {"a.txt": "file", "b.txt": "file", "sub": "folder"}
    for e in res.entries:
        assert e.path_display.startswith(tree + "/")
        assert e.path_lower == e.path_display.lower()
        assert e.id.startswith("id:")


def test_list_folder_recursive_includes_the_folder_itself(dbx, tree):
    entries, _ = list_all(dbx, tree, recursive=True)
    paths = [e.path_lower for e in entries]
    low = tree.lower()
    assert set(paths) == {low, f"{low}/a.txt", f"{low}/b.txt", f"{low}/sub", f"{low}/sub/c.txt", f"{low}/sub/deep", f"{low}/sub/deep/d.txt"}
    # Parents come before their children.
    for p in paths:
        parent = p.rsplit("/", 1)[0]
        if parent in paths:
            assert paths.index(parent) < paths.index(p)


def test_list_root_of_the_app_folder(dbx, tree):
    entries, _ = list_all(dbx, "")
    assert tree.lower() in {e.path_lower for e in entries}
    for e in entries:
        assert e.path_lower.count("/") == 1  # direct children only, paths relative to the app folder


def test_list_folder_by_id(dbx, tree):
    folder = dbx.files_get_metadata(f"{tree}/sub")
    res = dbx.files_list_folder(folder.id)
    assert {e.name for e in res.entries} == {"c.txt", "deep"}


def test_limit_pages_through_everything(dbx, root):
    for i in range(7):
        dbx.files_upload(b"%d" % i, f"{root}/f{i}.txt")
    res = dbx.files_list_folder(root, limit=3)
    pages = [res.entries]
    assert res.has_more
    while res.has_more:
        res = dbx.files_list_folder_continue(res.cursor)
        pages.append(res.entries)
    assert all(len(p) <= 3 for p in pages)
    assert sorted(e.name for p in pages for e in p) == [f"f{i}.txt" for i in range(7)]


def test_include_deleted(dbx, tree, sdk):
    dbx.files_delete_v2(f"{tree}/a.txt")
    plain = by_path(dbx.files_list_folder(tree).entries)
    assert f"{tree}/a.txt".lower() not in plain
    with_deleted = by_path(dbx.files_list_folder(tree, include_deleted=True).entries)
    assert isinstance(with_deleted[f"{tree}/a.txt".lower()], sdk.files.DeletedMetadata)


def test_list_folder_errors(dbx, tree, sdk):
    err = api_error(sdk, dbx.files_list_folder, f"{tree}/missing")
    assert tag_chain(err) == ["path", "not_found"]
    err = api_error(sdk, dbx.files_list_folder, f"{tree}/a.txt")
    assert tag_chain(err) == ["path", "not_folder"]
    err = api_error(sdk, dbx.files_list_folder, "id:doesnotexist")
    assert tag_chain(err) == ["path", "not_found"]


def test_continue_reports_changes_since_cursor(dbx, tree, sdk):
    _, cursor = list_all(dbx, tree, recursive=True)
    res = dbx.files_list_folder_continue(cursor)
    assert res.entries == [] and not res.has_more
    new = dbx.files_upload(b"new", f"{tree}/new.txt")
    changed = dbx.files_upload(b"B!", f"{tree}/b.txt", mode=sdk.files.WriteMode.overwrite)
    dbx.files_delete_v2(f"{tree}/sub/c.txt")
    dbx.files_create_folder_v2(f"{tree}/newdir")
    entries, cursor2 = continue_all(dbx, res.cursor)
    got = by_path(entries)
    low = tree.lower()
    assert got[f"{low}/new.txt"].rev == new.rev
    assert got[f"{low}/b.txt"].rev == changed.rev
    assert isinstance(got[f"{low}/sub/c.txt"], sdk.files.DeletedMetadata)
    assert isinstance(got[f"{low}/newdir"], sdk.files.FolderMetadata)
    assert f"{low}/a.txt" not in got
    # Nothing new after that.
    assert dbx.files_list_folder_continue(cursor2).entries == []


def test_continue_folder_delete_and_move(dbx, tree, sdk):
    _, cursor = list_all(dbx, tree, recursive=True)
    before = dbx.files_get_metadata(f"{tree}/sub/deep/d.txt")
    dbx.files_move_v2(f"{tree}/sub/deep", f"{tree}/moved")
    entries, cursor = continue_all(dbx, cursor)
    got = by_path(entries)
    low = tree.lower()
    assert isinstance(got[f"{low}/sub/deep"], sdk.files.DeletedMetadata)
    assert got[f"{low}/moved/d.txt"].id == before.id
    assert isinstance(got[f"{low}/moved"], sdk.files.FolderMetadata)
    dbx.files_delete_v2(f"{tree}/sub")
    entries, _ = continue_all(dbx, cursor)
    got = by_path(entries)
    assert isinstance(got[f"{low}/sub"], sdk.files.DeletedMetadata)
    assert not any(isinstance(e, sdk.files.FileMetadata) and e.path_lower.startswith(f"{low}/sub/") for e in entries)


def test_non_recursive_cursor_sees_only_direct_children(dbx, tree):
    _, cursor = list_all(dbx, tree)
    dbx.files_upload(b"deep", f"{tree}/sub/deep/new.txt")
    dbx.files_upload(b"top", f"{tree}/top.txt")
    entries, _ = continue_all(dbx, cursor)
    assert [e.name for e in entries] == ["top.txt"]


def test_cursor_of_a_subfolder_ignores_siblings(dbx, tree):
    _, cursor = list_all(dbx, f"{tree}/sub", recursive=True)
    dbx.files_upload(b"x", f"{tree}/outside.txt")
    dbx.files_upload(b"y", f"{tree}/sub/inside.txt")
    entries, _ = continue_all(dbx, cursor)
    assert [e.name for e in entries] == ["inside.txt"]


def test_get_latest_cursor_sees_only_later_changes(dbx, tree):
    cur = dbx.files_list_folder_get_latest_cursor(tree, recursive=True).cursor
    dbx.files_upload(b"later", f"{tree}/later.txt")
    entries, _ = continue_all(dbx, cur)
    assert [e.name for e in entries] == ["later.txt"]


def test_get_latest_cursor_errors(dbx, tree, sdk):
    err = api_error(sdk, dbx.files_list_folder_get_latest_cursor, f"{tree}/nope")
    assert tag_chain(err) == ["path", "not_found"]


def test_reset_cursors_gives_reset(dbx, tree, emu, sdk):
    _, cursor = list_all(dbx, tree)
    emu.admin("POST", "reset_cursors", {"account": "alice"})
    err = api_error(sdk, dbx.files_list_folder_continue, cursor)
    assert err.is_reset()
    err = api_error(sdk, dbx.files_list_folder_longpoll, cursor)
    assert err.is_reset()
    # A fresh listing works again.
    entries, cursor = list_all(dbx, tree)
    assert entries
    assert dbx.files_list_folder_continue(cursor).entries == []


def test_garbage_cursor_is_bad_input(dbx, sdk):
    with pytest.raises(sdk.exceptions.BadInputError):
        dbx.files_list_folder_continue("not-a-cursor")


# ---------------------------------------------------------------- longpoll


def test_longpoll_wakes_up_on_a_change_from_another_thread(dbx, client, tree):
    from conftest import ALICE_TOKEN

    _, cursor = list_all(dbx, tree, recursive=True)
    other = client(ALICE_TOKEN)
    timer = threading.Timer(1.0, lambda: other.files_upload(b"ping", f"{tree}/ping.txt"))
    start = time.monotonic()
    timer.start()
    try:
        res = dbx.files_list_folder_longpoll(cursor, timeout=30)
    finally:
        timer.join()
    took = time.monotonic() - start
    assert res.changes is True
    assert 0.8 <= took < 10, took
    assert res.backoff is None
    entries, _ = continue_all(dbx, cursor)
    assert [e.name for e in entries] == ["ping.txt"]


def test_longpoll_returns_at_once_when_already_behind(dbx, tree):
    _, cursor = list_all(dbx, tree)
    dbx.files_upload(b"x", f"{tree}/x.txt")
    start = time.monotonic()
    assert dbx.files_list_folder_longpoll(cursor, timeout=30).changes
    assert time.monotonic() - start < 5


def test_longpoll_ignores_changes_outside_the_cursor(dbx, client, tree):
    """A change elsewhere does not wake the poll; the real one does."""
    from conftest import ALICE_TOKEN

    _, cursor = list_all(dbx, f"{tree}/sub")
    other = client(ALICE_TOKEN)

    def writes():
        other.files_upload(b"elsewhere", f"{tree}/elsewhere.txt")
        time.sleep(1.5)
        other.files_upload(b"here", f"{tree}/sub/here.txt")

    t = threading.Thread(target=writes)
    start = time.monotonic()
    t.start()
    res = dbx.files_list_folder_longpoll(cursor, timeout=30)
    t.join()
    assert res.changes and time.monotonic() - start >= 1.4


def test_longpoll_needs_no_authorization(raw, emu, dbx, tree):
    _, cursor = list_all(dbx, tree)
    dbx.files_upload(b"x", f"{tree}/x.txt")
    r = raw.post(f"{emu.url}/2/files/list_folder/longpoll", json={"cursor": cursor, "timeout": 30}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"changes": True}


def test_longpoll_backoff_set_through_admin(dbx, tree, faults):
    faults(longpoll_backoff_secs=7)
    _, cursor = list_all(dbx, tree)
    dbx.files_upload(b"x", f"{tree}/x.txt")
    res = dbx.files_list_folder_longpoll(cursor, timeout=30)
    assert res.changes and res.backoff == 7


def test_longpoll_timeout_out_of_range_is_bad_input(raw, emu, dbx, tree):
    _, cursor = list_all(dbx, tree)
    for t in (5, 481):
        r = raw.post(f"{emu.url}/2/files/list_folder/longpoll", json={"cursor": cursor, "timeout": t}, timeout=30)
        assert r.status_code == 400 and r.headers["Content-Type"].startswith("text/plain")


# ---------------------------------------------------------------- get_metadata


def test_get_metadata_file_and_folder(dbx, tree, sdk):
    f = dbx.files_get_metadata(f"{tree}/a.txt")
    assert isinstance(f, sdk.files.FileMetadata) and f.size == 5
    d = dbx.files_get_metadata(f"{tree}/sub")
    assert isinstance(d, sdk.files.FolderMetadata) and d.name == "sub"


def test_get_metadata_by_id(dbx, tree):
    f = dbx.files_get_metadata(f"{tree}/sub/c.txt")
    assert dbx.files_get_metadata(f.id).path_display == f"{tree}/sub/c.txt"
    dbx.files_move_v2(f"{tree}/sub/c.txt", f"{tree}/c-moved.txt")
    assert dbx.files_get_metadata(f.id).path_display == f"{tree}/c-moved.txt"


def test_get_metadata_include_deleted(dbx, tree, sdk):
    dbx.files_delete_v2(f"{tree}/b.txt")
    err = api_error(sdk, dbx.files_get_metadata, f"{tree}/b.txt")
    assert tag_chain(err) == ["path", "not_found"]
    md = dbx.files_get_metadata(f"{tree}/b.txt", include_deleted=True)
    assert isinstance(md, sdk.files.DeletedMetadata)
    assert md.name == "b.txt" and md.path_display == f"{tree}/b.txt"
    # A path that never existed is not_found even with include_deleted.
    err = api_error(sdk, dbx.files_get_metadata, f"{tree}/never.txt", include_deleted=True)
    assert tag_chain(err) == ["path", "not_found"]


def test_get_metadata_not_found_and_malformed(dbx, tree, sdk):
    assert tag_chain(api_error(sdk, dbx.files_get_metadata, f"{tree}/zz")) == ["path", "not_found"]
    assert tag_chain(api_error(sdk, dbx.files_get_metadata, f"{tree}//a.txt")) == ["path", "malformed_path"]
    assert tag_chain(api_error(sdk, dbx.files_get_metadata, "id:unknown")) == ["path", "not_found"]


def test_get_metadata_by_rev(dbx, root, sdk):
    """get_metadata takes a ReadPath, so `rev:` works as for download (Maestral's
    `diff` and `restore` rely on it)."""
    v1 = dbx.files_upload(b"one", f"{root}/r.txt")
    v2 = dbx.files_upload(b"two!", f"{root}/r.txt", mode=sdk.files.WriteMode.overwrite)
    md = dbx.files_get_metadata(f"rev:{v1.rev}")
    assert isinstance(md, sdk.files.FileMetadata)
    assert (md.rev, md.size, md.id) == (v1.rev, 3, v1.id)
    assert dbx.files_get_metadata(f"rev:{v2.rev}").size == 4
    assert tag_chain(api_error(sdk, dbx.files_get_metadata, "rev:0123456789abcdef")) == ["path", "not_found"]


def test_root_must_be_empty_not_slash(dbx, sdk):
    with pytest.raises(sdk.exceptions.BadInputError) as e:
        dbx.files_list_folder("/")
    assert 'Specify the root folder as an empty string rather than as "/"' in e.value.message
    with pytest.raises(sdk.exceptions.BadInputError):
        dbx.files_list_folder_get_latest_cursor("/")
