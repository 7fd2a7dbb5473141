//! `nuvosync demo`: the built-in emulator over HTTPS with a demo account, a demo pair with a
//! few files on each side, and a sync — everything in one folder, nothing needed.

use clap::Args;
use dropbox_emulator::{Config, TestServer};
use nuvosync_api::service::AddPair;
use nuvosync_api::{Paths, Service};
use nuvosync_dropbox::{Commit, Credential, Endpoints, Secret};
use std::path::PathBuf;

/// `demo`
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo in this folder (default: a new temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Run the demo; returns the exit code.
pub async fn run(args: &DemoArgs) -> i32 {
    match demo(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("nuvosync demo: {e:#}");
            1
        }
    }
}

async fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("nuvosync-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    // The emulator keeps its state next to the demo, so a second run continues the first.
    let config = Config {
        accounts: vec![("demo".into(), "demo-token".into())],
        data_dir: Some(dir.join("emulator")),
        ..Config::default()
    };
    let server = TestServer::start(config, true).await?;
    println!(
        "Dropbox emulator on {} (demo account, app folder Apps/nuvolos.cloud)",
        server.url
    );
    let mut endpoints = Endpoints::single(&server.url)?;
    endpoints.ca_file = server.ca_file.clone();
    let service = Service::with_endpoints(
        Paths::under(&dir),
        endpoints,
        sync_engine::Tuning::default(),
    )?;
    service.set_credential(Credential::Either {
        token: Secret::new("demo-token"),
        app_key: nuvosync_dropbox::DEFAULT_APP_KEY.into(),
    });

    let local = dir.join("Instance");
    std::fs::create_dir_all(local.join("notebooks"))?;
    std::fs::write(
        local.join("README.md"),
        "# Demo instance\n\nFiles here are mirrored to Dropbox.\n",
    )?;
    std::fs::write(
        local.join("notebooks/analysis.py"),
        "print('hello from nuvosync')\n",
    )?;
    if service.config().pair("demo").is_none() {
        service.add_pair(AddPair {
            local: local.clone(),
            organization: "Demo Org".into(),
            space: "Demo Space".into(),
            instance: "Demo Instance".into(),
            name: Some("demo".into()),
            watch: true,
            ..AddPair::default()
        })?;
    }
    // A co-author's file, already on Dropbox.
    let client = service.client()?;
    client
        .upload(
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
    println!("Local folder: {}", local.display());
    let results = service.sync_once(Some("demo"), false).await?;
    let code = crate::cli::print_sync(&results, false);
    anyhow::ensure!(code == 0, "the demo sync did not complete");
    let page = client
        .list_folder("/Demo Org/Demo Space/Demo Instance", true, None)
        .await?;
    println!("On Dropbox (Apps/nuvolos.cloud/Demo Org/Demo Space/Demo Instance):");
    for e in page.entries {
        println!("  {}", e.path_display());
    }
    println!("Locally ({}):", local.display());
    let mut files: Vec<_> = walk(&local);
    files.sort();
    for f in files {
        println!("  {f}");
    }
    Ok(())
}

fn walk(root: &std::path::Path) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .map(|r| r.display().to_string())
                .unwrap_or_default();
            if rel.starts_with(".nuvosync") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(rel);
            }
        }
    }
    out
}
