//! bench-loadgen: a plain HTTPS client for the nuvosync benchmarks.
//!
//! It knows nothing of nuvosync: it talks the Dropbox HTTP API directly (reqwest + rustls,
//! HTTP/1.1 keep-alive, one connection per concurrent request). Every command prints one JSON line.
//!
//!   gen-local    --dir D (--files N --folders F --size S | --manifest M) [--mtime EPOCH]
//!   upload-tree  --url U --ca F --token T --root /R (--files N --folders F --size S | --manifest M)
//!                [--concurrency C] [--client-modified 2024-01-01T00:00:00Z]
//!   list         --url U --ca F --token T [--path P] [--limit L]
//!   large-upload --url U --ca F --token T --path /P --size BYTES [--chunk BYTES]
//!
//! File i of a tree is `d{i % F:04}/f{i:06}.dat`; its content is its relative path plus a
//! newline, repeated up to S bytes (bench/lib.py generates the same bytes). With `--manifest M`
//! the tree is the one listed in M instead (bench/p9tree.py writes it): one `SIZE<TAB>REL` line
//! per file, its content made the same way.

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type Res<T> = Result<T, String>;

fn rel(i: usize, folders: usize) -> String {
    format!("d{:04}/f{:06}.dat", i % folders, i)
}

fn content(rel: &str, size: usize) -> Vec<u8> {
    let line = format!("{rel}\n");
    line.as_bytes().iter().copied().cycle().take(size).collect()
}

/// The files of a tree: `--manifest M`, else the uniform layout of `--files/--folders/--size`.
fn tree(o: &Opts) -> Res<Vec<(String, usize)>> {
    if let Some(m) = o.opt("manifest") {
        let text = std::fs::read_to_string(&m).map_err(|e| format!("reading {m}: {e}"))?;
        return text
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (size, r) = l.split_once('\t').ok_or_else(|| format!("{m}: bad line {l:?}"))?;
                let size = size.parse().map_err(|_| format!("{m}: bad size in {l:?}"))?;
                Ok((r.to_string(), size))
            })
            .collect();
    }
    let files = o.n("files", None)? as usize;
    let folders = o.n("folders", None)? as usize;
    let size = o.n("size", None)? as usize;
    Ok((0..files).map(|i| (rel(i, folders), size)).collect())
}

struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Res<Opts> {
        let mut m = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let k = a.strip_prefix("--").ok_or_else(|| format!("unexpected argument {a}"))?;
            let v = it.next().ok_or_else(|| format!("--{k} needs a value"))?;
            m.insert(k.to_string(), v.clone());
        }
        Ok(Opts(m))
    }
    fn s(&self, k: &str) -> Res<String> {
        self.0.get(k).cloned().ok_or_else(|| format!("--{k} is required"))
    }
    fn opt(&self, k: &str) -> Option<String> {
        self.0.get(k).cloned()
    }
    fn n(&self, k: &str, default: Option<u64>) -> Res<u64> {
        match (self.0.get(k), default) {
            (Some(v), _) => v.parse().map_err(|_| format!("--{k} must be a number")),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(format!("--{k} is required")),
        }
    }
}

struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    fn new(o: &Opts, pool: usize) -> Res<Api> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pem = std::fs::read(o.s("ca")?).map_err(|e| format!("reading the CA: {e}"))?;
        let mut b = reqwest::Client::builder()
            .http1_only()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(pool.max(1))
            .timeout(Duration::from_secs(600));
        for c in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string())? {
            b = b.add_root_certificate(c);
        }
        Ok(Api {
            http: b.build().map_err(|e| e.to_string())?,
            url: o.s("url")?.trim_end_matches('/').to_string(),
            token: o.s("token")?,
        })
    }

    /// One call with a few retries on 429/5xx/transport errors.
    async fn call(&self, route: &str, arg: &Value, body: Option<Vec<u8>>) -> Res<Value> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .post(format!("{}/2/{route}", self.url))
                .bearer_auth(&self.token);
            req = match &body {
                Some(b) => req
                    .header("Dropbox-API-Arg", arg.to_string())
                    .header("Content-Type", "application/octet-stream")
                    .body(b.clone()),
                None => req.header("Content-Type", "application/json").body(arg.to_string()),
            };
            let mut wait = Duration::from_millis(200 * attempt.min(5));
            let mut limit = 6;
            let outcome = match req.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let retry_after = r
                        .headers()
                        .get("Retry-After")
                        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
                    let text = r.text().await.unwrap_or_default();
                    if status == 200 {
                        return serde_json::from_str(&text).map_err(|e| format!("{route}: bad JSON: {e}"));
                    }
                    if status != 429 && status < 500 {
                        return Err(format!("{route}: HTTP {status}: {text}"));
                    }
                    if status == 429 {
                        // As the official SDKs do: wait out Retry-After, however often asked.
                        wait = Duration::from_secs(retry_after.unwrap_or(1));
                        limit = 60;
                    }
                    format!("HTTP {status}: {text}")
                }
                Err(e) => e.to_string(),
            };
            if attempt >= limit {
                return Err(format!("{route}: giving up after {attempt} attempts: {outcome}"));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

fn gen_local(o: &Opts) -> Res<Value> {
    let dir = std::path::PathBuf::from(o.s("dir")?);
    let tree = tree(o)?;
    let files = tree.len();
    let mtime = o.opt("mtime").map(|s| s.parse::<u64>()).transpose().map_err(|_| "--mtime must be seconds".to_string())?;
    let start = Instant::now();
    let parents: std::collections::BTreeSet<&str> =
        tree.iter().filter_map(|(r, _)| r.rsplit_once('/').map(|(p, _)| p)).collect();
    for p in parents {
        std::fs::create_dir_all(dir.join(p)).map_err(|e| e.to_string())?;
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2);
    let next = AtomicU64::new(0);
    let err = std::sync::Mutex::new(None::<String>);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= files {
                    break;
                }
                let (r, size) = &tree[i];
                let p = dir.join(r);
                let res = std::fs::write(&p, content(r, *size)).and_then(|_| match mtime {
                    Some(t) => std::fs::File::options()
                        .write(true)
                        .open(&p)?
                        .set_modified(UNIX_EPOCH + Duration::from_secs(t)),
                    None => Ok(()),
                });
                if let Err(e) = res {
                    *err.lock().unwrap() = Some(format!("{}: {e}", p.display()));
                    break;
                }
            });
        }
    });
    if let Some(e) = err.into_inner().unwrap() {
        return Err(e);
    }
    Ok(json!({"files": files, "secs": start.elapsed().as_secs_f64()}))
}

async fn upload_tree(o: &Opts) -> Res<Value> {
    let conc = o.n("concurrency", Some(64))? as usize;
    let api = Arc::new(Api::new(o, conc)?);
    let root = o.s("root")?.trim_end_matches('/').to_string();
    let tree = tree(o)?;
    let files = tree.len();
    let cm = o.opt("client-modified");
    let start = Instant::now();
    let results: Vec<Res<Value>> = stream::iter(tree)
        .map(|(r, size)| {
            let api = api.clone();
            let mut arg = json!({"path": format!("{root}/{r}"), "mode": "add", "autorename": false, "mute": true});
            if let Some(cm) = &cm {
                arg["client_modified"] = json!(cm);
            }
            async move { api.call("files/upload", &arg, Some(content(&r, size))).await }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    let secs = start.elapsed().as_secs_f64();
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    Ok(json!({
        "files": files, "secs": secs, "files_per_s": files as f64 / secs,
        "concurrency": conc, "errors": errors.len(), "first_error": errors.first(),
    }))
}

async fn list(o: &Opts) -> Res<Value> {
    let api = Api::new(o, 1)?;
    let path = o.opt("path").unwrap_or_default();
    let limit = o.n("limit", Some(2000))?;
    let start = Instant::now();
    let mut r = api
        .call("files/list_folder", &json!({"path": path, "recursive": true, "limit": limit}), None)
        .await?;
    let mut entries = 0usize;
    let mut pages = 0usize;
    loop {
        pages += 1;
        entries += r["entries"].as_array().map(|a| a.len()).unwrap_or(0);
        if !r["has_more"].as_bool().unwrap_or(false) {
            break;
        }
        let cursor = r["cursor"].as_str().unwrap_or_default().to_string();
        r = api.call("files/list_folder/continue", &json!({"cursor": cursor}), None).await?;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(json!({"entries": entries, "pages": pages, "secs": secs, "entries_per_s": entries as f64 / secs}))
}

async fn large_upload(o: &Opts) -> Res<Value> {
    let api = Api::new(o, 1)?;
    let path = o.s("path")?;
    let size = o.n("size", None)? as usize;
    let chunk = o.n("chunk", Some(16 << 20))? as usize;
    // Pseudo-random bytes (xorshift), one chunk's worth reused for every chunk.
    let mut x: u64 = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1;
    let mut buf = Vec::with_capacity(chunk);
    while buf.len() < chunk {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf.extend_from_slice(&x.to_le_bytes());
    }
    buf.truncate(chunk);
    let start = Instant::now();
    let first = chunk.min(size);
    let r = api.call("files/upload_session/start", &json!({"close": false}), Some(buf[..first].to_vec())).await?;
    let sid = r["session_id"].as_str().ok_or("no session_id")?.to_string();
    let mut offset = first;
    let mut requests = 1;
    while size - offset > chunk {
        api.call(
            "files/upload_session/append_v2",
            &json!({"cursor": {"session_id": sid, "offset": offset}, "close": false}),
            Some(buf.clone()),
        )
        .await?;
        offset += chunk;
        requests += 1;
    }
    let last = size - offset;
    let md = api
        .call(
            "files/upload_session/finish",
            &json!({"cursor": {"session_id": sid, "offset": offset}, "commit": {"path": path, "mode": "overwrite", "mute": true}}),
            Some(buf[..last].to_vec()),
        )
        .await?;
    requests += 1;
    let secs = start.elapsed().as_secs_f64();
    Ok(json!({
        "bytes": size, "chunk": chunk, "requests": requests, "secs": secs,
        "mb_per_s": size as f64 / 1e6 / secs, "size_committed": md["size"],
    }))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("usage: bench-loadgen gen-local|upload-tree|list|large-upload --opt value ...");
        std::process::exit(2);
    };
    let out = match Opts::parse(&args[1..]) {
        Err(e) => Err(e),
        Ok(o) => match cmd.as_str() {
            "gen-local" => gen_local(&o),
            "upload-tree" => upload_tree(&o).await,
            "list" => list(&o).await,
            "large-upload" => large_upload(&o).await,
            other => Err(format!("unknown command {other}")),
        },
    };
    match out {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("bench-loadgen {cmd}: {e}");
            std::process::exit(1);
        }
    }
}
