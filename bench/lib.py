"""Plumbing for bench.py: the emulator, the three tools, trees, processes. Standard library only."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Where cargo puts the workspace binaries (CARGO_TARGET_DIR moves them, as in CI checkouts).
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
ACCOUNT = "bench"
TOKEN = "bench-token-0001"  # access token (app folder) and refresh token (any app key)
ADMIN = "bench-admin"
APP = "/Apps/nuvolos.cloud"
ORG, SPACE, INST = "bench", "space", "inst"
PAIR_REMOTE = f"/{ORG}/{SPACE}/{INST}"  # relative to the app folder
FULL_REMOTE = APP + PAIR_REMOTE  # as the admin tree and Maestral see it
FIXED_MTIME = 1704067200  # 2024-01-01T00:00:00Z: local mtime and client_modified of pre-made trees
FIXED_MTIME_ISO = "2024-01-01T00:00:00Z"
BLOCK = 4 * 1024 * 1024

_t0 = time.monotonic()
_log_file = None


def log(msg: str) -> None:
    line = f"[{time.monotonic() - _t0:8.1f}s] {msg}"
    print(line, flush=True)
    if _log_file:
        _log_file.write(line + "\n")
        _log_file.flush()


def set_log_file(path: Path) -> None:
    global _log_file
    _log_file = open(path, "a")


# ---------------------------------------------------------------- trees


def rel(i: int, folders: int) -> str:
    return f"d{i % folders:04d}/f{i:06d}.dat"


def content(r: str, size: int) -> bytes:
    line = (r + "\n").encode()
    return (line * (size // len(line) + 1))[:size]


def content_hash(data: bytes) -> str:
    return hashlib.sha256(b"".join(hashlib.sha256(data[i : i + BLOCK]).digest() for i in range(0, len(data), BLOCK))).hexdigest()


def file_content_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(BLOCK)
            if not b:
                break
            h.update(hashlib.sha256(b).digest())
    return h.hexdigest()


class TreeSpec:
    """N files of SIZE bytes spread over FOLDERS folders (same layout as bench-loadgen)."""

    def __init__(self, files: int, folders: int, size: int = 4096):
        self.files, self.folders, self.size = files, folders, size

    def rels(self):
        return (rel(i, self.folders) for i in range(self.files))

    def expected_sizes(self) -> dict[str, int]:
        return {r: self.size for r in self.rels()}

    def expected_hashes(self) -> dict[str, str]:
        return {r: content_hash(content(r, self.size)) for r in self.rels()}

    def __str__(self):
        return f"{self.files} files x {self.size} B in {self.folders} folders"


def local_sizes(root: Path) -> dict[str, int]:
    """rel path -> size of every regular file under root (hidden folders skipped)."""
    out: dict[str, int] = {}
    stack = [root]
    n = len(str(root)) + 1
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                if e.name.startswith("."):
                    continue
                try:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif e.is_file(follow_symlinks=False):
                        out[e.path[n:]] = e.stat(follow_symlinks=False).st_size
                except OSError:
                    pass
    return out


def count_present(root: Path, want: dict[str, int]) -> int:
    """How many of want's files are on disk with their size (stat only: no directory is opened)."""
    n = 0
    base = str(root) + "/"
    for r, size in want.items():
        try:
            if os.stat(base + r).st_size == size:
                n += 1
        except OSError:
            pass
    return n


def count_matching(have: dict[str, int], want: dict[str, int]) -> int:
    return sum(1 for r, s in want.items() if have.get(r) == s)


def adaptive_sleep(started: float, lo: float = 0.1, hi: float = 2.0, frac: float = 0.01) -> None:
    """Poll often at first, then at about 1 % of the elapsed time (keeps the timing error ~1 %)."""
    time.sleep(min(hi, max(lo, (time.monotonic() - started) * frac)))


# ---------------------------------------------------------------- processes

_procs: list[subprocess.Popen] = []


def spawn(cmd, env=None, log_path: Path | None = None, cwd=None) -> subprocess.Popen:
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
    _procs.append(p)
    return p


def stop_proc(p: subprocess.Popen | None, sig=signal.SIGINT, grace: float = 30.0) -> None:
    """Stop one process we started (and its process group), by its id."""
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        return
    try:
        p.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(10)


def kill_all_started() -> None:
    for p in _procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS in bytes, and what VmRSS is made of: RssAnon (the heap and stacks),
    RssFile (the program's own pages, mapped files) and RssShmem."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:", "RssAnon:", "RssFile:", "RssShmem:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_secs(pid: int) -> float | None:
    """utime + stime of a process (seconds)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def run_timed(cmd, env=None, timeout=None, log_path: Path | None = None):
    """Run to completion; returns (returncode, wall seconds, max RSS bytes, output).

    The max RSS is the process's own high-water mark (`VmHWM`), read every 20 ms while it runs.
    Not `ru_maxrss`: Linux carries the forking process's high-water mark into the child across
    `exec`, so a child of this harness (which holds P9's million-line manifest, 200-300 MB) would
    be charged the harness's memory. Only a process gone before the first read falls back to it.
    """
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    _procs.append(p)
    timer = None
    if timeout:
        timer = threading.Timer(timeout, lambda: p.poll() is None and os.killpg(p.pid, signal.SIGKILL))
        timer.start()
    hwm = [0]
    done = threading.Event()

    def watch_hwm():
        while not done.wait(0.02):
            hwm[0] = max(hwm[0], proc_status(p.pid).get("VmHWM", 0))

    watcher = threading.Thread(target=watch_hwm, daemon=True)
    watcher.start()
    out = p.stdout.read()
    done.set()
    watcher.join()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.monotonic() - t0
    if timer:
        timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    text = out.decode(errors="replace")
    if log_path:
        with open(log_path, "a") as f:
            f.write(f"$ {' '.join(map(str, cmd))}\n{text}\n[exit {p.returncode} after {secs:.2f}s]\n")
    return p.returncode, secs, hwm[0] or ru.ru_maxrss * 1024, text


def check_call(cmd, env=None, timeout=600, log_path: Path | None = None) -> str:
    rc, _, _, out = run_timed(cmd, env=env, timeout=timeout, log_path=log_path)
    if rc != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({rc}): {out[-2000:]}")
    return out


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for k in list(env):
        if k.startswith(("NUVOSYNC_", "RCLONE_", "DROPBOX_", "XDG_")) or k.lower() in (
            "https_proxy",
            "http_proxy",
            "all_proxy",
            "no_proxy",
            "requests_ca_bundle",
            "curl_ca_bundle",
            "ssl_cert_file",
            "dbus_session_bus_address",
        ):
            del env[k]
    return env


# ---------------------------------------------------------------- emulator


EMULATORS: list["Emulator"] = []


class Emulator:
    def __init__(self, bins, work: Path, tls_dir: Path, latency_ms: int, name: str = "emulator", extra: list[str] | None = None):
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.latency_ms = latency_ms
        self.args = [
            str(bins["emulator"]),
            "--tls-dir",
            str(tls_dir),
            "--account",
            f"{ACCOUNT}:{TOKEN}",
            "--admin-token",
            ADMIN,
            # Maestral refreshes with its built-in app key: registered, as Dropbox requires.
            "--app",
            "2jmbq42w7vof78h:",
            "--latency-ms",
            str(latency_ms),
            *(extra or []),
        ]
        self.log_path = work / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True)
        _procs.append(self.proc)
        line = self._ready_line()
        info = json.loads(line)
        self.url = info["url"]
        self.ca_file = info["ca_file"]
        self.port = int(self.url.rsplit(":", 1)[1])
        self.ssl = ssl.create_default_context(cafile=self.ca_file)
        self._local = threading.local()
        self.died = False  # exited before the harness stopped it
        EMULATORS.append(self)

    def _ready_line(self) -> str:
        got: list[bytes] = []
        t = threading.Thread(target=lambda: got.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(30)
        if not got or not got[0]:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {self.log_path.read_text(errors='replace')[-2000:]}")
        return got[0].decode()

    def _conn(self) -> http.client.HTTPSConnection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl, timeout=120)
            self._local.conn = c
        return c

    def _request(self, method, path, body=None, headers=None):
        for attempt in range(3):
            c = self._conn()
            try:
                c.request(method, path, body=body, headers=headers or {})
                r = c.getresponse()
                data = r.read()
                return r.status, data
            except (http.client.HTTPException, OSError):
                c.close()
                self._local.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def admin(self, method: str, route: str, body=None, query: str = ""):
        headers = {"Authorization": f"Bearer {ADMIN}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        status, out = self._request(method, f"/admin/{route}{'?' + query if query else ''}", data, headers)
        if status != 200:
            raise RuntimeError(f"admin {route}: HTTP {status}: {out[:500]!r}")
        return json.loads(out)

    def tree(self) -> list[dict]:
        return self.admin("GET", "tree", query=f"account={ACCOUNT}")["entries"]

    def remote_files(self, prefix: str = FULL_REMOTE) -> dict[str, dict]:
        """rel path -> entry for the files under prefix (the pair's folder)."""
        p = prefix.rstrip("/") + "/"
        n = len(p)
        out = {}
        for e in self.tree():
            path = e.get("path", "")
            if path.startswith(p) and not e.get("folder"):
                out[path[n:]] = e
        return out

    def stats(self) -> dict:
        return self.admin("GET", "stats")

    def faults(self, **kw) -> dict:
        return self.admin("POST", "faults", kw)

    def api(self, route: str, arg, data: bytes | None = None, token: str = TOKEN):
        headers = {"Authorization": f"Bearer {token}"}
        if data is None:
            body = json.dumps(arg).encode()
            headers["Content-Type"] = "application/json"
        else:
            body = data
            headers["Content-Type"] = "application/octet-stream"
            headers["Dropbox-API-Arg"] = json.dumps(arg, ensure_ascii=True)
        status, out = self._request("POST", f"/2/{route}", body, headers)
        return status, (json.loads(out) if out[:1] in (b"{", b"[") else out)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is not None:
            self.died = True
        stop_proc(self.proc, signal.SIGINT, 10)
        self._log.close()


def loadgen(bins, emu: Emulator | None, cmd: str, *args, timeout=3600, log_path=None) -> dict:
    full = [str(bins["loadgen"]), cmd]
    if emu is not None:
        full += ["--url", emu.url, "--ca", emu.ca_file, "--token", TOKEN]
    full += [str(a) for a in args]
    rc, _, _, out = run_timed(full, timeout=timeout, log_path=log_path)
    if rc != 0:
        raise RuntimeError(f"bench-loadgen {cmd} failed: {out[-1500:]}")
    return json.loads(out.strip().splitlines()[-1])


def populate_remote(bins, emu: Emulator, spec: TreeSpec, log_path=None) -> dict:
    """Put spec's tree into the pair's remote folder, fast (latency off meanwhile)."""
    emu.faults(latency_ms=0)
    try:
        r = loadgen(
            bins, emu, "upload-tree", "--root", PAIR_REMOTE, "--files", spec.files, "--folders", spec.folders,
            "--size", spec.size, "--concurrency", 32, "--client-modified", FIXED_MTIME_ISO, log_path=log_path,
        )
    finally:
        emu.faults(latency_ms=emu.latency_ms)
    if r.get("errors"):
        raise RuntimeError(f"populating the emulator failed: {r}")
    return r


def gen_local(bins, root: Path, spec: TreeSpec, fixed_mtime: bool = True) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    args = ["--dir", root, "--files", spec.files, "--folders", spec.folders, "--size", spec.size]
    if fixed_mtime:
        args += ["--mtime", FIXED_MTIME]
    return loadgen(bins, None, "gen-local", *args)


def wait_until(pred, timeout: float, what: str, lo=0.1, hi=2.0, frac=0.01, alive=None):
    """Poll pred until truthy; returns (value, monotonic time of success). Raises on timeout."""
    start = time.monotonic()
    while True:
        v = pred()
        t = time.monotonic()
        if v:
            return v, t
        if alive is not None and not alive():
            raise RuntimeError(f"process exited while waiting for {what}")
        if t - start > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        adaptive_sleep(start, lo, hi, frac)


# ---------------------------------------------------------------- tools


class Nuvosync:
    name = "nuvosync"

    def __init__(self, bins, emu: Emulator, work: Path, extra_env: dict | None = None):
        self.bin = str(bins["nuvosync"])
        self.work = work
        self.local = work / "local"
        self.env = clean_env()
        self.env.update(
            NUVOSYNC_DROPBOX_URL=emu.url,
            NUVOSYNC_CA_FILE=emu.ca_file,
            NUVOSYNC_TOKEN=TOKEN,
            NUVOSYNC_CONFIG_DIR=str(work / "config"),
            NUVOSYNC_STATE_DIR=str(work / "state"),
            NUVOSYNC_KEYRING="off",
            NUVOSYNC_NO_OS_TRASH="1",
        )
        self.env.update(extra_env or {})
        self.log_path = work / "nuvosync.log"
        self.daemon = None

    def cli(self, *args, timeout=600) -> str:
        return check_call([self.bin, *args], env=self.env, timeout=timeout, log_path=self.log_path)

    def pair_add(self, watch=True, rescan=None):
        args = ["pair", "add", "--local", str(self.local), "--org", ORG, "--space", SPACE, "--instance", INST, "--name", "bench"]
        if not watch:
            args.append("--no-watch")
        if rescan:
            args += ["--rescan-interval", str(rescan)]
        self.cli(*args)

    def sync_once(self, timeout=3600):
        rc, secs, rss, out = run_timed([self.bin, "sync", "--once", "--json"], env=self.env, timeout=timeout, log_path=self.log_path)
        if rc != 0:
            raise RuntimeError(f"nuvosync sync --once failed ({rc}): {out[-2000:]}")
        return secs, rss

    def start(self):
        self.daemon = spawn([*shlex.split(os.environ.get("BENCH_DAEMON_WRAP", "")), self.bin, "daemon"], env=self.env, log_path=self.log_path)
        return self.daemon

    def status(self):
        p = subprocess.run([self.bin, "status", "--json"], env=self.env, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            return None
        try:
            return json.loads(p.stdout)
        except ValueError:
            return None

    def pair_state(self):
        s = self.status()
        if not s:
            return None
        pairs = s.get("pairs", s if isinstance(s, list) else [])
        for p in pairs:
            if p.get("name") == "bench" or len(pairs) == 1:
                return p
        return None

    def up_to_date(self) -> bool:
        p = self.pair_state()
        return bool(p and p.get("state") == "up_to_date" and not p.get("pending"))

    def wait_up_to_date(self, timeout, lo=0.05):
        return wait_until(self.up_to_date, timeout, "nuvosync up_to_date", lo=lo, hi=1.0, alive=lambda: self.daemon.poll() is None)

    def stop(self):
        if self.daemon and self.daemon.poll() is None:
            subprocess.run([self.bin, "stop"], env=self.env, capture_output=True, timeout=30)
            try:
                self.daemon.wait(60)
            except subprocess.TimeoutExpired:
                stop_proc(self.daemon, signal.SIGTERM, 20)
        self.daemon = None


class Maestral:
    CONFIG = "bench"

    def __init__(self, bins, emu: Emulator, work: Path, tuned: bool):
        self.name = "maestral-tuned" if tuned else "maestral"
        self.tuned = tuned
        self.bin = str(bins["maestral"])
        self.python = str(bins["maestral_python"])
        self.work = work
        self.dropbox = work / "Dropbox"
        self.local = self.dropbox / APP.lstrip("/") / PAIR_REMOTE.lstrip("/")
        run = work / "run"
        run.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(run, 0o700)
        self.env = clean_env()
        self.env.update(
            XDG_CONFIG_HOME=str(work / "config"),
            XDG_DATA_HOME=str(work / "data"),
            XDG_CACHE_HOME=str(work / "cache"),
            XDG_RUNTIME_DIR=str(run),
            DROPBOX_API_HOST=f"127.0.0.1:{emu.port}",
            DROPBOX_API_CONTENT_HOST=f"127.0.0.1:{emu.port}",
            DROPBOX_API_NOTIFY_HOST=f"127.0.0.1:{emu.port}",
            DROPBOX_WEB_HOST=f"127.0.0.1:{emu.port}",
            REQUESTS_CA_BUNDLE=emu.ca_file,
            PYTHONUNBUFFERED="1",
        )
        self.log = work / "cache" / "maestral" / f"{self.CONFIG}.log"
        self.out_path = work / "maestral.out"
        self.proc = None
        self._log_pos = 0

    def settings(self) -> dict:
        if self.tuned:
            return {"max_cpu_percent": 100.0, "max_parallel_uploads": 16, "max_parallel_downloads": 16}
        return {"max_cpu_percent": 20.0, "max_parallel_uploads": 6, "max_parallel_downloads": 6}

    def cli(self, *args, timeout=120) -> str:
        return check_call([self.bin, *args, "-c", self.CONFIG], env=self.env, timeout=timeout, log_path=self.out_path)

    def link(self):
        self.dropbox.mkdir(parents=True, exist_ok=True)
        self.cli("auth", "link", "--refresh-token", TOKEN)
        self.cli("config", "set", "path", str(self.dropbox))
        if self.tuned:
            self._set_ini({"sync": {"max_cpu_percent": "100.0"}, "app": {"max_parallel_uploads": "16", "max_parallel_downloads": "16"}})

    def _set_ini(self, values: dict):
        """Write keys into Maestral's .ini (its own ConfigParser, so its format is kept)."""
        ini = self.work / "config" / "maestral" / f"{self.CONFIG}.ini"
        import configparser

        cp = configparser.ConfigParser()
        cp.read(ini)
        for section, kv in values.items():
            if not cp.has_section(section):
                cp.add_section(section)
            for k, v in kv.items():
                cp.set(section, k, v)
        with open(ini, "w") as f:
            cp.write(f)

    def ini_text(self) -> str:
        try:
            return (self.work / "config" / "maestral" / f"{self.CONFIG}.ini").read_text()
        except OSError:
            return ""

    def start(self):
        self._log_pos = self.log.stat().st_size if self.log.exists() else 0
        self.proc = spawn([self.bin, "start", "-f", "-c", self.CONFIG], env=self.env, log_path=self.out_path)
        return self.proc

    def new_log_lines(self) -> list[str]:
        try:
            with open(self.log, "rb") as f:
                f.seek(self._log_pos)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self._log_pos += end + 1
        return data[: end + 1].decode(errors="replace").splitlines()

    def startup_sync_over(self):
        """A check that this start's startup sync is over: 'Up to date' logged after 'Indexing local changes...'."""
        seen = {"indexing": False}

        def done():
            for line in self.new_log_lines():
                if "Indexing local changes" in line:
                    seen["indexing"] = True
                elif seen["indexing"] and "Up to date" in line:
                    return True
                if re.search(r"\b(CRITICAL)\b", line):
                    raise RuntimeError(f"maestral: {line}")
            return False

        return done

    def wait_startup_idle(self, timeout: float):
        """Until this start's startup sync is over (see `startup_sync_over`)."""
        return wait_until(self.startup_sync_over(), timeout, f"{self.name} startup sync", lo=0.05, hi=1.0, alive=lambda: self.proc.poll() is None)

    def wait_idle_after(self, since_pos: int, timeout: float):
        """Until an 'Up to date' line appears after byte offset since_pos of the log."""
        self._log_pos = since_pos

        def done():
            return any("Up to date" in line for line in self.new_log_lines())

        return wait_until(done, timeout, f"{self.name} idle", lo=0.05, hi=1.0, alive=lambda: self.proc.poll() is None)

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def errors(self) -> list[str]:
        try:
            return [l for l in self.log.read_text(errors="replace").splitlines() if re.search(r"\b(ERROR|CRITICAL)\b", l)]
        except OSError:
            return []

    def stop(self):
        stop_proc(self.proc, signal.SIGINT, 60)
        self.proc = None

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


class Rclone:
    name = "rclone"

    def __init__(self, bins, emu: Emulator, work: Path):
        self.bin = bins.get("rclone")
        self.work = work
        self.local = work / "local"
        self.emu = emu
        self.env = clean_env()
        self.env.update(
            RCLONE_CONFIG=str(work / "rclone.conf"),
            RCLONE_CONFIG_DBX_TYPE="dropbox",
            RCLONE_CONFIG_DBX_TOKEN=json.dumps(
                {"access_token": TOKEN, "token_type": "bearer", "refresh_token": TOKEN, "expiry": "2099-01-01T00:00:00Z"}
            ),
            HTTPS_PROXY=f"http://127.0.0.1:{emu.port}",
        )
        self.remote = f"dbx:{PAIR_REMOTE.lstrip('/')}"
        self.log_path = work / "rclone.log"

    def cmd(self, *args):
        return [self.bin, *args, "--ca-cert", self.emu.ca_file]

    def run(self, *args, timeout=3600, check=True):
        rc, secs, rss, out = run_timed(self.cmd(*args), env=self.env, timeout=timeout, log_path=self.log_path)
        if check and rc != 0:
            msg = [l for l in out.splitlines() if "ERROR" in l or "Failed" in l or "CRITICAL" in l] or out.splitlines()[-3:]
            raise RuntimeError(f"rclone {args[0]} failed ({rc}): {' | '.join(msg)[-1500:]}")
        return rc, secs, rss, out

    def spawn(self, *args):
        return spawn(self.cmd(*args), env=self.env, log_path=self.log_path)


def percentile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def rmtree(p: Path) -> None:
    shutil.rmtree(p, ignore_errors=True)
