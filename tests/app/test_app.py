"""End-to-end tests of the real tray app: WebKitGTK web view, Tauri IPC, the engine in-process,
the Dropbox emulator over HTTPS, the local disk. Each test starts its own app."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from conftest import TARGET, App, wait_for
from selenium.webdriver.common.by import By


def test_starts_syncing_both_ways(launch):
    app: App = launch()
    # Sync starts with the app: the co-author's file arrives, the local demo files go up.
    wait_for("the overall state to be up to date", lambda: app.attr("overall", "data-state") == "up_to_date" and app.text("summary") == "Up to date", 60)
    assert (app.local / "From Dropbox.txt").read_bytes() == b"This file was uploaded to Dropbox by a co-author.\n"
    assert app.dropbox.download("notebooks/analysis.py") == b"print('hello from nuvosync')\n"
    card = app.find("pair-demo")
    wait_for("the pair card to say up to date", lambda: app.find("pair-state", card).text == "Up to date", 30)
    assert app.find("pair-local", card).text == str(app.local)

    # Local → Dropbox, without pressing anything.
    (app.local / "from the app test.txt").write_bytes(b"written on this computer\n")
    wait_for("the new local file on Dropbox", lambda: app.dropbox.download("from the app test.txt") == b"written on this computer\n", 60)

    # Dropbox → local: a co-author's upload.
    app.dropbox.upload("co-author.txt", b"from a co-author\n")
    wait_for("the co-author's file locally", lambda: (app.local / "co-author.txt").exists() and (app.local / "co-author.txt").read_bytes() == b"from a co-author\n", 60)

    # The activity view lists both, newest first, with their directions.
    app.go("activity")

    def listed():
        items = [e.text for e in app.all("history-item")]
        return any("co-author.txt" in t for t in items) and any("from the app test.txt" in t for t in items) and items

    items = wait_for("both files in the activity list", listed, 30)
    assert len(items) >= 4, items


def test_pause_and_resume_from_the_window(launch):
    app = launch()
    app.wait_synced()
    app.click("pause")
    wait_for("the pair to be paused", lambda: app.pair()["state"] == "paused", 20)
    app.wait("resume")
    (app.local / "while paused.txt").write_bytes(b"not yet\n")
    time.sleep(3)  # the watcher fires within a second; a paused pair must not upload
    assert app.dropbox.download("while paused.txt") is None
    app.click("resume")
    wait_for("the paused change to go up after resuming", lambda: app.dropbox.download("while paused.txt") == b"not yet\n", 60)
    app.wait("pause")


def test_link_in_the_app_window(launch):
    app = launch(unlinked=True)
    # Not linked: the window opens on the Link view and says so at the top.
    app.wait("link-view")
    assert app.text("summary") == "Not linked to Dropbox"
    app.shot("app-link")
    assert app.call({"cmd": "status"})["linked"] is False
    main = app.driver.current_window_handle
    app.click("link-start")
    app.wait("link-waiting")

    # Dropbox's consent page opens in the app's own sign-in window.
    handles = wait_for("the sign-in window", lambda: [h for h in app.driver.window_handles if h != main], 20)
    app.driver.switch_to.window(handles[0])
    wait_for("the consent page's Allow button", lambda: app.driver.find_element(By.ID, "allow"), 30)
    assert "nuvolos.cloud" in app.driver.page_source
    app.shot("app-link-consent")
    # Press Allow from a timer: the window closes as a result, and a WebDriver click would
    # wait for a navigation in a window that no longer exists.
    app.driver.execute_script("setTimeout(() => document.getElementById('allow').click(), 50)")
    app.driver.switch_to.window(main)

    # The window closes by itself; the main window shows the account and sync starts.
    wait_for("the sign-in window to close", lambda: app.driver.window_handles == [main], 30)
    linked = app.wait("linked-as", 30)
    assert "@" in linked.text
    app.click("link-done")
    wait_for("the overall state to be up to date", lambda: app.attr("overall", "data-state") == "up_to_date", 60)
    assert app.dropbox.download("README.md") is not None
    assert (app.local / "From Dropbox.txt").exists()


def test_conflict_is_kept_and_resolved_in_the_window(launch):
    app = launch()
    app.wait_synced()
    app.click("pause")
    wait_for("the pair to be paused", lambda: app.pair()["state"] == "paused", 20)
    (app.local / "README.md").write_bytes(b"my edit\n")
    app.dropbox.upload("README.md", b"their edit\n")
    app.click("resume")

    # Both versions are kept: theirs under the name, mine as a conflicted copy.
    badge = app.wait("conflict-badge", 60, "the conflict badge")
    assert badge.text == "1"
    copies = wait_for("the conflicted copy locally", lambda: list(app.local.glob("README (conflicted copy from *).md")), 30)
    assert copies[0].read_bytes() == b"my edit\n"
    assert (app.local / "README.md").read_bytes() == b"their edit\n"

    app.go("conflicts")
    card = app.wait("conflict")
    assert card.get_attribute("data-path") == "/README.md"
    app.find("keep-mine", card).click()
    wait_for("the conflict list to empty", lambda: app.all("no-conflicts"), 30)
    wait_for("my version on Dropbox", lambda: app.dropbox.download("README.md") == b"my edit\n", 60)
    wait_for("the conflicted copy to be gone everywhere", lambda: not list(app.local.glob("README (conflicted copy*")) and not any("conflicted copy" in n for n in app.dropbox.names()), 60)
    assert (app.local / "README.md").read_bytes() == b"my edit\n"


def restore_a_snapshot(app: App) -> None:
    """Sync, edit after a "snapshot" of the marker, then put the snapshot back: the old marker,
    the old README, no after-snapshot.txt, a file Dropbox never had. The engine stops."""
    app.wait_synced()
    marker = app.local / ".nuvosync" / "marker.json"
    snapshot_marker = marker.read_bytes()
    generation = json.loads(snapshot_marker)["generation"]
    (app.local / "after-snapshot.txt").write_bytes(b"written after the snapshot\n")
    (app.local / "README.md").write_bytes(b"edited after the snapshot\n")
    wait_for("the edits on Dropbox", lambda: app.dropbox.download("after-snapshot.txt") is not None and app.dropbox.download("README.md") == b"edited after the snapshot\n", 60)
    wait_for("the folder's generation to move on", lambda: json.loads(marker.read_bytes())["generation"] > generation and app.pair()["state"] == "up_to_date", 60)

    marker.write_bytes(snapshot_marker)
    (app.local / "README.md").write_bytes(b"# Demo instance\n\nFiles here are mirrored to Dropbox.\n")
    (app.local / "after-snapshot.txt").unlink()
    (app.local / "only-in-snapshot.txt").write_bytes(b"restored from the snapshot\n")
    app.call({"cmd": "sync_now", "args": {"pair": None}})

    # Detected: the pair stops and the window offers the wizard; neither side is touched.
    guidance = app.wait("guidance", 60, "the restore guidance")
    assert guidance.get_attribute("data-kind") == "restore"
    assert app.dropbox.download("README.md") == b"edited after the snapshot\n"
    assert (app.local / "README.md").read_bytes() == b"# Demo instance\n\nFiles here are mirrored to Dropbox.\n"


def step(app: App, wizard, name: str, timeout: float = 30) -> None:
    wait_for(f"the wizard's {name} step", lambda: wizard.get_attribute("data-step") == name, timeout)


def test_restore_wizard_in_the_app(launch):
    """Each step of the wizard in the real web view, with a screenshot of each."""
    app = launch()
    restore_a_snapshot(app)
    shots = [app.shot("app-restore-0-detected")]
    app.click("open-restore")
    wizard = app.wait("wizard")
    step(app, wizard, "explain")
    assert app.all("wizard-detected"), "the first step says a restore was detected"
    shots.append(app.shot("app-restore-1-explain"))
    app.click("wizard-preview")
    step(app, wizard, "preview")
    assert app.attr("plan-replaced", "data-count") == "1"
    assert app.attr("plan-removed", "data-count") == "1"
    assert app.attr("plan-uploaded", "data-count") == "1"
    assert "/README.md" in app.text("plan-replaced")
    assert app.text("backup-folder").startswith("Demo Instance (before restore ")
    shots.append(app.shot("app-restore-2-preview"))
    app.click("wizard-next")
    step(app, wizard, "confirm", 10)
    shots.append(app.shot("app-restore-3-confirm"))
    # Slow the emulator so the progress step stays up long enough to be seen.
    app.dropbox.faults({"latency_ms": 400})
    app.click("wizard-apply")
    step(app, wizard, "progress", 10)
    shots.append(app.shot("app-restore-4-progress"))
    step(app, wizard, "result", 90)
    app.dropbox.faults({"latency_ms": 0})
    backup = app.text("result-backup")
    assert backup.startswith("Demo Instance (before restore ")
    shots.append(app.shot("app-restore-5-result"))
    assert all(p.stat().st_size > 5000 for p in shots), "a screenshot is blank"
    app.click("wizard-close")

    # Dropbox: the old folder kept as a backup, the restored files as the instance folder.
    assert sorted(app.dropbox.names("/Demo Org/Demo Space")) == sorted(["Demo Instance", backup])
    assert "after-snapshot.txt" in app.dropbox.names(f"/Demo Org/Demo Space/{backup}")
    assert app.dropbox.download(f"/Demo Org/Demo Space/{backup}/README.md") == b"edited after the snapshot\n"
    wait_for("the restored files on Dropbox", lambda: app.dropbox.download("only-in-snapshot.txt") == b"restored from the snapshot\n" and app.dropbox.download("README.md") == b"# Demo instance\n\nFiles here are mirrored to Dropbox.\n", 60)
    assert app.dropbox.download("after-snapshot.txt") is None
    wait_for("the pair to be up to date", lambda: app.pair()["state"] == "up_to_date", 60)
    assert not (app.local / "after-snapshot.txt").exists()


def test_not_a_restore_in_the_app(launch):
    """"This was not a restore": the preview shows both sides, a second confirmation is needed."""
    app = launch()
    restore_a_snapshot(app)
    # While it waits, a co-author edits a file this computer has unchanged.
    app.dropbox.upload("From Dropbox.txt", b"edited by the co-author during the pause\n")
    app.click("open-restore")
    wizard = app.wait("wizard")
    step(app, wizard, "explain")
    app.click("wizard-not-restore")
    step(app, wizard, "continue_preview")
    assert "/README.md" in app.text("cont-replaced"), "Dropbox's newer README would be overwritten"
    assert "/after-snapshot.txt" in app.text("cont-removed")
    assert "/From Dropbox.txt" in app.text("cont-overwritten_here")
    go = app.find("continue-confirm")
    assert not go.is_enabled(), "continuing needs the second confirmation"
    shots = [app.shot("app-not-a-restore-1-preview")]
    app.click("continue-ack")
    wait_for("the confirm button", go.is_enabled, 10)
    go.click()
    app.wait("continue-done", 30)
    shots.append(app.shot("app-not-a-restore-2-done"))
    assert all(p.stat().st_size > 5000 for p in shots), "a screenshot is blank"
    app.click("wizard-close")

    # Normal sync, as previewed: the older local README goes up, the co-author's edit comes down.
    wait_for("the local README on Dropbox", lambda: app.dropbox.download("README.md") == b"# Demo instance\n\nFiles here are mirrored to Dropbox.\n", 60)
    wait_for("the co-author's edit here", lambda: (app.local / "From Dropbox.txt").read_bytes() == b"edited by the co-author during the pause\n", 60)
    wait_for("after-snapshot.txt gone on Dropbox", lambda: app.dropbox.download("after-snapshot.txt") is None, 60)
    assert sorted(app.dropbox.names("/Demo Org/Demo Space")) == ["Demo Instance"], "no backup folder"


def test_cli_talks_to_the_running_app(launch):
    """The app serves the control socket, so the CLI works alongside it."""
    app = launch()
    app.wait_synced()
    cli = TARGET / "debug" / "nuvosync"
    if not cli.exists():
        raise AssertionError(f"no CLI at {cli}: cargo build -p nuvosync")
    env = {"PATH": "/usr/bin:/bin", "NUVOSYNC_CONFIG_DIR": app.info["config_dir"], "NUVOSYNC_STATE_DIR": app.info["state_dir"], "NUVOSYNC_KEYRING": "off"}
    out = subprocess.run([str(cli), "status", "--json"], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["pairs"][0]["name"] == "demo"
    out = subprocess.run([str(cli), "pause"], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    # The window follows what the CLI did.
    app.wait("resume", 20, "the window to show the pair paused")


def test_every_screen_renders_in_the_app(launch):
    """Each view and the wizard render in the real web view; a screenshot of each is kept."""
    app = launch()
    app.wait_synced()
    # A conflict, so the Conflicts view has something to show.
    app.call({"cmd": "pause", "args": {"pair": None}})
    wait_for("the pair to be paused", lambda: app.pair()["state"] == "paused", 20)
    (app.local / "notebooks" / "analysis.py").write_bytes(b"print('my version')\n")
    app.dropbox.upload("notebooks/analysis.py", b"print('their version')\n")
    app.call({"cmd": "resume", "args": {"pair": None, "confirm_deletes": False}})
    app.wait("conflict-badge", 60, "the conflict badge")

    saved = []
    for view, marker in [("status", "pair-demo"), ("activity", "transfers"), ("conflicts", "conflict"), ("settings", "settings-form")]:
        app.go(view)
        app.wait(f"view-{view}", 10)
        app.wait(marker, 20)
        saved.append(app.shot(f"app-{view}"))
    app.click("nav-restore")
    app.wait("wizard", 10)
    saved.append(app.shot("app-restore-wizard"))
    assert all(p.stat().st_size > 5000 for p in saved), "a screenshot is blank"


def test_versions_deleted_files_and_the_folder_picker_in_the_app(launch):
    """Version history of an ordinary file (an earlier one restored), a file deleted here brought
    back from "Recently deleted", and the Dropbox folder picker — in the real web view, with a
    screenshot of each."""
    app = launch()
    app.wait_synced()
    report = app.local / "report.txt"
    report.write_bytes(b"draft 1\n")
    wait_for("draft 1 on Dropbox", lambda: app.dropbox.download("report.txt") == b"draft 1\n", 60)
    app.dropbox.upload("report.txt", b"draft 2, edited on Dropbox\n")
    wait_for("draft 2 here", lambda: report.exists() and report.read_bytes() == b"draft 2, edited on Dropbox\n", 60)
    notes = app.local / "old-notes.txt"
    notes.write_bytes(b"notes to delete\n")
    wait_for("the notes on Dropbox", lambda: app.dropbox.download("old-notes.txt") == b"notes to delete\n", 60)
    notes.unlink()
    wait_for("the notes gone from Dropbox", lambda: app.dropbox.download("old-notes.txt") is None, 60)
    (app.local / "datasets" / "raw").mkdir(parents=True)
    (app.local / "datasets" / "raw" / "big.csv").write_bytes(b"x" * 40_000)
    wait_for("the dataset on Dropbox", lambda: app.dropbox.download("datasets/raw/big.csv") is not None, 60)

    saved = []
    app.go("activity")
    app.wait("view-activity", 10)
    item = wait_for(
        "the report in the activity list",
        lambda: next((e for e in app.all("history-item") if e.get_attribute("data-path") == "/report.txt"), None),
        30,
    )
    app.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", item)
    app.find("versions-toggle", item).click()
    versions = wait_for("two versions", lambda: (v := app.all("version", item)) and len(v) == 2 and v, 30)
    assert "current" in versions[0].text
    saved.append(app.shot("app-version-history"))
    app.find("restore-version", item).click()
    wait_for("draft 1 current on Dropbox", lambda: app.dropbox.download("report.txt") == b"draft 1\n", 60)
    wait_for("draft 1 here", lambda: report.read_bytes() == b"draft 1\n", 60)
    wait_for("three versions, the replaced one kept", lambda: len(app.all("version", item)) == 3, 30)

    app.click("deleted-load")
    gone = wait_for(
        "the deleted notes listed",
        lambda: next((e for e in app.all("deleted-item") if e.get_attribute("data-path") == "/old-notes.txt"), None),
        30,
    )
    assert not any(e.get_attribute("data-path") == "/report.txt" for e in app.all("deleted-item"))
    app.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", gone)
    saved.append(app.shot("app-recently-deleted"))
    app.find("undelete", gone).click()
    wait_for("the notes back here", lambda: notes.exists() and notes.read_bytes() == b"notes to delete\n", 60)

    app.go("settings")
    app.wait("view-settings", 10)
    folder = wait_for(
        "the datasets folder in the picker",
        lambda: next((e for e in app.all("picker-folder") if e.get_attribute("data-path") == "/datasets" and e.is_displayed()), None),
        30,
    )
    app.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", folder)
    assert "file" in folder.text
    saved.append(app.shot("app-folder-picker"))
    assert all(p.stat().st_size > 5000 for p in saved), "a screenshot is blank"
