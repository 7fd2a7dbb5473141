"""delete_v2, delete_batch(+check), move_v2, copy_v2, move_batch_v2(+check_v2),
copy_batch_v2, create_folder_v2, create_folder_batch(+check), list_revisions, restore."""

import pytest
from helpers import tag_chain


def api_error(sdk, fn, *a, **kw):
    with pytest.raises(sdk.exceptions.ApiError) as e:
        fn(*a, **kw)
    return e.value.error


def exists(dbx, sdk, path):
    try:
        dbx.files_get_metadata(path)
        return True
    except sdk.exceptions.ApiError as e:
        assert tag_chain(e.error) == ["path", "not_found"]
        return False


def wait_job(check, launch):
    """Resolve a batch launch (complete at once, or an async job to poll)."""
    if launch.is_complete():
        return launch.get_complete()
    assert launch.is_async_job_id()
    job = launch.get_async_job_id()
    for _ in range(100):
        status = check(job)
        if status.is_complete():
            return status.get_complete()
        assert status.is_in_progress(), status
    raise AssertionError("job never completed")


# ---------------------------------------------------------------- delete


def test_delete_file_returns_its_metadata(dbx, root, sdk):
    up = dbx.files_upload(b"x", f"{root}/d.txt")
    res = dbx.files_delete_v2(f"{root}/d.txt")
    assert isinstance(res.metadata, sdk.files.FileMetadata)
    assert res.metadata.id == up.id and res.metadata.rev == up.rev
    assert not exists(dbx, sdk, f"{root}/d.txt")


def test_delete_folder_removes_subtree(dbx, root, sdk):
    dbx.files_upload(b"x", f"{root}/dir/a/b.txt")
    res = dbx.files_delete_v2(f"{root}/dir")
    assert isinstance(res.metadata, sdk.files.FolderMetadata)
    assert not exists(dbx, sdk, f"{root}/dir/a/b.txt")
    assert not exists(dbx, sdk, f"{root}/dir/a")


def test_delete_by_id_and_errors(dbx, root, sdk):
    up = dbx.files_upload(b"x", f"{root}/byid.txt")
    dbx.files_delete_v2(up.id)
    assert not exists(dbx, sdk, f"{root}/byid.txt")
    err = api_error(sdk, dbx.files_delete_v2, f"{root}/byid.txt")
    assert tag_chain(err) == ["path_lookup", "not_found"]


def test_delete_with_parent_rev(dbx, root, sdk):
    v1 = dbx.files_upload(b"1", f"{root}/p.txt")
    v2 = dbx.files_upload(b"2", f"{root}/p.txt", mode=sdk.files.WriteMode.overwrite)
    with pytest.raises(sdk.exceptions.ApiError):
        dbx.files_delete_v2(f"{root}/p.txt", parent_rev=v1.rev)
    assert exists(dbx, sdk, f"{root}/p.txt")
    dbx.files_delete_v2(f"{root}/p.txt", parent_rev=v2.rev)
    assert not exists(dbx, sdk, f"{root}/p.txt")


def test_delete_batch_and_check(dbx, root, sdk):
    for i in range(3):
        dbx.files_upload(b"%d" % i, f"{root}/{i}.txt")
    entries = [sdk.files.DeleteArg(f"{root}/{i}.txt") for i in range(3)] + [sdk.files.DeleteArg(f"{root}/missing")]
    result = wait_job(dbx.files_delete_batch_check, dbx.files_delete_batch(entries))
    e = result.entries
    assert len(e) == 4
    assert all(x.is_success() for x in e[:3])
    assert [x.get_success().metadata.name for x in e[:3]] == ["0.txt", "1.txt", "2.txt"]
    assert e[3].is_failure() and tag_chain(e[3].get_failure()) == ["path_lookup", "not_found"]
    assert dbx.files_list_folder(root).entries == []


def test_delete_batch_check_unknown_job(dbx, sdk):
    err = api_error(sdk, dbx.files_delete_batch_check, "dbjid:unknown")
    assert err.is_invalid_async_job_id()


# ---------------------------------------------------------------- move and copy


def test_move_keeps_id_and_content(dbx, root, sdk):
    up = dbx.files_upload(b"moving", f"{root}/from.txt")
    res = dbx.files_move_v2(f"{root}/from.txt", f"{root}/to/There.txt")
    md = res.metadata
    assert isinstance(md, sdk.files.FileMetadata)
    assert md.id == up.id and md.path_display == f"{root}/to/There.txt" and md.name == "There.txt"
    assert not exists(dbx, sdk, f"{root}/from.txt")
    assert dbx.files_download(up.id)[1].content == b"moving"


def test_move_folder_keeps_ids_below(dbx, root, sdk):
    inner = dbx.files_upload(b"in", f"{root}/a/inner.txt")
    folder = dbx.files_get_metadata(f"{root}/a")
    res = dbx.files_move_v2(f"{root}/a", f"{root}/b")
    assert res.metadata.id == folder.id
    assert dbx.files_get_metadata(inner.id).path_display == f"{root}/b/inner.txt"


def test_copy_makes_a_new_id(dbx, root, sdk):
    up = dbx.files_upload(b"copy me", f"{root}/orig.txt")
    res = dbx.files_copy_v2(f"{root}/orig.txt", f"{root}/copy.txt")
    md = res.metadata
    assert md.id != up.id and md.content_hash == up.content_hash and md.size == up.size
    assert exists(dbx, sdk, f"{root}/orig.txt")
    assert dbx.files_download(f"{root}/copy.txt")[1].content == b"copy me"
    # A copy of a folder copies its contents with new ids.
    dbx.files_upload(b"x", f"{root}/dir/x.txt")
    dbx.files_copy_v2(f"{root}/dir", f"{root}/dir2")
    a = dbx.files_get_metadata(f"{root}/dir/x.txt")
    b = dbx.files_get_metadata(f"{root}/dir2/x.txt")
    assert a.id != b.id and a.content_hash == b.content_hash


def test_relocation_errors(dbx, root, sdk):
    dbx.files_upload(b"a", f"{root}/a.txt")
    dbx.files_upload(b"b", f"{root}/b.txt")
    dbx.files_create_folder_v2(f"{root}/dir")
    err = api_error(sdk, dbx.files_move_v2, f"{root}/none.txt", f"{root}/x.txt")
    assert tag_chain(err) == ["from_lookup", "not_found"]
    err = api_error(sdk, dbx.files_move_v2, f"{root}/a.txt", f"{root}/b.txt")
    assert tag_chain(err) == ["to", "conflict", "file"]
    err = api_error(sdk, dbx.files_copy_v2, f"{root}/a.txt", f"{root}/dir")
    assert tag_chain(err) == ["to", "conflict", "folder"]
    err = api_error(sdk, dbx.files_move_v2, f"{root}/dir", f"{root}/dir/inside")
    assert err.is_cant_move_folder_into_itself()
    err = api_error(sdk, dbx.files_move_v2, f"{root}/a.txt", f"{root}/thumbs.db")
    assert tag_chain(err) == ["to", "disallowed_name"]
    md = dbx.files_move_v2(f"{root}/a.txt", f"{root}/b.txt", autorename=True).metadata
    assert md.name == "b (1).txt"


def test_move_batch_v2_and_check(dbx, root, sdk):
    ids = [dbx.files_upload(b"%d" % i, f"{root}/m{i}.txt").id for i in range(3)]
    entries = [sdk.files.RelocationPath(f"{root}/m{i}.txt", f"{root}/moved/m{i}.txt") for i in range(3)]
    entries.append(sdk.files.RelocationPath(f"{root}/missing.txt", f"{root}/moved/missing.txt"))
    result = wait_job(dbx.files_move_batch_check_v2, dbx.files_move_batch_v2(entries))
    e = result.entries
    assert [x.is_success() for x in e] == [True, True, True, False]
    assert [x.get_success().id for x in e[:3]] == ids
    assert [x.get_success().path_display for x in e[:3]] == [f"{root}/moved/m{i}.txt" for i in range(3)]
    failure = e[3].get_failure()
    assert failure.is_relocation_error()
    assert tag_chain(failure.get_relocation_error()) == ["from_lookup", "not_found"]


def test_copy_batch_v2_and_check(dbx, root, sdk):
    up = dbx.files_upload(b"src", f"{root}/src.txt")
    entries = [sdk.files.RelocationPath(f"{root}/src.txt", f"{root}/c{i}.txt") for i in range(2)]
    result = wait_job(dbx.files_copy_batch_check_v2, dbx.files_copy_batch_v2(entries))
    assert all(x.is_success() for x in result.entries)
    assert all(x.get_success().id != up.id for x in result.entries)
    assert exists(dbx, sdk, f"{root}/src.txt")


def test_move_batch_check_unknown_job(dbx, sdk):
    err = api_error(sdk, dbx.files_move_batch_check_v2, "dbjid:unknown")
    assert err.is_invalid_async_job_id()


# ---------------------------------------------------------------- folders


def test_create_folder_v2(dbx, root, sdk):
    res = dbx.files_create_folder_v2(f"{root}/New Folder")
    assert isinstance(res.metadata, sdk.files.FolderMetadata)
    assert res.metadata.name == "New Folder" and res.metadata.id.startswith("id:")
    err = api_error(sdk, dbx.files_create_folder_v2, f"{root}/new folder")
    assert tag_chain(err) == ["path", "conflict", "folder"]
    again = dbx.files_create_folder_v2(f"{root}/New Folder", autorename=True)
    assert again.metadata.name == "New Folder (1)"
    dbx.files_upload(b"f", f"{root}/file")
    err = api_error(sdk, dbx.files_create_folder_v2, f"{root}/file")
    assert tag_chain(err) == ["path", "conflict", "file"]
    err = api_error(sdk, dbx.files_create_folder_v2, f"{root}/file/below")
    assert tag_chain(err) == ["path", "conflict", "file_ancestor"]
    err = api_error(sdk, dbx.files_create_folder_v2, f"{root}/bad//name")
    assert tag_chain(err) == ["path", "malformed_path"]


def test_create_folder_batch_sync(dbx, root, sdk):
    launch = dbx.files_create_folder_batch([f"{root}/f1", f"{root}/f2/deep", f"{root}/f1"])
    result = wait_job(dbx.files_create_folder_batch_check, launch)
    e = result.entries
    assert e[0].is_success() and e[0].get_success().metadata.name == "f1"
    assert e[1].is_success() and e[1].get_success().metadata.path_display == f"{root}/f2/deep"
    assert e[2].is_failure()
    assert tag_chain(e[2].get_failure()) == ["path", "conflict", "folder"]


def test_create_folder_batch_force_async_and_check(dbx, root, sdk):
    launch = dbx.files_create_folder_batch([f"{root}/a", f"{root}/b"], force_async=True)
    assert launch.is_async_job_id()
    result = wait_job(dbx.files_create_folder_batch_check, launch)
    assert [x.get_success().metadata.name for x in result.entries] == ["a", "b"]
    err = api_error(sdk, dbx.files_create_folder_batch_check, "dbjid:unknown")
    assert err.is_invalid_async_job_id()


# ---------------------------------------------------------------- revisions


def test_list_revisions_newest_first(dbx, root, sdk):
    revs = [dbx.files_upload(b"v%d" % i, f"{root}/r.txt", mode=sdk.files.WriteMode.overwrite).rev for i in range(4)]
    res = dbx.files_list_revisions(f"{root}/r.txt")
    assert not res.is_deleted
    assert [e.rev for e in res.entries] == revs[::-1]
    assert all(e.path_display == f"{root}/r.txt" for e in res.entries)
    res = dbx.files_list_revisions(f"{root}/r.txt", limit=2)
    assert [e.rev for e in res.entries] == revs[:1:-1] and res.has_more
    res2 = dbx.files_list_revisions(f"{root}/r.txt", limit=10, before_rev=res.entries[-1].rev)
    assert [e.rev for e in res2.entries] == revs[1::-1]


def test_list_revisions_by_id_and_after_delete(dbx, root, sdk):
    a = dbx.files_upload(b"1", f"{root}/x.txt")
    b = dbx.files_upload(b"2", f"{root}/x.txt", mode=sdk.files.WriteMode.overwrite)
    res = dbx.files_list_revisions(a.id, mode=sdk.files.ListRevisionsMode.id)
    assert {e.rev for e in res.entries} == {a.rev, b.rev}
    dbx.files_delete_v2(f"{root}/x.txt")
    res = dbx.files_list_revisions(f"{root}/x.txt")
    assert res.is_deleted and res.server_deleted is not None
    assert {e.rev for e in res.entries} == {a.rev, b.rev}


def test_list_revisions_errors(dbx, root, sdk):
    dbx.files_create_folder_v2(f"{root}/folder")
    assert tag_chain(api_error(sdk, dbx.files_list_revisions, f"{root}/folder")) == ["path", "not_file"]
    assert tag_chain(api_error(sdk, dbx.files_list_revisions, f"{root}/nothing")) == ["path", "not_found"]
    dbx.files_upload(b"1", f"{root}/y.txt")
    err = api_error(sdk, dbx.files_list_revisions, f"{root}/y.txt", before_rev="0123456789abc")
    assert err.is_invalid_before_rev()


def test_restore(dbx, root, sdk):
    v1 = dbx.files_upload(b"old", f"{root}/r.txt")
    v2 = dbx.files_upload(b"new", f"{root}/r.txt", mode=sdk.files.WriteMode.overwrite)
    md = dbx.files_restore(f"{root}/r.txt", v1.rev)
    assert isinstance(md, sdk.files.FileMetadata)
    assert md.rev not in (v1.rev, v2.rev)
    assert md.content_hash == v1.content_hash and md.id == v1.id
    assert dbx.files_download(f"{root}/r.txt")[1].content == b"old"
    # Restoring a deleted file brings it back.
    dbx.files_delete_v2(f"{root}/r.txt")
    md = dbx.files_restore(f"{root}/r.txt", v2.rev)
    assert dbx.files_download(f"{root}/r.txt")[1].content == b"new"
    err = api_error(sdk, dbx.files_restore, f"{root}/r.txt", "0123456789abcdef")
    assert err.is_invalid_revision()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_v1_delete_returns_plain_metadata(dbx, root, sdk):
    up = dbx.files_upload(b"x", f"{root}/v1.txt")
    md = dbx.files_delete(f"{root}/v1.txt")
    assert isinstance(md, sdk.files.FileMetadata) and md.id == up.id
    assert not exists(dbx, sdk, f"{root}/v1.txt")
