"""Injected 429s (both reasons, JSON and text), 5xx, route-level write contention, the
namespace write lock and dropped connections, as the SDK sees them (with its own retries
turned off)."""

import threading
import time

import pytest
import requests
from helpers import tag_chain


def test_429_too_many_requests_json(dbx, faults, sdk):
    faults(p_rate_limit=1.0, retry_after_secs=7)
    with pytest.raises(sdk.exceptions.RateLimitError) as e:
        dbx.users_get_current_account()
    err = e.value
    assert err.error is not None and err.error.reason.is_too_many_requests()
    assert err.backoff == 7


def test_429_too_many_requests_text(dbx, faults, sdk):
    faults(p_rate_limit=1.0, retry_after_secs=4, rate_limit_text_body=True)
    with pytest.raises(sdk.exceptions.RateLimitError) as e:
        dbx.files_list_folder("")
    assert e.value.error is None  # a text body carries no RateLimitError
    assert e.value.backoff == 4  # taken from Retry-After


def test_429_too_many_write_operations_json(dbx, root, faults, sdk, raw, emu):
    faults(p_write_contention=1.0, retry_after_secs=2)
    # Reads are not affected.
    dbx.users_get_space_usage()
    with pytest.raises(sdk.exceptions.RateLimitError) as e:
        dbx.files_upload(b"x", f"{root}/w.txt")
    assert e.value.error.reason.is_too_many_write_operations()
    # Raw: Dropbox omits retry_after for lock contention but always sends Retry-After.
    r = raw.post(
        f"{emu.url}/2/files/create_folder_v2",
        json={"path": f"{root}/d"},
        headers={"Authorization": f"Bearer {dbx._oauth2_access_token}"},
        timeout=30,
    )
    assert r.status_code == 429
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Retry-After"] == "2"
    body = r.json()
    assert body["error"]["reason"][".tag"] == "too_many_write_operations"
    assert body["error_summary"].startswith("too_many_write_operations/")


def test_429_too_many_write_operations_text(dbx, root, faults, sdk):
    faults(p_write_contention=1.0, retry_after_secs=3, rate_limit_text_body=True)
    with pytest.raises(sdk.exceptions.RateLimitError) as e:
        dbx.files_create_folder_v2(f"{root}/d")
    assert e.value.error is None and e.value.backoff == 3


def test_sdk_retries_rate_limits_when_allowed(client, faults, emu):
    from conftest import ALICE_TOKEN

    faults(p_rate_limit=1.0, retry_after_secs=1)
    d = client(ALICE_TOKEN, max_retries_on_rate_limit=None)
    t = threading.Timer(1.5, lambda: emu.set_faults(p_rate_limit=0.0))
    t.start()
    start = time.monotonic()
    assert d.users_get_current_account().email == "alice@example.com"
    t.join()
    assert time.monotonic() - start >= 1.0


@pytest.mark.parametrize("route", ["users", "upload", "download"])
def test_5xx_is_internal_server_error(dbx, root, faults, sdk, route):
    if route == "download":
        dbx.files_upload(b"x", f"{root}/x.txt")
    faults(p_server_error=1.0)
    with pytest.raises(sdk.exceptions.InternalServerError) as e:
        if route == "users":
            dbx.users_get_current_account()
        elif route == "upload":
            dbx.files_upload(b"y", f"{root}/y.txt")
        else:
            dbx.files_download(f"{root}/x.txt")
    assert e.value.status_code in (500, 503)


def test_5xx_then_recovery_with_sdk_retries(client, faults, emu):
    from conftest import ALICE_TOKEN

    faults(p_server_error=1.0)
    d = client(ALICE_TOKEN, max_retries_on_error=6)
    t = threading.Timer(0.5, lambda: emu.set_faults(p_server_error=0.0))
    t.start()
    assert d.users_get_space_usage().used >= 0
    t.join()


def test_route_level_too_many_write_operations(dbx, root, faults, sdk):
    faults(p_write_contention_409=1.0)
    with pytest.raises(sdk.exceptions.ApiError) as e:
        dbx.files_upload(b"x", f"{root}/x.txt")
    assert tag_chain(e.value.error) == ["path", "too_many_write_operations"]
    with pytest.raises(sdk.exceptions.ApiError) as e:
        dbx.files_create_folder_v2(f"{root}/d")
    assert tag_chain(e.value.error) == ["path", "too_many_write_operations"]
    with pytest.raises(sdk.exceptions.ApiError) as e:
        dbx.files_delete_v2(f"{root}/whatever")
    assert e.value.error.is_too_many_write_operations()


def test_route_level_contention_inside_batches(dbx, root, faults, sdk):
    sid = dbx.files_upload_session_start(b"data", close=True).session_id
    entry = sdk.files.UploadSessionFinishArg(
        cursor=sdk.files.UploadSessionCursor(session_id=sid, offset=4), commit=sdk.files.CommitInfo(path=f"{root}/b.txt")
    )
    faults(p_write_contention_409=1.0, p_write_contention=0.0)
    res = None
    # The batch call itself is a write too and may be refused as a whole; per-entry
    # failures are what this test looks at.
    try:
        res = dbx.files_upload_session_finish_batch_v2([entry])
    except sdk.exceptions.ApiError:
        pytest.fail("finish_batch_v2 has no route-level write error; contention is reported per entry")
    assert res.entries[0].is_failure()
    assert res.entries[0].get_failure().is_too_many_write_operations()
    faults(p_write_contention_409=0.0)
    res = dbx.files_upload_session_finish_batch_v2([entry])
    assert res.entries[0].is_success()


def test_namespace_write_lock_contention(client, root, faults, sdk):
    from conftest import ALICE_TOKEN

    faults(write_lock_ms=1500)
    results = []

    def write(i):
        d = client(ALICE_TOKEN)
        try:
            d.files_upload(b"%d" % i, f"{root}/lock{i}.txt")
            results.append("ok")
        except sdk.exceptions.RateLimitError as e:
            results.append("429" if e.error and e.error.reason.is_too_many_write_operations() else repr(e))
        except sdk.exceptions.ApiError as e:
            results.append("409" if "too_many_write_operations" in str(e.error) else repr(e))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join()
    assert results.count("ok") >= 1
    assert sum(r in ("429", "409") for r in results) >= 1, results
    assert all(r in ("ok", "429", "409") for r in results), results


def test_dropped_connection_is_a_connection_error(dbx, faults, sdk):
    faults(p_reset=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        dbx.users_get_current_account()


def test_latency_is_added(dbx, faults):
    faults(latency_ms=400)
    start = time.monotonic()
    dbx.users_get_space_usage()
    assert time.monotonic() - start >= 0.35


def test_slow_longpoll(dbx, root, faults):
    from helpers import list_all

    dbx.files_upload(b"x", f"{root}/a.txt")
    _, cursor = list_all(dbx, root)
    dbx.files_upload(b"y", f"{root}/b.txt")
    faults(longpoll_delay_ms=1200)
    start = time.monotonic()
    assert dbx.files_list_folder_longpoll(cursor, timeout=30).changes
    assert time.monotonic() - start >= 1.1


def test_admin_stats_count_requests_and_faults(emu, dbx, faults):
    before = emu.admin("GET", "stats")
    faults(p_rate_limit=1.0)
    with pytest.raises(Exception):
        dbx.users_get_current_account()
    after = emu.admin("GET", "stats")
    assert after["requests"] > before["requests"]
    assert after["faults"] == before["faults"] + 1


def test_admin_requires_its_token(emu, raw):
    r = raw.get(f"{emu.url}/admin/stats", timeout=30)
    assert r.status_code == 401
    r = raw.get(f"{emu.url}/admin/stats", headers={"Authorization": "Bearer wrong"}, timeout=30)
    assert r.status_code == 401
    r = raw.post(
        f"{emu.url}/admin/faults",
        json={"no_such_fault": 1},
        headers={"Authorization": f"Bearer {emu.admin_token}"},
        timeout=30,
    )
    assert r.status_code == 400


def test_429_on_a_large_upload_is_seen_not_a_reset(dbx, root, faults, sdk):
    """The refusal comes before the body is read; the client must still get the 429."""
    faults(p_write_contention=1.0, retry_after_secs=1)
    with pytest.raises(sdk.exceptions.RateLimitError) as e:
        dbx.files_upload(b"\0" * (24 * 1024 * 1024), f"{root}/large.bin")
    assert e.value.error.reason.is_too_many_write_operations()


def test_5xx_on_a_large_upload_is_seen_not_a_reset(dbx, root, faults, sdk):
    faults(p_server_error=1.0)
    with pytest.raises(sdk.exceptions.InternalServerError):
        dbx.files_upload_session_start(b"\0" * (24 * 1024 * 1024))


def test_bandwidth_cap(dbx, root, faults):
    data = b"\1" * (1024 * 1024)
    faults(bandwidth_bytes_per_sec=1024 * 1024)
    start = time.monotonic()
    dbx.files_upload(data, f"{root}/slow.bin")
    up = time.monotonic() - start
    start = time.monotonic()
    assert dbx.files_download(f"{root}/slow.bin")[1].content == data
    down = time.monotonic() - start
    assert up >= 0.8 and down >= 0.8, (up, down)


def test_reset_after_commit_loses_only_the_answer(dbx, root, faults, sdk):
    """A dropped connection after the work is done: the upload happened, so a retry
    with the same content is a no-op that keeps the rev."""
    faults(p_reset=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        dbx.files_upload(b"committed", f"{root}/lost-answer.txt")
    faults(p_reset=0.0)
    md = dbx.files_get_metadata(f"{root}/lost-answer.txt")
    again = dbx.files_upload(b"committed", f"{root}/lost-answer.txt")
    assert again.rev == md.rev


def test_reset_mid_download(dbx, root, faults):
    dbx.files_upload(b"z" * 200_000, f"{root}/cut.bin")
    faults(p_reset=1.0)
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        dbx.files_download(f"{root}/cut.bin")[1].content
