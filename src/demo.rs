//! `nuvosync demo`: the built-in emulator over HTTPS with a demo account, a demo pair with a
//! few files on each side, and continuous sync (the daemon, with its control socket) — plus,
//! with `--ui`, the web UI in a browser. Everything lives in one folder; nothing is needed.

use clap::Args;
use dropbox_emulator::{Config, TestServer};
use nuvosync_api::service::AddPair;
use nuvosync_api::{Daemon, Paths, Service};
use nuvosync_dropbox::{Commit, Credential, Endpoints, Secret};
use std::path::PathBuf;
use std::sync::Arc;

/// `demo`
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo in this folder (default: a new temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Sync once and exit instead of running continuously.
    #[arg(long)]
    pub once: bool,
    /// Serve the web UI on this address (e.g. 127.0.0.1:8080; port 0 picks one).
    #[arg(long)]
    pub ui: Option<String>,
    /// The built UI to serve (default ui/dist next to the sources).
    #[arg(long)]
    pub ui_dir: Option<PathBuf>,
    /// Latency the emulator adds to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Start without a linked account: link through the UI or `nuvosync link` (the emulator's
    /// consent page signs in as the demo account).
    #[arg(long)]
    pub unlinked: bool,
}

/// A client of the demo account (to seed and show the emulator, whether or not nuvosync is linked).
fn dropbox_client(server: &TestServer) -> anyhow::Result<nuvosync_dropbox::Client> {
    let mut endpoints = Endpoints::single(&server.url)?;
    endpoints.ca_file = server.ca_file.clone();
    Ok(nuvosync_dropbox::Client::new(
        endpoints,
        Credential::Either {
            token: Secret::new("demo-token"),
            app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
        },
    )?)
}

/// Run the demo; returns the exit code.
pub async fn run(args: &DemoArgs) -> i32 {
    match demo(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nuvosync demo: {e:#}");
            1
        }
    }
}

async fn demo(args: &DemoArgs) -> anyhow::Result<i32> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("nuvosync-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    // The emulator keeps its state next to the demo, so a second run continues the first.
    let admin_token = format!("admin-{:016x}", rand::random::<u64>());
    let config = Config {
        accounts: vec![("demo".into(), "demo-token".into())],
        data_dir: Some(dir.join("emulator")),
        admin_token: Some(admin_token.clone()),
        faults: dropbox_emulator::Faults {
            latency_ms: args.latency_ms,
            ..Default::default()
        },
        ..Config::default()
    };
    let server = TestServer::start(config, true).await?;
    let mut endpoints = Endpoints::single(&server.url)?;
    endpoints.ca_file = server.ca_file.clone();
    let paths = Paths::under(&dir);
    let service = Arc::new(Service::with_endpoints(
        paths.clone(),
        endpoints,
        sync_engine::Tuning::default(),
    )?);
    service.set_credential(Credential::Either {
        token: Secret::new("demo-token"),
        app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
    });

    let local = dir.join("Instance");
    if service.config().pair("demo").is_none() {
        std::fs::create_dir_all(local.join("notebooks"))?;
        std::fs::write(
            local.join("README.md"),
            "# Demo instance\n\nFiles here are mirrored to Dropbox.\n",
        )?;
        std::fs::write(
            local.join("notebooks/analysis.py"),
            "print('hello from nuvosync')\n",
        )?;
        service.add_pair(AddPair {
            local: local.clone(),
            organization: "Demo Org".into(),
            space: "Demo Space".into(),
            instance: "Demo Instance".into(),
            name: Some("demo".into()),
            watch: true,
            rescan_interval_secs: Some(30),
            ..AddPair::default()
        })?;
        // A co-author's file, already on Dropbox.
        let seed = dropbox_client(&server)?;
        seed.upload(
            &Commit {
                path: "/Demo Org/Demo Space/Demo Instance/From Dropbox.txt".into(),
                mode: nuvosync_dropbox::WriteMode::Overwrite,
                autorename: false,
                strict_conflict: false,
                client_modified: None,
            },
            bytes::Bytes::from_static(b"This file was uploaded to Dropbox by a co-author.\n"),
        )
        .await?;
    }

    if args.once {
        println!(
            "Dropbox emulator on {} (demo account, app folder Apps/nuvolos.cloud)",
            server.url
        );
        println!("Local folder: {}", local.display());
        let results = service.sync_once(Some("demo"), false).await?;
        let code = crate::cli::print_sync(&results, false);
        let page = service
            .client()?
            .list_folder("/Demo Org/Demo Space/Demo Instance", true, None)
            .await?;
        println!("On Dropbox (Apps/nuvolos.cloud/Demo Org/Demo Space/Demo Instance):");
        for e in page.entries {
            println!("  {}", e.path_display());
        }
        return Ok(code);
    }

    let listener = nuvosync_api::socket::bind(&paths.socket()).await?;
    let daemon = Daemon::start(service.clone()).await;
    tokio::spawn(nuvosync_api::socket::serve(
        listener,
        daemon.clone(),
        std::future::pending::<()>(),
    ));
    let mut ui_url = None;
    if let Some(addr) = &args.ui {
        let l = tokio::net::TcpListener::bind(addr).await?;
        let token = format!("{:032x}", rand::random::<u128>());
        let url = format!("http://{}/?token={token}", l.local_addr()?);
        let ui_dir = args
            .ui_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui/dist"));
        tokio::spawn(crate::web::serve(l, daemon.clone(), ui_dir, token));
        ui_url = Some(url);
    }
    // One line for scripts and tests, then words for people.
    let ready = serde_json::json!({
        "emulator": server.url,
        "ca_file": server.ca_file,
        "admin_token": admin_token,
        "token": "demo-token",
        "local": local,
        "config_dir": paths.config_dir,
        "state_dir": paths.state_dir,
        "ui": ui_url,
    });
    println!("{ready}");
    eprintln!(
        "nuvosync demo: syncing {} with Dropbox (emulated at {}) — Ctrl-C to stop",
        local.display(),
        server.url
    );
    eprintln!(
        "  try: echo hi > '{}/hello.txt'   then   nuvosync --config-dir '{}' --state-dir '{}' status",
        local.display(),
        paths.config_dir.display(),
        paths.state_dir.display()
    );
    if let Some(u) = &ui_url {
        eprintln!("  web UI: {u}");
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
        _ = daemon.stopped() => {},
    }
    daemon.shutdown().await;
    let _ = std::fs::remove_file(paths.socket());
    Ok(0)
}
