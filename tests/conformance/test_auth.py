"""auth/token/revoke, the refresh-token flow (with a short token lifetime), and the PKCE
authorization-code flow driven through the emulator's consent form."""

import json
import os
import subprocess
import sys
import textwrap
import urllib.parse
import uuid
from html.parser import HTMLParser

import pytest
from conftest import ALICE, ALICE_TOKEN, APP_FOLDER, APP_KEY, FULL_ACCESS_APP_KEY, SECRET_APP_KEY, SECRET_APP_SECRET
from emulator import Emulator, sdk_environment


def new_account(emu):
    name = f"acct{uuid.uuid4().hex[:8]}"
    token = f"tok-{uuid.uuid4().hex}"
    emu.admin("POST", "accounts", {"name": name, "token": token})
    return name, token


# ---------------------------------------------------------------- revoke


def test_revoke_makes_the_token_unusable(emu, client, sdk):
    _, token = new_account(emu)
    d = client(token)
    d.users_get_current_account()
    assert d.auth_token_revoke() is None
    with pytest.raises(sdk.exceptions.AuthError) as e:
        d.users_get_current_account()
    assert e.value.error.is_invalid_access_token()


def test_revoke_of_a_refreshed_token_kills_its_family(emu, client, sdk):
    _, token = new_account(emu)
    d = client(oauth2_refresh_token=token, app_key=APP_KEY)
    d.users_get_current_account()
    access = d._oauth2_access_token
    assert access and access != token
    sibling = client(oauth2_refresh_token=token, app_key=APP_KEY)
    sibling.users_get_current_account()
    d.auth_token_revoke()
    for t in (access, sibling._oauth2_access_token):
        with pytest.raises(sdk.exceptions.AuthError):
            client(t).users_get_current_account()
    # The refresh token is dead too: the SDK maps invalid_grant to invalid_access_token.
    with pytest.raises(sdk.exceptions.AuthError) as e:
        client(oauth2_refresh_token=token, app_key=APP_KEY).users_get_current_account()
    assert e.value.error.is_invalid_access_token()


# ---------------------------------------------------------------- refresh


def test_refresh_token_flow_gives_app_folder_tokens(emu, client, root):
    d = client(oauth2_refresh_token=ALICE_TOKEN, app_key=APP_KEY)
    md = d.files_upload(b"via refresh", f"{root}/r.txt")
    assert d._oauth2_access_token.startswith("sl.")
    assert d._oauth2_access_token_expiration is not None
    assert md.path_display == f"{root}/r.txt"
    assert f"{APP_FOLDER}{root}/r.txt" in emu.tree(ALICE)


def test_refresh_with_unknown_token_is_auth_error(client, sdk):
    with pytest.raises(sdk.exceptions.AuthError) as e:
        client(oauth2_refresh_token="not-a-refresh-token", app_key=APP_KEY).users_get_current_account()
    assert e.value.error.is_invalid_access_token()


def test_expired_token_is_refreshed_once_and_retried(emu, client, sdk):
    d = client(oauth2_refresh_token=ALICE_TOKEN, app_key=APP_KEY)
    d.users_get_current_account()
    old = d._oauth2_access_token
    emu.admin("POST", "expire_tokens")
    with pytest.raises(sdk.exceptions.AuthError) as e:
        client(old).users_get_current_account()
    assert e.value.error.is_expired_access_token()
    # The SDK still believes the token is valid for hours: it gets a 401
    # expired_access_token, refreshes and retries.
    assert d.users_get_current_account().email == "alice@example.com"
    assert d._oauth2_access_token != old


REFRESH_CHILD = textwrap.dedent(
    """
    import json, sys, time, datetime
    import dropbox
    token, app_key = sys.argv[1], sys.argv[2]
    out = {}
    d = dropbox.Dropbox(oauth2_refresh_token=token, app_key=app_key, max_retries_on_error=0)
    tokens = []
    for i in range(3):
        d.files_upload(b"x%d" % i, "/refresh/%d.txt" % i)
        tokens.append(d._oauth2_access_token)
        time.sleep(1.2)
    out["tokens"] = tokens
    # An access token that expired on the server while the client thinks it is fresh.
    stale = tokens[0]
    time.sleep(1)
    plain = dropbox.Dropbox(stale, max_retries_on_error=0)
    try:
        plain.users_get_current_account()
        out["plain"] = "ok"
    except dropbox.exceptions.AuthError as e:
        out["plain"] = "expired" if e.error.is_expired_access_token() else str(e.error)
    d2 = dropbox.Dropbox(
        stale, oauth2_refresh_token=token, app_key=app_key,
        oauth2_access_token_expiration=datetime.datetime.utcnow() + datetime.timedelta(hours=4),
        max_retries_on_error=0,
    )
    out["reactive"] = d2.users_get_current_account().email
    out["reactive_token_changed"] = d2._oauth2_access_token != stale
    print(json.dumps(out))
    """
)


def test_sdk_refreshes_with_a_short_token_lifetime(tmp_path):
    """A second emulator with --token-lifetime 2, driven by the SDK in a child process (the
    SDK's hosts are fixed at import time, so it cannot talk to two emulators at once)."""
    other = Emulator({"carol": "carol-token"}, extra_args=["--token-lifetime", "2"])
    try:
        env = dict(os.environ, **sdk_environment(other))
        env.pop("CURL_CA_BUNDLE", None)
        script = tmp_path / "child.py"
        script.write_text(REFRESH_CHILD)
        p = subprocess.run(
            [sys.executable, str(script), "carol-token", APP_KEY], env=env, capture_output=True, text=True, timeout=120
        )
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout.strip().splitlines()[-1])
        assert len(set(out["tokens"])) == 3, "a token within 300 s of expiry is refreshed before each call"
        assert out["plain"] == "expired"
        assert out["reactive"] == "carol@example.com" and out["reactive_token_changed"]
        tree = other.tree("carol")
        assert {f"{APP_FOLDER}/refresh/{i}.txt" for i in range(3)} <= set(tree)
    finally:
        other.cleanup()


# ---------------------------------------------------------------- PKCE authorization code


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action = None
        self.fields = {}
        self.options = []
        self.code = None
        self._in_code = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "option":
            self.options.append(a.get("value"))
        elif tag == "code":
            self._in_code = True

    def handle_endtag(self, tag):
        if tag == "code":
            self._in_code = False

    def handle_data(self, data):
        if self._in_code:
            self.code = (self.code or "") + data


def consent(raw, emu, authorize_url, account=ALICE, decision="allow"):
    """Open the authorize URL, then submit the consent form as the user would."""
    assert authorize_url.startswith(f"https://{emu.hostport}/oauth2/authorize?")
    page = raw.get(authorize_url, timeout=30)
    assert page.status_code == 200, page.text
    form = FormParser()
    form.feed(page.text)
    assert form.action == "/oauth2/authorize"
    assert account in form.options
    data = dict(form.fields, account=account, decision=decision)
    return raw.post(f"{emu.url}{form.action}", data=data, allow_redirects=False, timeout=30)


def test_pkce_flow_with_redirect(emu, raw, sdk, client, root):
    session = {}
    redirect = "http://127.0.0.1:53682/callback"
    flow = sdk.DropboxOAuth2Flow(
        APP_KEY, redirect_uri=redirect, session=session, csrf_token_session_key="csrf",
        use_pkce=True, token_access_type="offline",
    )
    url = flow.start(url_state="hello")
    q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    assert q["code_challenge_method"] == ["S256"] and "code_challenge" in q
    r = consent(raw, emu, url)
    assert r.status_code in (302, 303), r.text
    loc = urllib.parse.urlparse(r.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == redirect
    params = {k: v[0] for k, v in urllib.parse.parse_qs(loc.query).items()}
    assert "code" in params and params["state"].endswith("|hello")
    result = flow.finish(params)
    assert result.url_state == "hello"
    assert result.access_token and result.refresh_token
    assert result.account_id.startswith("dbid:") and len(result.account_id) == 40
    assert result.expires_at is not None
    d = client(result.access_token)
    assert d.users_get_current_account().account_id == result.account_id
    # The code is single use.
    with pytest.raises(Exception):
        flow.finish(dict(params))
    # The refresh token works with the same app key, and the tokens are app-folder tokens.
    d2 = client(oauth2_refresh_token=result.refresh_token, app_key=APP_KEY)
    d2.files_upload(b"pkce", f"{root}/pkce.txt")
    assert f"{APP_FOLDER}{root}/pkce.txt" in emu.tree(ALICE)


def test_pkce_flow_without_redirect(emu, raw, sdk, client):
    flow = sdk.DropboxOAuth2FlowNoRedirect(APP_KEY, use_pkce=True, token_access_type="offline")
    url = flow.start()
    r = consent(raw, emu, url)
    assert r.status_code == 200
    page = FormParser()
    page.feed(r.text)
    assert page.code
    result = flow.finish(page.code.strip())
    assert result.refresh_token
    assert client(result.access_token).users_get_current_account().email == "alice@example.com"


def test_pkce_wrong_verifier_is_refused(emu, raw, sdk):
    import requests

    flow = sdk.DropboxOAuth2FlowNoRedirect(APP_KEY, use_pkce=True)
    r = consent(raw, emu, flow.start())
    page = FormParser()
    page.feed(r.text)
    flow.code_verifier = flow.code_verifier[:-4] + "AAAA"
    with pytest.raises(requests.HTTPError) as e:
        flow.finish(page.code.strip())
    assert e.value.response.status_code == 400
    assert e.value.response.json()["error"] == "invalid_grant"


def test_consent_denied(emu, raw, sdk):
    session = {}
    flow = sdk.DropboxOAuth2Flow(
        APP_KEY, redirect_uri="http://localhost:9/cb", session=session, csrf_token_session_key="csrf", use_pkce=True
    )
    r = consent(raw, emu, flow.start(), decision="deny")
    assert r.status_code in (302, 303)
    params = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query).items()}
    with pytest.raises(sdk.oauth.NotApprovedException):
        flow.finish(params)


def test_authorize_rejects_non_loopback_redirects(emu, raw):
    r = raw.get(
        f"{emu.url}/oauth2/authorize",
        params={"client_id": APP_KEY, "response_type": "code", "redirect_uri": "https://evil.example/cb"},
        timeout=30,
    )
    assert r.status_code == 400


def test_full_access_app_key_gets_whole_dropbox(emu, full_dbx, dbx, root, sdk):
    """A token for another app key sees the app folder as /Apps/nuvolos.cloud/..."""
    dbx.files_upload(b"jailed", f"{root}/in-app.txt")
    md = full_dbx.files_get_metadata(f"{APP_FOLDER}{root}/in-app.txt")
    assert md.path_display == f"{APP_FOLDER}{root}/in-app.txt"
    names = {e.name for e in full_dbx.files_list_folder("").entries}
    assert "Apps" in names
    full_dbx.files_upload(b"outside", f"/outside-{root[1:]}.txt")
    # The app-folder token cannot see it.
    with pytest.raises(sdk.exceptions.ApiError):
        dbx.files_get_metadata(f"/outside-{root[1:]}.txt")
    assert f"/outside-{root[1:]}.txt" in emu.tree(ALICE)


def test_expired_token_on_a_large_upload_is_refreshed(emu, client, root, sdk):
    """A 401 for an upload whose body was not read yet must reach the client, which
    refreshes and sends the upload again."""
    d = client(oauth2_refresh_token=ALICE_TOKEN, app_key=APP_KEY)
    d.users_get_current_account()
    old = d._oauth2_access_token
    emu.admin("POST", "expire_tokens")
    data = os.urandom(24 * 1024 * 1024)
    md = d.files_upload(data, f"{root}/after-expiry.bin")
    assert md.size == len(data) and d._oauth2_access_token != old


def code_from_consent(raw, emu, flow):
    r = consent(raw, emu, flow.start())
    page = FormParser()
    page.feed(r.text)
    return page.code.strip()


def test_online_access_has_no_refresh_token(emu, raw, sdk, client):
    flow = sdk.DropboxOAuth2FlowNoRedirect(APP_KEY, use_pkce=True, token_access_type="online")
    result = flow.finish(code_from_consent(raw, emu, flow))
    assert result.refresh_token == ""
    assert client(result.access_token).users_get_space_usage().used >= 0


def test_authorization_code_expires(emu, raw, sdk):
    import requests

    flow = sdk.DropboxOAuth2FlowNoRedirect(APP_KEY, use_pkce=True)
    code = code_from_consent(raw, emu, flow)
    emu.admin("POST", "clock", {"advance_secs": 601})
    try:
        with pytest.raises(requests.HTTPError) as e:
            flow.finish(code)
        assert e.value.response.json()["error"] == "invalid_grant"
    finally:
        emu.admin("POST", "clock", {"advance_secs": -601})


def test_redirect_uri_must_match_at_exchange(emu, raw, sdk):
    import requests

    session = {}
    flow = sdk.DropboxOAuth2Flow(
        APP_KEY, redirect_uri="http://127.0.0.1:5000/a", session=session, csrf_token_session_key="csrf", use_pkce=True
    )
    r = consent(raw, emu, flow.start())
    params = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query).items()}
    flow.redirect_uri = "http://127.0.0.1:5000/other"
    with pytest.raises(requests.HTTPError) as e:
        flow.finish(params)
    assert e.value.response.json()["error"] == "invalid_grant"


def test_refresh_token_is_bound_to_its_app_key(emu, raw, sdk, client):
    flow = sdk.DropboxOAuth2FlowNoRedirect(APP_KEY, use_pkce=True, token_access_type="offline")
    result = flow.finish(code_from_consent(raw, emu, flow))
    with pytest.raises(sdk.exceptions.AuthError):
        client(oauth2_refresh_token=result.refresh_token, app_key=FULL_ACCESS_APP_KEY).users_get_current_account()
    assert client(oauth2_refresh_token=result.refresh_token, app_key=APP_KEY).users_get_current_account()


# ---------------------------------------------------------------- registered apps, secrets, scopes


def test_authorize_refuses_an_unknown_app(emu, raw):
    r = raw.get(
        f"{emu.url}/oauth2/authorize",
        params={"client_id": "not-registered", "response_type": "code"},
        timeout=30,
    )
    assert r.status_code == 400
    assert 'Invalid client_id: &quot;not-registered&quot;.' in r.text


def test_authorize_refuses_a_loopback_port_that_is_not_registered(emu, raw, sdk):
    """Dropbox matches the registered redirect URI exactly, port and path included."""
    for uri in ("http://127.0.0.1:53683/callback", "http://127.0.0.1:53682/other", "http://localhost:53682/callback"):
        flow = sdk.DropboxOAuth2Flow(APP_KEY, redirect_uri=uri, session={}, csrf_token_session_key="csrf", use_pkce=True)
        page = raw.get(flow.start(), timeout=30)
        assert page.status_code == 400, uri
        assert "must exactly match one of the redirect URIs" in page.text
    ok = sdk.DropboxOAuth2Flow(
        APP_KEY, redirect_uri="http://127.0.0.1:28752/callback", session={}, csrf_token_session_key="csrf", use_pkce=True
    )
    assert raw.get(ok.start(), timeout=30).status_code == 200


def test_token_endpoint_refuses_unknown_apps_and_wrong_secrets(emu, raw):
    def refresh(**form):
        return raw.post(
            f"{emu.url}/oauth2/token", data=dict(grant_type="refresh_token", refresh_token=ALICE_TOKEN, **form), timeout=30
        )

    for bad in (
        dict(client_id="not-registered"),
        dict(client_id=SECRET_APP_KEY, client_secret="wrong"),
        dict(client_id=APP_KEY, client_secret="nuvosync has no secret"),
    ):
        r = refresh(**bad)
        assert r.status_code == 400, bad
        assert r.json()["error"] == "invalid_client"
    assert refresh(client_id=SECRET_APP_KEY, client_secret=SECRET_APP_SECRET).status_code == 200
    # HTTP Basic, as the SDK sends an app secret.
    r = raw.post(
        f"{emu.url}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": ALICE_TOKEN},
        auth=(SECRET_APP_KEY, "wrong"),
        timeout=30,
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid_client")


def test_sdk_with_a_wrong_app_secret_cannot_refresh(client, sdk):
    d = client(oauth2_refresh_token=ALICE_TOKEN, app_key=SECRET_APP_KEY, app_secret="wrong")
    with pytest.raises(Exception) as e:
        d.users_get_current_account()
    assert "invalid_client" in repr(e.value) or getattr(getattr(e.value, "response", None), "status_code", 400) == 400
    right = client(oauth2_refresh_token=ALICE_TOKEN, app_key=SECRET_APP_KEY, app_secret=SECRET_APP_SECRET)
    assert right.users_get_current_account().email == "alice@example.com"


def test_downscope(client, sdk, root):
    """The official SDK's own integration test (test_downscope), on the emulator: a refresh
    with `scope` gives a narrower token, and a route outside it answers missing_scope."""
    d = client(oauth2_refresh_token=ALICE_TOKEN, app_key=APP_KEY)
    d.users_get_current_account()
    d.refresh_access_token(scope=["files.metadata.read"])
    with pytest.raises(sdk.exceptions.AuthError) as e:
        d.users_get_current_account()
    assert e.value.error.is_missing_scope()
    assert e.value.error.get_missing_scope().required_scope == "account_info.read"
    with pytest.raises(sdk.exceptions.AuthError) as e:
        d.files_upload(b"x", f"{root}/not-allowed.txt")
    assert e.value.error.get_missing_scope().required_scope == "files.content.write"
    d.files_list_folder("")  # files.metadata.read is granted
