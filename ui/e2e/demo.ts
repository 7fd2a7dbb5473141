// A `nuvosync demo` per test: the real daemon and engine against the in-process Dropbox
// emulator, in a fresh temp folder, killed at the end. Also a co-author's view of Dropbox
// (HTTPS requests to the emulator) and the daemon's API (the same one the page uses).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The nuvosync binary: `NUVOSYNC_BIN`, else ../target/debug/nuvosync relative to ui/. */
export const BIN = resolve(UI_DIR, process.env.NUVOSYNC_BIN ?? '../target/debug/nuvosync');
/** The built UI the daemon serves. */
export const UI_DIST = resolve(UI_DIR, process.env.NUVOSYNC_UI_DIR ?? 'dist');
/** The pair's folder on Dropbox, inside the app folder. */
export const REMOTE = '/Demo Org/Demo Space/Demo Instance';

export interface DemoInfo {
  emulator: string;
  ca_file: string;
  admin_token: string;
  token: string;
  local: string;
  config_dir: string;
  state_dir: string;
  ui: string;
}

export interface ApiFailure {
  code: string;
  message: string;
}

export class Demo {
  private constructor(
    readonly info: DemoInfo,
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly ca: string,
    readonly log: string[],
  ) {}

  /** Start a demo in a new temp folder; resolves once it printed its ready line. */
  static async start(opts: { unlinked?: boolean; latencyMs?: number } = {}): Promise<Demo> {
    const dir = mkdtempSync(join(tmpdir(), 'nuvosync-e2e-'));
    const args = ['demo', '--dir', dir, '--ui', '127.0.0.1:0', '--ui-dir', UI_DIST];
    if (opts.unlinked) args.push('--unlinked');
    if (opts.latencyMs) args.push('--latency-ms', String(opts.latencyMs));
    const env: Record<string, string | undefined> = { ...process.env, NUVOSYNC_NO_OS_TRASH: '1', RUST_LOG: process.env.RUST_LOG ?? 'info' };
    delete env.NUVOSYNC_TOKEN; // the demo decides the account, not the environment
    const child = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = [];
    child.stderr!.on('data', (b: Buffer) => {
      log.push(b.toString());
      if (log.length > 2000) log.splice(0, 1000);
    });
    const info = await new Promise<DemoInfo>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`nuvosync demo printed nothing in 60 s:\n${log.join('')}`)), 60_000);
      child.once('error', (e) => {
        clearTimeout(timer);
        fail(new Error(`cannot start ${BIN} (build it with \`cargo build -p nuvosync --features demo\` or set NUVOSYNC_BIN): ${e.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`nuvosync demo exited with ${code} before it was ready:\n${log.join('')}`));
      });
      createInterface({ input: child.stdout! }).once('line', (line) => {
        clearTimeout(timer);
        try {
          ok(JSON.parse(line) as DemoInfo);
        } catch (e) {
          fail(new Error(`nuvosync demo's first line is not JSON: ${line} (${String(e)})`));
        }
      });
    });
    return new Demo(info, dir, child, readFileSync(info.ca_file, 'utf8'), log);
  }

  /** Stop the demo (SIGTERM, then SIGKILL) and remove its folder. */
  async stop(): Promise<void> {
    const c = this.child;
    if (c.exitCode === null && c.signalCode === null) {
      const gone = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  get uiUrl(): string {
    return this.info.ui;
  }

  /** The page's address for one view ("settings" → …/?token=…#/settings). */
  view(name: string): string {
    return `${this.info.ui}#/${name}`;
  }

  /** One daemon command through the web transport, as the page sends it. */
  async call<T>(cmd: unknown): Promise<T> {
    const u = new URL(this.info.ui);
    const res = await fetch(`${u.origin}/api/command`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Nuvosync-Token': u.searchParams.get('token') ?? '' },
      body: JSON.stringify(cmd),
    });
    const body = (await res.json()) as { ok?: T; error?: ApiFailure };
    if (body.error) throw Object.assign(new Error(`${body.error.code}: ${body.error.message}`), body.error);
    return body.ok as T;
  }

  /** An HTTPS request to the emulator with the demo account's token. */
  private dropbox(path: string, headers: Record<string, string>, body: Buffer | string, token = this.info.token): Promise<{ status: number; text: string }> {
    const u = new URL(path, this.info.emulator);
    return new Promise((ok, fail) => {
      const req = request(
        u,
        { method: 'POST', ca: this.ca, headers: { Authorization: `Bearer ${token}`, ...headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => ok({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  }

  /** Upload (overwrite) a file into the pair's Dropbox folder, as a co-author would. */
  async upload(rel: string, content: Buffer | string): Promise<void> {
    const r = await this.dropbox(
      '/2/files/upload',
      {
        'Content-Type': 'application/octet-stream',
        'Dropbox-API-Arg': asciiJson({ path: `${REMOTE}/${rel.replace(/^\//, '')}`, mode: 'overwrite' }),
      },
      typeof content === 'string' ? Buffer.from(content) : content,
    );
    if (r.status !== 200) throw new Error(`upload ${rel}: HTTP ${r.status} ${r.text}`);
  }

  /** Download a file of the pair's Dropbox folder; null when it does not exist. */
  async download(rel: string): Promise<string | null> {
    const r = await this.dropbox('/2/files/download', { 'Dropbox-API-Arg': asciiJson({ path: `${REMOTE}/${rel.replace(/^\//, '')}` }) }, '');
    if (r.status === 409) return null;
    if (r.status !== 200) throw new Error(`download ${rel}: HTTP ${r.status} ${r.text}`);
    return r.text;
  }

  /** The names directly in a Dropbox folder (path inside the app folder). */
  async listFolder(path: string): Promise<{ name: string; tag: string }[]> {
    const r = await this.dropbox('/2/files/list_folder', { 'Content-Type': 'application/json' }, JSON.stringify({ path }));
    if (r.status !== 200) throw new Error(`list_folder ${path}: HTTP ${r.status} ${r.text}`);
    const page = JSON.parse(r.text) as { entries: { '.tag': string; name: string }[] };
    return page.entries.map((e) => ({ name: e.name, tag: e['.tag'] }));
  }

  /** Change the emulator's faults (latency, bandwidth…). */
  async faults(f: Record<string, unknown>): Promise<void> {
    const u = new URL('/admin/faults', this.info.emulator);
    await new Promise<void>((ok, fail) => {
      const req = request(
        u,
        { method: 'POST', ca: this.ca, headers: { Authorization: `Bearer ${this.info.admin_token}`, 'Content-Type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? ok() : fail(new Error(`admin/faults: HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', fail);
      req.end(JSON.stringify(f));
    });
  }

  /** Poll until `check` returns a truthy value (or throw with the last reason after `ms`). */
  async until<T>(what: string, check: () => Promise<T | null | undefined | false> | T | null | undefined | false, ms = 30_000): Promise<T> {
    const end = Date.now() + ms;
    let last: unknown = null;
    for (;;) {
      try {
        const v = await check();
        if (v) return v;
      } catch (e) {
        last = e;
      }
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The pair's state as the daemon reports it. */
  async pairState(): Promise<{ state: string; code: string | null; pending: number; conflicts: number }> {
    const s = await this.call<{ pairs: { name: string; state: string; code: string | null; pending: number; conflicts: number }[] }>({ cmd: 'status' });
    const p = s.pairs.find((x) => x.name === 'demo');
    if (!p) throw new Error('no pair demo');
    return p;
  }
}

/** Dropbox-API-Arg must be ASCII: escape everything else as \uXXXX. */
function asciiJson(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
