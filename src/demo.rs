//! `nuvosync demo`: the built-in emulator over HTTPS with a demo account, a demo pair with a
//! few files on each side, and continuous sync (the daemon, with its control socket) — plus,
//! with `--ui`, the web UI in a browser. Everything lives in one folder; nothing is needed.
//!
//! Only in builds with the `demo` feature (`cargo xtask demo`, or
//! `cargo run --features demo -- demo`): the emulator stays out of what ships. Without it,
//! `nuvosync demo` says how to get a build that has it.

use crate::args::DemoArgs;

/// What `nuvosync demo` answers in a build without the `demo` feature.
#[cfg(not(feature = "demo"))]
pub const NOT_BUILT: &str = "this build of nuvosync has no demo (it leaves the built-in Dropbox \
emulator out); run `cargo xtask demo` in the source tree, or build with \
`cargo build --features demo` and run `nuvosync demo` again";

/// Run the demo; returns the exit code.
#[cfg(not(feature = "demo"))]
pub async fn run(_args: &DemoArgs) -> i32 {
    eprintln!("nuvosync demo: {NOT_BUILT}");
    1
}

/// Run the demo; returns the exit code.
#[cfg(feature = "demo")]
pub async fn run(args: &DemoArgs) -> i32 {
    match demo(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nuvosync demo: {e:#}");
            1
        }
    }
}

#[cfg(feature = "demo")]
async fn demo(args: &DemoArgs) -> anyhow::Result<i32> {
    use nuvosync_api::Daemon;
    use nuvosync_api::demo::{DEMO_ROOT, DemoOptions};
    let demo = nuvosync_api::demo::start(DemoOptions {
        dir: args.dir.clone(),
        latency_ms: args.latency_ms,
        unlinked: args.unlinked,
    })
    .await?;
    if args.once {
        println!(
            "Dropbox emulator on {} (demo account, app folder Apps/nuvolos.cloud)",
            demo.server.url
        );
        println!("Local folder: {}", demo.local.display());
        let results = Daemon::idle(demo.service.clone())
            .ask(nuvosync_api::ask!(SyncOnce {
                pair: Some("demo".into()),
                confirm_deletes: false,
            }))
            .await?;
        let code = crate::control::print_sync(&results, false);
        let page = demo.dropbox()?.list_folder(DEMO_ROOT, true, None).await?;
        println!("On Dropbox (Apps/nuvolos.cloud{DEMO_ROOT}):");
        for e in page.entries {
            println!("  {}", e.path_display());
        }
        return Ok(code);
    }

    let listener = nuvosync_api::socket::bind(&demo.paths.socket()).await?;
    let daemon = Daemon::start(demo.service.clone()).await;
    daemon.spawn(nuvosync_api::socket::serve(listener, daemon.clone()));
    let mut ui_url = None;
    if let Some(addr) = &args.ui {
        let l = tokio::net::TcpListener::bind(addr).await?;
        let token = format!("{:032x}", rand::random::<u128>());
        let url = format!("http://{}/?token={token}", l.local_addr()?);
        let ui_dir = args.ui_dir.clone().unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui/dist")
        });
        tokio::spawn(crate::web::serve(l, daemon.clone(), ui_dir, token));
        ui_url = Some(url);
    }
    // One line for scripts and tests, then words for people.
    println!("{}", demo.ready_line(ui_url.as_deref()));
    let (local, paths) = (&demo.local, &demo.paths);
    eprintln!(
        "nuvosync demo: syncing {} with Dropbox (emulated at {}) — Ctrl-C to stop",
        local.display(),
        demo.server.url
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
    let _ = std::fs::remove_file(demo.paths.socket());
    Ok(0)
}
