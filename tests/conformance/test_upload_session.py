"""Upload sessions: start / append_v2 / finish, offsets, close, concurrent sessions and the
batch commits (finish_batch_v2, finish_batch + finish_batch/check)."""

import os

import pytest
from helpers import content_hash, tag_chain

MiB = 1024 * 1024
ALIGN = 4 * MiB


def api_error(sdk, fn, *a, **kw):
    with pytest.raises(sdk.exceptions.ApiError) as e:
        fn(*a, **kw)
    return e.value.error


def cursor(sdk, sid, offset):
    return sdk.files.UploadSessionCursor(session_id=sid, offset=offset)


def commit(sdk, path, **kw):
    return sdk.files.CommitInfo(path=path, **kw)


def test_sequential_session(dbx, root, sdk):
    parts = [os.urandom(100_000), os.urandom(3 * MiB), b"", os.urandom(12_345)]
    data = b"".join(parts)
    sid = dbx.files_upload_session_start(parts[0]).session_id
    assert sid
    off = len(parts[0])
    for p in parts[1:-1]:
        assert dbx.files_upload_session_append_v2(p, cursor(sdk, sid, off)) is None
        off += len(p)
    md = dbx.files_upload_session_finish(parts[-1], cursor(sdk, sid, off), commit(sdk, f"{root}/seq.bin"))
    assert isinstance(md, sdk.files.FileMetadata)
    assert md.size == len(data)
    assert md.content_hash == content_hash(data)
    assert dbx.files_download(f"{root}/seq.bin")[1].content == data
    # A finished session is gone.
    err = api_error(sdk, dbx.files_upload_session_append_v2, b"x", cursor(sdk, sid, len(data)))
    assert err.is_not_found()


def test_incorrect_offset_reports_the_correct_one(dbx, root, sdk):
    sid = dbx.files_upload_session_start(b"abc").session_id
    dbx.files_upload_session_append_v2(b"def", cursor(sdk, sid, 3))
    # Replaying the append (its answer was "lost") gives incorrect_offset with 6.
    err = api_error(sdk, dbx.files_upload_session_append_v2, b"def", cursor(sdk, sid, 3))
    assert err.is_incorrect_offset()
    assert err.get_incorrect_offset().correct_offset == 6
    # finish at the wrong offset: lookup_failed/incorrect_offset.
    err = api_error(sdk, dbx.files_upload_session_finish, b"", cursor(sdk, sid, 2), commit(sdk, f"{root}/o.bin"))
    assert err.is_lookup_failed() and err.get_lookup_failed().is_incorrect_offset()
    assert err.get_lookup_failed().get_incorrect_offset().correct_offset == 6
    md = dbx.files_upload_session_finish(b"g", cursor(sdk, sid, 6), commit(sdk, f"{root}/o.bin"))
    assert dbx.files_download(md.path_lower)[1].content == b"abcdefg"


def test_closed_session_refuses_appends_and_finishes_without_data(dbx, root, sdk):
    sid = dbx.files_upload_session_start(b"12345").session_id
    dbx.files_upload_session_append_v2(b"678", cursor(sdk, sid, 5), close=True)
    err = api_error(sdk, dbx.files_upload_session_append_v2, b"9", cursor(sdk, sid, 8))
    assert err.is_closed()
    md = dbx.files_upload_session_finish(b"", cursor(sdk, sid, 8), commit(sdk, f"{root}/closed.bin"))
    assert md.size == 8


def test_start_closed_then_finish(dbx, root, sdk):
    sid = dbx.files_upload_session_start(b"whole", close=True).session_id
    md = dbx.files_upload_session_finish(b"", cursor(sdk, sid, 5), commit(sdk, f"{root}/w.txt"))
    assert md.content_hash == content_hash(b"whole")


def test_unknown_session(dbx, root, sdk):
    err = api_error(sdk, dbx.files_upload_session_append_v2, b"x", cursor(sdk, "pid_upload_session:nope", 0))
    assert err.is_not_found()
    err = api_error(sdk, dbx.files_upload_session_finish, b"", cursor(sdk, "pid_upload_session:nope", 0), commit(sdk, f"{root}/x"))
    assert err.is_lookup_failed() and err.get_lookup_failed().is_not_found()


def test_session_of_another_account_is_not_found(dbx, dbx_bob, root, sdk):
    sid = dbx.files_upload_session_start(b"alice's").session_id
    err = api_error(sdk, dbx_bob.files_upload_session_append_v2, b"x", cursor(sdk, sid, 7))
    assert err.is_not_found()


def test_session_expires_after_seven_days(dbx, root, sdk, emu):
    sid = dbx.files_upload_session_start(b"old").session_id
    emu.admin("POST", "clock", {"advance_secs": 7 * 24 * 3600 + 60})
    try:
        err = api_error(sdk, dbx.files_upload_session_append_v2, b"x", cursor(sdk, sid, 3))
        assert err.is_not_found()
    finally:
        emu.admin("POST", "clock", {"advance_secs": -(7 * 24 * 3600 + 60)})


def test_content_hash_of_a_chunk_is_checked(dbx, root, sdk):
    err = api_error(sdk, dbx.files_upload_session_start, b"abc", content_hash="1" * 64)
    assert err.is_content_hash_mismatch()
    sid = dbx.files_upload_session_start(b"abc", content_hash=content_hash(b"abc")).session_id
    err = api_error(sdk, dbx.files_upload_session_append_v2, b"def", cursor(sdk, sid, 3), content_hash="2" * 64)
    assert err.is_content_hash_mismatch()
    # The failed append did not move the offset.
    dbx.files_upload_session_append_v2(b"def", cursor(sdk, sid, 3), content_hash=content_hash(b"def"))
    err = api_error(
        sdk, dbx.files_upload_session_finish, b"g", cursor(sdk, sid, 6), commit(sdk, f"{root}/h"), content_hash="3" * 64
    )
    assert err.is_content_hash_mismatch()
    # A finish without data is checked against the hash of nothing.
    err = api_error(
        sdk, dbx.files_upload_session_finish, b"", cursor(sdk, sid, 6), commit(sdk, f"{root}/h"), content_hash="4" * 64
    )
    assert err.is_content_hash_mismatch()
    md = dbx.files_upload_session_finish(b"", cursor(sdk, sid, 6), commit(sdk, f"{root}/h"), content_hash=content_hash(b""))
    assert md.content_hash == content_hash(b"abcdef")


def test_finish_path_error_keeps_the_session(dbx, root, sdk):
    dbx.files_upload(b"existing", f"{root}/taken.txt")
    sid = dbx.files_upload_session_start(b"new data", close=True).session_id
    err = api_error(sdk, dbx.files_upload_session_finish, b"", cursor(sdk, sid, 8), commit(sdk, f"{root}/taken.txt"))
    assert tag_chain(err) == ["path", "conflict", "file"]
    # Retry the commit elsewhere with the same session.
    md = dbx.files_upload_session_finish(b"", cursor(sdk, sid, 8), commit(sdk, f"{root}/free.txt"))
    assert md.size == 8


def test_finish_honours_write_mode(dbx, root, sdk):
    a = dbx.files_upload(b"v1", f"{root}/m.txt")
    sid = dbx.files_upload_session_start(b"v2").session_id
    md = dbx.files_upload_session_finish(
        b"", cursor(sdk, sid, 2), commit(sdk, f"{root}/m.txt", mode=sdk.files.WriteMode.update(a.rev))
    )
    assert md.id == a.id and md.rev != a.rev
    sid = dbx.files_upload_session_start(b"v3").session_id
    err = api_error(
        sdk, dbx.files_upload_session_finish, b"", cursor(sdk, sid, 2),
        commit(sdk, f"{root}/m.txt", mode=sdk.files.WriteMode.update(a.rev)),
    )
    assert tag_chain(err) == ["path", "conflict", "file"]


# ---------------------------------------------------------------- concurrent sessions


def concurrent(sdk):
    return sdk.files.UploadSessionType.concurrent


def test_concurrent_session_takes_aligned_parts_in_any_order(dbx, root, sdk):
    a, b, tail = os.urandom(ALIGN), os.urandom(ALIGN), os.urandom(1000)
    sid = dbx.files_upload_session_start(b"", session_type=concurrent(sdk)).session_id
    dbx.files_upload_session_append_v2(b, cursor(sdk, sid, ALIGN))
    dbx.files_upload_session_append_v2(a, cursor(sdk, sid, 0))
    dbx.files_upload_session_append_v2(tail, cursor(sdk, sid, 2 * ALIGN), close=True)
    total = 2 * ALIGN + len(tail)
    md = dbx.files_upload_session_finish(b"", cursor(sdk, sid, total), commit(sdk, f"{root}/conc.bin"))
    assert md.size == total
    assert md.content_hash == content_hash(a + b + tail)


def test_concurrent_sessions_side_by_side(dbx, root, sdk):
    datas = [os.urandom(ALIGN + i) for i in range(3)]
    sids = [dbx.files_upload_session_start(b"", session_type=concurrent(sdk)).session_id for _ in datas]
    assert len(set(sids)) == 3
    for sid, d in zip(sids, datas):
        dbx.files_upload_session_append_v2(d[:ALIGN], cursor(sdk, sid, 0))
    for sid, d in zip(sids, datas):
        dbx.files_upload_session_append_v2(d[ALIGN:], cursor(sdk, sid, ALIGN), close=True)
    for i, (sid, d) in enumerate(zip(sids, datas)):
        md = dbx.files_upload_session_finish(b"", cursor(sdk, sid, len(d)), commit(sdk, f"{root}/c{i}.bin"))
        assert md.content_hash == content_hash(d)


def test_concurrent_session_rules(dbx, root, sdk):
    err = api_error(sdk, dbx.files_upload_session_start, b"data", session_type=concurrent(sdk))
    assert err.is_concurrent_session_data_not_allowed()
    err = api_error(sdk, dbx.files_upload_session_start, b"", session_type=concurrent(sdk), close=True)
    assert err.is_concurrent_session_close_not_allowed()
    sid = dbx.files_upload_session_start(b"", session_type=concurrent(sdk)).session_id
    err = api_error(sdk, dbx.files_upload_session_append_v2, b"x" * 1000, cursor(sdk, sid, 0))
    assert err.is_concurrent_session_invalid_data_size()
    err = api_error(sdk, dbx.files_upload_session_append_v2, b"x" * ALIGN, cursor(sdk, sid, 1000))
    assert err.is_concurrent_session_invalid_offset()
    # Part 1 only, then close: finishing finds the hole at 0.
    dbx.files_upload_session_append_v2(b"y" * 10, cursor(sdk, sid, ALIGN), close=True)
    err = api_error(sdk, dbx.files_upload_session_finish, b"", cursor(sdk, sid, ALIGN + 10), commit(sdk, f"{root}/hole"))
    assert err.is_concurrent_session_missing_data()
    # Finishing an open concurrent session, or with data, is refused.
    sid2 = dbx.files_upload_session_start(b"", session_type=concurrent(sdk)).session_id
    dbx.files_upload_session_append_v2(b"z" * ALIGN, cursor(sdk, sid2, 0))
    err = api_error(sdk, dbx.files_upload_session_finish, b"", cursor(sdk, sid2, ALIGN), commit(sdk, f"{root}/open"))
    assert err.is_concurrent_session_not_closed()
    dbx.files_upload_session_append_v2(b"", cursor(sdk, sid2, ALIGN), close=True)
    err = api_error(sdk, dbx.files_upload_session_finish, b"tail", cursor(sdk, sid2, ALIGN), commit(sdk, f"{root}/data"))
    assert err.is_concurrent_session_data_not_allowed()
    md = dbx.files_upload_session_finish(b"", cursor(sdk, sid2, ALIGN), commit(sdk, f"{root}/ok"))
    assert md.size == ALIGN


# ---------------------------------------------------------------- batch commits


def closed_session(dbx, sdk, data):
    sid = dbx.files_upload_session_start(data, close=True).session_id
    return cursor(sdk, sid, len(data))


def test_finish_batch_v2_is_synchronous_and_ordered(dbx, root, sdk):
    datas = [f"file {i}".encode() * (i + 1) for i in range(5)]
    entries = [
        sdk.files.UploadSessionFinishArg(cursor=closed_session(dbx, sdk, d), commit=commit(sdk, f"{root}/b{i}.txt"))
        for i, d in enumerate(datas)
    ]
    res = dbx.files_upload_session_finish_batch_v2(entries)
    assert len(res.entries) == 5
    for i, (e, d) in enumerate(zip(res.entries, datas)):
        assert e.is_success(), e
        md = e.get_success()
        assert md.name == f"b{i}.txt" and md.content_hash == content_hash(d)


def test_finish_batch_v2_reports_per_entry_failures(dbx, root, sdk):
    dbx.files_upload(b"taken", f"{root}/taken.txt")
    open_sid = dbx.files_upload_session_start(b"open").session_id
    entries = [
        sdk.files.UploadSessionFinishArg(cursor=closed_session(dbx, sdk, b"ok"), commit=commit(sdk, f"{root}/ok.txt")),
        sdk.files.UploadSessionFinishArg(cursor=closed_session(dbx, sdk, b"clash"), commit=commit(sdk, f"{root}/taken.txt")),
        sdk.files.UploadSessionFinishArg(cursor=cursor(sdk, open_sid, 4), commit=commit(sdk, f"{root}/open.txt")),
        sdk.files.UploadSessionFinishArg(cursor=cursor(sdk, "pid_upload_session:missing", 0), commit=commit(sdk, f"{root}/m.txt")),
        sdk.files.UploadSessionFinishArg(cursor=closed_session(dbx, sdk, b"off"), commit=commit(sdk, f"{root}/off.txt")),
    ]
    entries[4].cursor.offset = 1  # wrong offset
    res = dbx.files_upload_session_finish_batch_v2(entries)
    e = res.entries
    assert e[0].is_success()
    assert e[1].is_failure() and tag_chain(e[1].get_failure()) == ["path", "conflict", "file"]
    assert e[2].is_failure() and tag_chain(e[2].get_failure()) == ["lookup_failed", "not_closed"]
    assert e[3].is_failure() and tag_chain(e[3].get_failure()) == ["lookup_failed", "not_found"]
    assert e[4].is_failure() and tag_chain(e[4].get_failure())[:2] == ["lookup_failed", "incorrect_offset"]
    assert e[4].get_failure().get_lookup_failed().get_incorrect_offset().correct_offset == 3


@pytest.mark.filterwarnings("ignore:upload_session/finish_batch is deprecated")
def test_finish_batch_v1_and_check(dbx, root, sdk):
    entries = [
        sdk.files.UploadSessionFinishArg(cursor=closed_session(dbx, sdk, b"v1-%d" % i), commit=commit(sdk, f"{root}/v1-{i}"))
        for i in range(3)
    ]
    launch = dbx.files_upload_session_finish_batch(entries)
    if launch.is_complete():
        result = launch.get_complete()
    else:
        assert launch.is_async_job_id()
        job = launch.get_async_job_id()
        status = dbx.files_upload_session_finish_batch_check(job)
        while status.is_in_progress():
            status = dbx.files_upload_session_finish_batch_check(job)
        assert status.is_complete()
        result = status.get_complete()
    assert [e.get_success().name for e in result.entries] == ["v1-0", "v1-1", "v1-2"]


def test_finish_batch_check_with_unknown_job(dbx, sdk):
    err = api_error(sdk, dbx.files_upload_session_finish_batch_check, "dbjid:not-a-job")
    assert err.is_invalid_async_job_id()


def test_start_batch_and_append_batch(dbx, root, sdk):
    res = dbx.files_upload_session_start_batch(3)
    sids = res.session_ids
    assert len(sids) == 3 and len(set(sids)) == 3
    datas = [b"alpha", b"", b"gamma" * 1000]
    entries = [
        sdk.files.UploadSessionAppendBatchArgEntry(cursor(sdk, sid, 0), len(d), close=True) for sid, d in zip(sids, datas)
    ]
    out = dbx.files_upload_session_append_batch(b"".join(datas), entries)
    assert [e.is_success() for e in out.entries] == [True, True, True]
    finish = [
        sdk.files.UploadSessionFinishArg(cursor=cursor(sdk, sid, len(d)), commit=commit(sdk, f"{root}/ab{i}"))
        for i, (sid, d) in enumerate(zip(sids, datas))
    ]
    done = dbx.files_upload_session_finish_batch_v2(finish)
    assert [e.get_success().content_hash for e in done.entries] == [content_hash(d) for d in datas]


def test_append_batch_errors(dbx, sdk):
    sid = dbx.files_upload_session_start_batch(1).session_ids[0]
    # Lengths that do not add up to the body.
    err = api_error(
        sdk, dbx.files_upload_session_append_batch, b"abc", [sdk.files.UploadSessionAppendBatchArgEntry(cursor(sdk, sid, 0), 5)]
    )
    assert err.is_length_mismatch()
    err = api_error(
        sdk,
        dbx.files_upload_session_append_batch,
        b"abc",
        [sdk.files.UploadSessionAppendBatchArgEntry(cursor(sdk, sid, 0), 3)],
        content_hash="5" * 64,
    )
    assert err.is_content_hash_mismatch()
    # Per-entry failures: a wrong offset, an unknown session.
    out = dbx.files_upload_session_append_batch(
        b"abcdef",
        [
            sdk.files.UploadSessionAppendBatchArgEntry(cursor(sdk, sid, 9), 3),
            sdk.files.UploadSessionAppendBatchArgEntry(cursor(sdk, "pid_upload_session:none", 0), 3),
        ],
    )
    e0, e1 = out.entries
    assert e0.is_failure() and e0.get_failure().get_incorrect_offset().correct_offset == 0
    assert e1.is_failure() and e1.get_failure().is_not_found()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_v1_append(dbx, root, sdk):
    sid = dbx.files_upload_session_start(b"one ").session_id
    assert dbx.files_upload_session_append(b"two ", sid, 4) is None
    with pytest.raises(sdk.exceptions.ApiError) as e:
        dbx.files_upload_session_append(b"two ", sid, 4)
    assert e.value.error.is_incorrect_offset() and e.value.error.get_incorrect_offset().correct_offset == 8
    md = dbx.files_upload_session_finish(b"three", cursor(sdk, sid, 8), commit(sdk, f"{root}/v1.txt"))
    assert dbx.files_download(md.path_lower)[1].content == b"one two three"
