//! `dropbox-emulator`: run the Dropbox API v2 emulator as a process.
//!
//! When ready it prints one JSON line to stdout — `{"url": ..., "ca_file": ..., "admin_token": ...}`
//! — and logs to stderr. SIGINT/SIGTERM stop it.

use anyhow::Context;
use clap::Parser;
use dropbox_emulator::faults::{Corrupt, Corruption};
use dropbox_emulator::{Config, Emulator, Faults, serve, tls};
use std::path::PathBuf;

/// A faithful Dropbox API v2 server for tests, demos and benchmarks.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Serve HTTPS with a test CA kept in this directory (created if needed; `ca.pem` is the CA to trust).
    #[arg(long)]
    tls_dir: Option<PathBuf>,
    /// Extra DNS names or IPs for the TLS certificate (repeatable).
    #[arg(long = "tls-extra-san")]
    tls_extra_san: Vec<String>,
    /// Keep state in this directory and recover it on restart.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// An account NAME:TOKEN; TOKEN works as a long-lived access token (app folder) and as a
    /// refresh token for any app key (repeatable). Default: demo:demo-token.
    #[arg(long = "account")]
    accounts: Vec<String>,
    /// A registered app, KEY[=SECRET]:FOLDER:REDIRECT_URI[,REDIRECT_URI...] (repeatable): FOLDER
    /// empty for full Dropbox access, redirect URIs matched exactly. Only registered apps may
    /// sign in or refresh. nuvosync-desktop:nuvolos.cloud with its three loopback redirect URIs
    /// is always registered (an --app with its key replaces it).
    #[arg(long = "app", value_parser = dropbox_emulator::oauth::RegisteredApp::parse)]
    apps: Vec<dropbox_emulator::oauth::RegisteredApp>,
    /// Seed for ids, revisions and fault decisions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Seed for which entries show their parent folders in another casing than the folders
    /// have (a request's casing, or the one a folder had before a case-only rename), as
    /// Dropbox's path_display may; the last component and path_lower are always exact.
    #[arg(long, default_value_t = dropbox_emulator::state::DEFAULT_PARENT_CASING_SEED)]
    parent_casing_seed: u64,
    /// Lifetime of access tokens issued by /oauth2/token, in seconds.
    #[arg(long, default_value_t = 14_400)]
    token_lifetime: u64,
    /// Space allocated per account, in bytes.
    #[arg(long, default_value_t = 2 << 40)]
    quota_bytes: u64,
    /// Token for the admin endpoint (/admin/*, loopback only). A random one is made if not given.
    #[arg(long)]
    admin_token: Option<String>,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Extra random latency up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_jitter_ms: u64,
    /// Shared upload+download bandwidth cap in bytes per second (0 = none).
    #[arg(long, default_value_t = 0)]
    bandwidth: u64,
    /// Load model: requests of one account served at once; more are answered 429
    /// too_many_requests with Retry-After (0 = no limit).
    #[arg(long, default_value_t = dropbox_emulator::load::LoadModel::default().max_in_flight)]
    max_in_flight: u32,
    /// Load model: sustained requests per second per account (0 = no rate limit).
    #[arg(long, default_value_t = dropbox_emulator::load::LoadModel::default().rate_per_sec)]
    rate_limit: f64,
    /// Load model: requests one account may make in a burst above --rate-limit.
    #[arg(long, default_value_t = dropbox_emulator::load::LoadModel::default().burst)]
    rate_burst: u32,
    /// Probability of a 500/503 per request.
    #[arg(long, default_value_t = 0.0)]
    p_5xx: f64,
    /// Probability of a 429 too_many_requests per request.
    #[arg(long, default_value_t = 0.0)]
    p_429: f64,
    /// Probability of a 429 too_many_write_operations per write.
    #[arg(long, default_value_t = 0.0)]
    p_429_write: f64,
    /// Probability of a route-level 409 too_many_write_operations per write (and per batch entry).
    #[arg(long, default_value_t = 0.0)]
    p_write_contention: f64,
    /// Probability of dropping the connection (before the answer; mid-body for downloads).
    #[arg(long, default_value_t = 0.0)]
    p_reset: f64,
    /// Retry-After seconds on 429s.
    #[arg(long, default_value_t = 1)]
    retry_after: u64,
    /// Send 429 bodies as text/plain.
    #[arg(long)]
    rate_limit_text: bool,
    /// Delay longpoll answers by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    slow_longpoll_ms: u64,
    /// Add `backoff` (seconds) to longpoll answers.
    #[arg(long)]
    longpoll_backoff: Option<u64>,
    /// Longpoll waits `timeout` plus up to this much random jitter (milliseconds) when nothing
    /// changes; Dropbox adds up to 90 s (the default). 0 answers exactly at `timeout`.
    #[arg(long)]
    longpoll_jitter_ms: Option<u64>,
    /// Hold the namespace write lock this long per commit; concurrent writes then get too_many_write_operations.
    #[arg(long, default_value_t = 0)]
    write_lock_ms: u64,
    /// Spoil the next N answers of a route, ROUTE:KIND[:N] (repeatable; ROUTE may be `*`). KIND is
    /// malformed_json, truncated_body, content_hash_mismatch, dot_dot_path, absolute_path,
    /// outside_path or stall (the answer held back for 60 s, silent).
    #[arg(long = "corrupt")]
    corrupt: Vec<String>,
}

fn corruption(s: &str) -> anyhow::Result<Corruption> {
    let mut parts = s.split(':');
    let (Some(route), Some(kind)) = (parts.next(), parts.next()) else {
        anyhow::bail!("--corrupt must look like ROUTE:KIND[:N], got {s:?}");
    };
    let kind: Corrupt = serde_json::from_value(serde_json::Value::String(kind.into()))
        .with_context(|| format!("--corrupt {s:?}: unknown KIND {kind:?}"))?;
    let count = match parts.next() {
        Some(n) => n
            .parse()
            .with_context(|| format!("--corrupt {s:?}: N must be a number"))?,
        None => 1,
    };
    Ok(Corruption {
        route: route.into(),
        kind,
        count,
    })
}

fn split_pair(s: &str, what: &str) -> anyhow::Result<(String, String)> {
    let (a, b) = s
        .split_once(':')
        .with_context(|| format!("{what} must look like NAME:VALUE, got {s:?}"))?;
    anyhow::ensure!(
        !a.is_empty() && !b.is_empty(),
        "{what} must look like NAME:VALUE, got {s:?}"
    );
    Ok((a.to_string(), b.to_string()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut accounts = args
        .accounts
        .iter()
        .map(|a| split_pair(a, "--account"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if accounts.is_empty() {
        accounts.push(("demo".into(), "demo-token".into()));
    }
    let mut config = Config {
        accounts,
        seed: args.seed,
        parent_casing_seed: args.parent_casing_seed,
        data_dir: args.data_dir.clone(),
        token_lifetime_secs: args.token_lifetime,
        quota_bytes: args.quota_bytes,
        load: dropbox_emulator::load::LoadModel {
            max_in_flight: args.max_in_flight,
            rate_per_sec: args.rate_limit,
            burst: args.rate_burst,
        },
        admin_token: Some(
            args.admin_token
                .clone()
                .unwrap_or_else(|| format!("admin-{:016x}", rand_seed())),
        ),
        faults: Faults {
            latency_ms: args.latency_ms,
            latency_jitter_ms: args.latency_jitter_ms,
            bandwidth_bytes_per_sec: args.bandwidth,
            p_server_error: args.p_5xx,
            p_rate_limit: args.p_429,
            p_write_contention: args.p_429_write,
            p_write_contention_409: args.p_write_contention,
            p_reset: args.p_reset,
            retry_after_secs: args.retry_after,
            rate_limit_text_body: args.rate_limit_text,
            longpoll_delay_ms: args.slow_longpoll_ms,
            longpoll_backoff_secs: args.longpoll_backoff,
            longpoll_jitter_ms: args.longpoll_jitter_ms,
            write_lock_ms: args.write_lock_ms,
            corrupt: args
                .corrupt
                .iter()
                .map(|c| corruption(c))
                .collect::<anyhow::Result<_>>()?,
            ..Faults::default()
        },
        ..Config::default()
    };
    config.apps.extend(args.apps.iter().cloned());
    let admin_token = config.admin_token.clone();
    let emu = Emulator::new(config).context("starting the emulator")?;
    let tls = match &args.tls_dir {
        Some(dir) => Some(tls::load_or_create(dir, &args.tls_extra_san).context("setting up TLS")?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let ready = serde_json::json!({
        "url": format!("{scheme}://{addr}"),
        "ca_file": tls.as_ref().map(|t| t.ca_file.display().to_string()),
        "admin_token": admin_token,
    });
    println!("{ready}");
    use std::io::Write;
    std::io::stdout().flush()?;
    tracing::info!("serving Dropbox API v2 on {scheme}://{addr}");
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; }, None => std::future::pending::<()>().await } } => {},
        }
    };
    serve(listener, emu, tls.map(|t| t.config), shutdown).await;
    tracing::info!("stopped");
    Ok(())
}

fn rand_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ ((std::process::id() as u64) << 32)
}
