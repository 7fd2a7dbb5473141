"""Accounts are isolated from each other, and app-folder tokens are jailed in their folder."""

import pytest
from conftest import ALICE, APP_FOLDER, BOB
from helpers import list_all, tag_chain


def api_error(sdk, fn, *a, **kw):
    with pytest.raises(sdk.exceptions.ApiError) as e:
        fn(*a, **kw)
    return e.value.error


def test_accounts_do_not_see_each_other(dbx, dbx_bob, root, sdk, emu):
    a = dbx.files_upload(b"alice's", f"{root}/secret.txt")
    assert tag_chain(api_error(sdk, dbx_bob.files_get_metadata, f"{root}/secret.txt")) == ["path", "not_found"]
    assert tag_chain(api_error(sdk, dbx_bob.files_get_metadata, a.id)) == ["path", "not_found"]
    assert tag_chain(api_error(sdk, dbx_bob.files_download, a.id)) == ["path", "not_found"]
    assert tag_chain(api_error(sdk, dbx_bob.files_download, f"rev:{a.rev}")) == ["path", "not_found"]
    assert tag_chain(api_error(sdk, dbx_bob.files_delete_v2, a.id))[0] == "path_lookup"
    # The same path for bob is a separate file.
    b = dbx_bob.files_upload(b"bob's", f"{root}/secret.txt")
    assert b.id != a.id
    assert dbx.files_download(f"{root}/secret.txt")[1].content == b"alice's"
    assert f"{APP_FOLDER}{root}/secret.txt" in emu.tree(BOB)
    assert emu.tree(ALICE)[f"{APP_FOLDER}{root}/secret.txt"]["id"] == a.id


def test_cursor_of_another_account_is_refused(dbx, dbx_bob, root, sdk):
    dbx.files_upload(b"x", f"{root}/x.txt")
    _, cursor = list_all(dbx, root)
    with pytest.raises(sdk.exceptions.BadInputError):
        dbx_bob.files_list_folder_continue(cursor)


def test_bob_changes_do_not_wake_alice(dbx, dbx_bob, root):
    import threading
    import time

    dbx.files_upload(b"x", f"{root}/x.txt")
    _, cursor = list_all(dbx, "", recursive=True)
    t = threading.Timer(0.3, lambda: dbx_bob.files_upload(b"bob", f"{root}/bob.txt"))
    t2 = threading.Timer(2.0, lambda: dbx.files_upload(b"alice", f"{root}/alice.txt"))
    start = time.monotonic()
    t.start()
    t2.start()
    res = dbx.files_list_folder_longpoll(cursor, timeout=30)
    t.join()
    t2.join()
    assert res.changes and time.monotonic() - start >= 1.8


def test_space_usage_is_per_account(dbx, dbx_bob, root):
    a0, b0 = dbx.users_get_space_usage().used, dbx_bob.users_get_space_usage().used
    dbx.files_upload(b"z" * 5000, f"{root}/z.bin")
    assert dbx.users_get_space_usage().used == a0 + 5000
    assert dbx_bob.users_get_space_usage().used == b0


def test_app_folder_jail(dbx, full_dbx, root, sdk, emu):
    outside = f"/jail-outside-{root[1:]}.txt"
    out = full_dbx.files_upload(b"outside", outside)
    # Not by path (that path lies inside the app folder for the jailed token)...
    assert tag_chain(api_error(sdk, dbx.files_get_metadata, outside)) == ["path", "not_found"]
    # ...not by id or rev...
    assert tag_chain(api_error(sdk, dbx.files_get_metadata, out.id)) == ["path", "not_found"]
    assert tag_chain(api_error(sdk, dbx.files_download, out.id)) == ["path", "not_found"]
    assert tag_chain(api_error(sdk, dbx.files_download, f"rev:{out.rev}")) == ["path", "not_found"]
    assert tag_chain(api_error(sdk, dbx.files_move_v2, out.id, f"{root}/stolen.txt"))[0] == "from_lookup"
    assert tag_chain(api_error(sdk, dbx.files_copy_v2, out.id, f"{root}/stolen.txt"))[0] == "from_lookup"
    assert tag_chain(api_error(sdk, dbx.files_list_revisions, out.id, mode=sdk.files.ListRevisionsMode.id))[0] == "path"
    assert tag_chain(api_error(sdk, dbx.files_list_folder, out.id))[0] == "path"
    assert tag_chain(api_error(sdk, dbx.files_delete_v2, out.id))[0] == "path_lookup"
    with pytest.raises(sdk.exceptions.ApiError):
        dbx.files_upload(b"overwrite?", out.id, mode=sdk.files.WriteMode.overwrite)
    assert full_dbx.files_download(outside)[1].content == b"outside"
    # ...and not with dot-dot.
    err = api_error(sdk, dbx.files_get_metadata, f"/../../{outside[1:]}")
    assert tag_chain(err) == ["path", "malformed_path"]
    # ns: paths name the whole namespace, which an app folder token cannot use.
    nsid = full_dbx.users_get_current_account().root_info.root_namespace_id
    with pytest.raises((sdk.exceptions.ApiError, sdk.exceptions.BadInputError)):
        dbx.files_get_metadata(f"ns:{nsid}{outside}")
    # The full-access token sees the app's files under /Apps/<folder> with the same ids.
    mine = dbx.files_upload(b"mine", f"{root}/mine.txt")
    seen = full_dbx.files_get_metadata(f"{APP_FOLDER}{root}/mine.txt")
    assert seen.id == mine.id and seen.rev == mine.rev
    assert full_dbx.files_get_metadata(mine.id).path_display == f"{APP_FOLDER}{root}/mine.txt"
    # The full listing of the app folder holds the app's root listing.
    app_root = {e.name for e in dbx.files_list_folder("").entries}
    full_view = {e.name for e in full_dbx.files_list_folder(APP_FOLDER).entries}
    assert app_root == full_view


def test_full_access_changes_inside_the_app_folder_reach_the_app_cursor(dbx, full_dbx, root):
    dbx.files_upload(b"x", f"{root}/x.txt")
    _, cursor = list_all(dbx, root)
    full_dbx.files_upload(b"from outside", f"{APP_FOLDER}{root}/y.txt")
    res = dbx.files_list_folder_continue(cursor)
    assert [(e.name, e.path_display) for e in res.entries] == [("y.txt", f"{root}/y.txt")]


def test_ns_path_with_full_access(full_dbx, root):
    nsid = full_dbx.users_get_current_account().root_info.root_namespace_id
    full_dbx.files_upload(b"ns", f"/ns-{root[1:]}.txt")
    md = full_dbx.files_get_metadata(f"ns:{nsid}/ns-{root[1:]}.txt")
    assert md.path_display == f"/ns-{root[1:]}.txt"


def test_path_root_header(client, sdk, full_dbx):
    from conftest import ALICE_TOKEN, FULL_ACCESS_APP_KEY

    nsid = full_dbx.users_get_current_account().root_info.root_namespace_id
    good = client(oauth2_refresh_token=ALICE_TOKEN, app_key=FULL_ACCESS_APP_KEY).with_path_root(sdk.common.PathRoot.root(nsid))
    assert good.files_list_folder("").entries is not None
    bad = client(oauth2_refresh_token=ALICE_TOKEN, app_key=FULL_ACCESS_APP_KEY).with_path_root(sdk.common.PathRoot.root("999"))
    with pytest.raises(sdk.exceptions.PathRootError) as e:
        bad.files_list_folder("")
    assert e.value.error.is_invalid_root()


def test_an_edited_cursor_does_not_leave_the_app_folder(dbx, full_dbx, root, sdk):
    """Cursors are opaque: one edited to list the whole account is refused, not served."""
    import base64
    import json as _json

    full_dbx.files_upload(b"secret", f"/cursor-secret-{root[1:]}.txt")
    dbx.files_upload(b"x", f"{root}/x.txt")
    _, cursor = list_all(dbx, root, recursive=True)
    assert cursor.startswith("AAE")
    raw = cursor[3:] + "=" * (-len(cursor[3:]) % 4)
    fields = _json.loads(base64.urlsafe_b64decode(raw))
    for forged in ({**fields, "p": ""}, {**fields, "p": "/apps"}, {**fields, "q": 0, "p": "", "k": ""}):
        token = "AAE" + base64.urlsafe_b64encode(_json.dumps(forged).encode()).decode().rstrip("=")
        with pytest.raises(sdk.exceptions.BadInputError):
            dbx.files_list_folder_continue(token)
