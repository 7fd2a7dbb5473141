"""The tray icon and desktop notifications of the real app, seen the way a desktop sees them:
over D-Bus. A StatusNotifierItem host (status-notifier-watcher) runs on the test's private
session bus; the menu is read and clicked through com.canonical.dbusmenu, and notifications
are caught as org.freedesktop.Notifications.Notify calls."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator
from xml.etree import ElementTree

import pytest
from conftest import App, wait_for
from jeepney import DBusAddress, HeaderFields, MessageType, Properties, new_method_call, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

WATCHER = DBusAddress("/StatusNotifierWatcher", bus_name="org.kde.StatusNotifierWatcher", interface="org.kde.StatusNotifierWatcher")


@pytest.fixture(scope="module")
def bus():
    conn = open_dbus_connection(bus="SESSION")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def tray_host(bus) -> Iterator[None]:
    """A StatusNotifierWatcher, as a desktop panel would run."""
    exe = shutil.which("status-notifier-watcher")
    if not exe:
        pytest.fail("status-notifier-watcher is missing: apt-get install -y haskell-status-notifier-item-utils")
    proc = subprocess.Popen([exe], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def owned() -> bool:
        msg = new_method_call(DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"), "NameHasOwner", "s", ("org.kde.StatusNotifierWatcher",))
        return bool(bus.send_and_get_reply(msg).body[0])

    wait_for("the tray host on the session bus", owned, 20)
    yield
    proc.terminate()
    proc.wait(10)


def call(bus, addr: DBusAddress, method: str, sig: str | None = None, body: tuple = ()):
    reply = bus.send_and_get_reply(new_method_call(addr, method, sig, body), timeout=10)
    if reply.header.message_type == MessageType.error:
        raise RuntimeError(f"{method}: {reply.body}")
    return reply.body


class Tray:
    """The app's tray item as a panel sees it."""

    def __init__(self, bus, service: str, path: str):
        self.bus = bus
        item = DBusAddress(path, bus_name=service, interface="org.kde.StatusNotifierItem")
        reply = bus.send_and_get_reply(Properties(item).get("Menu"), timeout=10)
        menu_path = reply.body[0][1]
        self.item = item
        self.menu = DBusAddress(menu_path, bus_name=service, interface="com.canonical.dbusmenu")

    def entries(self) -> dict[str, int]:
        """Menu label → item id (separators left out)."""
        _revision, layout = call(self.bus, self.menu, "GetLayout", "iias", (0, -1, []))
        found: dict[str, int] = {}

        def walk(node):
            ident, props, children = node
            label = props.get("label", ("s", ""))[1]
            if label:
                found[label.replace("_", "")] = ident
            for _sig, child in children:
                walk(child)

        walk(layout)
        return found

    def click(self, label: str) -> None:
        ident = self.entries()[label]
        call(self.bus, self.menu, "Event", "isvu", (ident, "clicked", ("i", 0), int(time.time())))


def registered_items(bus) -> list[str]:
    reply = bus.send_and_get_reply(Properties(WATCHER).get("RegisteredStatusNotifierItems"), timeout=10)
    return list(reply.body[0][1])


def find_tray(bus, before: set[str]) -> Tray:
    def new_item():
        items = [i for i in registered_items(bus) if i not in before]
        return items[-1] if items else None

    item = wait_for("the app's tray item to register", new_item, 30)
    # "service/path" (a bus name followed by the object path) or just a bus name, in which
    # case the item is wherever the service exports org.kde.StatusNotifierItem.
    service, slash, path = item.partition("/")
    return Tray(bus, service, slash + path if slash else item_path(bus, service))


def item_path(bus, service: str, path: str = "/") -> str:
    """Walk the service's object tree (Introspect) to the StatusNotifierItem."""
    xml = call(bus, DBusAddress(path, bus_name=service, interface="org.freedesktop.DBus.Introspectable"), "Introspect")[0]
    root = ElementTree.fromstring(xml)
    if any(i.get("name") == "org.kde.StatusNotifierItem" for i in root.findall("interface")):
        return path
    for node in root.findall("node"):
        child = f"{path.rstrip('/')}/{node.get('name')}"
        try:
            return item_path(bus, service, child)
        except LookupError:
            continue
    raise LookupError(f"no StatusNotifierItem under {path} of {service}")


def test_tray_menu_follows_the_engine_and_drives_it(launch, bus, tray_host):
    before = set(registered_items(bus))
    app: App = launch()
    tray = find_tray(bus, before)
    wait_for("the tray's status line to say up to date", lambda: "nuvosync: Up to date" in tray.entries(), 60)
    entries = tray.entries()
    for label in ["Open the local folder", "Open the Dropbox folder on the web", "Open nuvosync", "Pause syncing", "Restore from a snapshot…", "Unlink Dropbox", "Quit nuvosync"]:
        assert label in entries, entries

    # Pausing from the tray pauses the engine; the window and the menu follow.
    tray.click("Pause syncing")
    wait_for("the pair to be paused", lambda: app.pair()["state"] == "paused", 20)
    wait_for("the menu to offer Resume", lambda: "Resume syncing" in tray.entries(), 20)
    app.wait("resume", 20, "the window to show Resume")
    tray.click("Resume syncing")
    wait_for("the pair to sync again", lambda: app.pair()["state"] == "up_to_date", 30)

    # "Restore from a snapshot…" brings the window forward on the restore wizard.
    tray.click("Restore from a snapshot…")
    wizard = app.wait("wizard", 20, "the restore wizard")
    assert wizard.get_attribute("data-step") in ("explain", "choose")

    # Quit ends the app (and its engine) cleanly.
    tray.click("Quit nuvosync")
    wait_for("the tray item to go away", lambda: not [i for i in registered_items(bus) if i not in before], 30)


def test_a_conflict_raises_a_desktop_notification(launch, bus, tray_host):
    log = Path(tempfile.mkdtemp()) / "notify.log"
    with open(log, "w") as out:
        monitor = subprocess.Popen(["dbus-monitor", "--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"], stdout=out, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        app: App = launch()
        app.wait_synced()
        app.call({"cmd": "pause", "args": {"pair": None}})
        wait_for("the pair to be paused", lambda: app.pair()["state"] == "paused", 20)
        (app.local / "README.md").write_bytes(b"my edit\n")
        app.dropbox.upload("README.md", b"their edit\n")
        app.call({"cmd": "resume", "args": {"pair": None, "confirm_deletes": False}})
        text = wait_for("a Notify call about the conflict", lambda: "Conflict: both versions kept" in (t := log.read_text()) and t, 60)
        assert "README" in text, text
    finally:
        monitor.terminate()
        monitor.wait(10)
        shutil.rmtree(log.parent, ignore_errors=True)


class Notifications:
    """A desktop's notification service (org.freedesktop.Notifications) on the test's session
    bus: it keeps what it is asked to show and can play the user clicking one."""

    PATH = "/org/freedesktop/Notifications"
    IFACE = "org.freedesktop.Notifications"

    def __init__(self):
        self.conn = open_dbus_connection(bus="SESSION")
        reply = self.conn.send_and_get_reply(message_bus.RequestName(self.IFACE, 4), timeout=10)
        assert reply.body[0] == 1, f"could not own {self.IFACE}: {reply.body}"
        self.shown: list[dict] = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                msg = self.conn.receive(timeout=0.2)
            except TimeoutError:
                continue
            except Exception:
                return
            if msg.header.message_type != MessageType.method_call or msg.header.fields.get(HeaderFields.interface) != self.IFACE:
                continue
            member = msg.header.fields.get(HeaderFields.member)
            if member == "Notify":
                app_name, _replaces, _icon, summary, body, actions, _hints, _timeout = msg.body
                with self.lock:
                    nid = len(self.shown) + 1
                    self.shown.append({"id": nid, "app": app_name, "summary": summary, "body": body, "actions": list(actions)})
                self.conn.send(new_method_return(msg, "u", (nid,)))
            elif member == "GetCapabilities":
                self.conn.send(new_method_return(msg, "as", (["actions", "body"],)))
            elif member == "GetServerInformation":
                self.conn.send(new_method_return(msg, "ssss", ("test-notifications", "nuvosync tests", "1", "1.2")))
            else:
                self.conn.send(new_method_return(msg))

    def find(self, summary: str) -> dict | None:
        """The first notification whose title starts with `summary`."""
        with self.lock:
            return next((n for n in self.shown if n["summary"].startswith(summary)), None)

    def click(self, nid: int, action: str = "default"):
        self.conn.send(new_signal(DBusAddress(self.PATH, interface=self.IFACE), "ActionInvoked", "us", (nid, action)))

    def close(self):
        self.running = False
        self.thread.join(5)
        self.conn.close()


def test_clicking_the_restore_notification_opens_the_wizard(launch, bus, tray_host):
    service = Notifications()
    try:
        app: App = launch()
        app.wait_synced()
        marker = app.local / ".nuvosync" / "marker.json"
        snapshot_marker = marker.read_bytes()
        generation = json.loads(snapshot_marker)["generation"]
        (app.local / "after-snapshot.txt").write_bytes(b"written after the snapshot\n")
        wait_for("the folder's generation to move on", lambda: json.loads(marker.read_bytes())["generation"] > generation and app.pair()["state"] == "up_to_date", 60)
        # A snapshot comes back: the old marker, without the newer file.
        marker.write_bytes(snapshot_marker)
        (app.local / "after-snapshot.txt").unlink()
        app.call({"cmd": "sync_now", "args": {"pair": None}})

        shown = wait_for("the restore notification", lambda: service.find("Snapshot restore detected"), 60)
        assert shown["app"] == "nuvosync"
        assert "default" in shown["actions"][::2], shown
        app.go("settings")  # somewhere else, so that the click has to bring the wizard
        service.click(shown["id"])
        wizard = app.wait("wizard", 30, "the restore wizard after the click")
        assert wizard.get_attribute("data-step") == "explain"
        app.shot("notification-opens-wizard")
    finally:
        service.close()
