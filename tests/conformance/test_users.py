"""users/get_current_account and users/get_space_usage through the official SDK."""

import pytest


def test_current_account_is_a_valid_full_account(dbx, sdk):
    acct = dbx.users_get_current_account()
    assert isinstance(acct, sdk.users.FullAccount)
    assert acct.account_id.startswith("dbid:") and len(acct.account_id) == 40
    assert acct.email == "alice@example.com"
    assert acct.name.display_name
    assert acct.account_type.is_basic()
    assert isinstance(acct.root_info, sdk.common.UserRootInfo)
    assert acct.root_info.root_namespace_id == acct.root_info.home_namespace_id
    assert not acct.disabled


def test_accounts_have_distinct_ids(dbx, dbx_bob):
    a = dbx.users_get_current_account()
    b = dbx_bob.users_get_current_account()
    assert a.account_id != b.account_id
    assert a.root_info.root_namespace_id != b.root_info.root_namespace_id
    assert b.email == "bob@example.com"


def test_space_usage_moves_with_uploads_and_deletes(dbx, root, sdk):
    before = dbx.users_get_space_usage()
    assert before.allocation.is_individual()
    allocated = before.allocation.get_individual().allocated
    assert allocated > 0
    dbx.files_upload(b"x" * 12345, f"{root}/a.bin")
    after = dbx.users_get_space_usage()
    assert after.used == before.used + 12345
    # Overwriting replaces the old size; deleting frees it.
    dbx.files_upload(b"y" * 100, f"{root}/a.bin", mode=sdk.files.WriteMode.overwrite)
    assert dbx.users_get_space_usage().used == before.used + 100
    dbx.files_delete_v2(f"{root}/a.bin")
    assert dbx.users_get_space_usage().used == before.used


def test_invalid_token_is_an_auth_error(client, sdk):
    d = client("no-such-token")
    with pytest.raises(sdk.exceptions.AuthError) as e:
        d.users_get_current_account()
    assert e.value.error.is_invalid_access_token()


def test_check_user_and_check_app_echo_the_query(dbx, client, sdk):
    """check.stone: check/user with the user's token, check/app with the app key and secret
    (as the SDK's own integration test `test_app_auth` calls it against the real Dropbox)."""
    from conftest import SECRET_APP_KEY, SECRET_APP_SECRET

    assert dbx.check_user(query="hello world").result == "hello world"
    app = client(app_key=SECRET_APP_KEY, app_secret=SECRET_APP_SECRET)
    assert app.check_app(query="hello world").result == "hello world"
    wrong = client(app_key=SECRET_APP_KEY, app_secret="not-the-secret")
    with pytest.raises(sdk.exceptions.AuthError):
        wrong.check_app(query="x")
