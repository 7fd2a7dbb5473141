"""Runs last: every route the emulator serves was called by this suite (through the SDK or
raw HTTP), as counted by the emulator itself in /admin/stats."""

import pytest

ROUTES = """
auth/token/revoke
check/app check/user
files/copy_batch/check_v2 files/copy_batch_v2 files/copy_v2
files/create_folder_batch files/create_folder_batch/check files/create_folder_v2
files/delete files/delete_batch files/delete_batch/check files/delete_v2
files/download files/get_metadata
files/list_folder files/list_folder/continue files/list_folder/get_latest_cursor files/list_folder/longpoll
files/list_revisions files/move_batch/check_v2 files/move_batch_v2 files/move_v2 files/restore
files/upload files/upload_session/append files/upload_session/append_batch files/upload_session/append_v2
files/upload_session/finish files/upload_session/finish_batch files/upload_session/finish_batch/check
files/upload_session/finish_batch_v2 files/upload_session/start files/upload_session/start_batch
users/get_current_account users/get_space_usage
""".split()


def test_every_route_was_exercised(emu, request):
    if len(request.session.items) < 150:
        pytest.skip("only meaningful when the whole suite runs")
    called = emu.admin("GET", "stats")["routes"]
    missing = [r for r in ROUTES if not called.get(r)]
    assert not missing, f"routes never called: {missing}"
    unknown = set(called) - set(ROUTES)
    assert not unknown, f"routes the suite does not know about: {unknown}"
