//! The nuvosync tray app: the engine in-process (the same `Daemon` the headless daemon runs),
//! the web UI in a window, a tray icon that follows the engine's state, desktop
//! notifications, and the Dropbox sign-in in its own webview window.
//!
//! Every command is a one-line delegation to `nuvosync_api`; Tauri appears nowhere below this
//! crate. The control socket is served too, so the `nuvosync` CLI works alongside the app.
//!
//! Arguments: `--demo [--unlinked] [--dir DIR]` runs on the built-in Dropbox emulator (in
//! builds with the `demo` feature);
//! `--hidden` starts in the tray only (autostart uses it).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod demo;
mod tray;

use nuvosync_api::dto::Command;
use nuvosync_api::{ApiError, Daemon, ErrorCode, Paths, Service};
use std::sync::Arc;
use tauri::{Emitter, Manager};

/// What the app holds.
struct AppState {
    daemon: Arc<Daemon>,
    /// The built-in emulator's address in demo mode (`https://127.0.0.1:PORT`).
    demo_origin: Option<String>,
}

/// The one command of the UI: hand it to the API (which also writes the start-at-login
/// entry when the `autostart` setting changes).
#[tauri::command]
async fn command(
    state: tauri::State<'_, AppState>,
    cmd: Command,
) -> Result<serde_json::Value, ApiError> {
    state.daemon.handle(cmd).await
}

/// Open a local file or folder with the desktop's default application.
#[tauri::command]
fn open_path(app: tauri::AppHandle, path: String) -> Result<(), ApiError> {
    use tauri_plugin_opener::OpenerExt;
    app.opener()
        .open_path(path, None::<&str>)
        .map_err(|e| ApiError::new(ErrorCode::Io, format!("cannot open it: {e}")))
}

/// Open a web address in the browser.
#[tauri::command]
fn open_url(app: tauri::AppHandle, url: String) -> Result<(), ApiError> {
    use tauri_plugin_opener::OpenerExt;
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(|e| ApiError::new(ErrorCode::Io, format!("cannot open it: {e}")))
}

/// Pick a folder.
#[tauri::command]
async fn pick_folder(app: tauri::AppHandle) -> Option<String> {
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().pick_folder(move |p| {
        let _ = tx.send(p.map(|p| p.to_string()));
    });
    rx.await.ok().flatten()
}

/// Show Dropbox's consent page in the app's own sign-in window. The window closes by itself
/// once Dropbox redirects back and the link completes.
#[tauri::command]
fn open_link_window(
    state: tauri::State<'_, AppState>,
    app: tauri::AppHandle,
    url: String,
) -> Result<(), ApiError> {
    let url = demo_page(state.demo_origin.as_deref(), &url);
    let url = url
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::InvalidArgument, "not a web address"))?;
    if let Some(w) = app.get_webview_window("link") {
        let _ = w.close();
    }
    tauri::WebviewWindowBuilder::new(&app, "link", tauri::WebviewUrl::External(url))
        .title("Link your Dropbox — nuvosync")
        .inner_size(720.0, 640.0)
        .build()
        .map(|_| ())
        .map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("cannot open the sign-in window: {e}"),
            )
        })
}

/// The demo's consent page is served by the built-in emulator, whose HTTPS certificate comes
/// from its own test CA that the web view does not trust. The emulator answers plain HTTP on
/// the same loopback port, so in demo mode the sign-in window loads it over `http://`. Any
/// other address (real Dropbox) is left alone.
fn demo_page(demo_origin: Option<&str>, url: &str) -> String {
    match demo_origin {
        Some(origin)
            if origin.starts_with("https://127.0.0.1:")
                && url
                    .strip_prefix(origin)
                    .is_some_and(|rest| rest.starts_with('/')) =>
        {
            format!("http://{}", &url["https://".len()..])
        }
        _ => url.to_string(),
    }
}

struct Args {
    demo: bool,
    unlinked: bool,
    hidden: bool,
    dir: Option<std::path::PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        demo: std::env::var_os("NUVOSYNC_DEMO").is_some(),
        unlinked: false,
        hidden: false,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--demo" => a.demo = true,
            "--unlinked" => a.unlinked = true,
            "--hidden" => a.hidden = true,
            "--dir" => a.dir = it.next().map(Into::into),
            _ => {}
        }
    }
    a
}

fn main() {
    nuvosync_api::tune_allocator();
    nuvosync_api::logging::init("warn,dropbox_sdk=off");
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!(
            "nuvosync-app: no display here — run the headless `nuvosync daemon` (or `nuvosync demo`) instead"
        );
        std::process::exit(1);
    }
    let args = args();
    let (service, demo) = match tauri::async_runtime::block_on(start_service(&args)) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("nuvosync-app: {e}");
            std::process::exit(1);
        }
    };
    // One nuvosync per profile: no pair starts while the daemon (or another app, or a
    // `sync --once`) runs them, whatever socket path it listens on.
    if let Err(e) = service.claim() {
        eprintln!("nuvosync-app: {e}");
        std::process::exit(1);
    }
    let paths: Paths = service.paths().clone();
    let daemon = tauri::async_runtime::block_on(Daemon::start(service));
    // The CLI talks to the app as it would to the daemon.
    match tauri::async_runtime::block_on(nuvosync_api::socket::bind(&paths.socket())) {
        Ok(listener) => {
            tauri::async_runtime::spawn(nuvosync_api::socket::serve(listener, daemon.clone()));
        }
        Err(e) => {
            eprintln!("nuvosync-app: {e}");
            std::process::exit(1);
        }
    }
    if let Some(d) = &demo {
        println!("{}", d.ready_line);
    }
    let hidden = args.hidden;
    let demo_origin = demo.as_ref().map(|d| d.origin.clone());
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tray::show_window(app)
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .manage(AppState {
            daemon: daemon.clone(),
            demo_origin,
        })
        .invoke_handler(tauri::generate_handler![
            command,
            open_path,
            open_url,
            pick_folder,
            open_link_window
        ])
        .setup(move |app| {
            if hidden {
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.hide();
                }
            }
            tray::install(app.handle(), daemon.clone())?;
            // Events reach the UI as `nuvosync://event`.
            let handle = app.handle().clone();
            let mut rx = daemon.subscribe();
            tauri::async_runtime::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(e) => {
                            if matches!(e, nuvosync_api::dto::EventDto::Link { linked: true }) {
                                if let Some(w) = handle.get_webview_window("link") {
                                    let _ = w.close();
                                }
                            }
                            let _ = handle.emit("nuvosync://event", &e);
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    }
                }
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps nuvosync running in the tray.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                if window.label() == "main" {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .build(tauri::generate_context!());
    let app = match result {
        Ok(a) => a,
        Err(e) => {
            eprintln!("nuvosync-app: cannot start: {e}");
            std::process::exit(1);
        }
    };
    // The demo's emulator lives as long as the app.
    let keep_demo = demo;
    let shutting_down = std::sync::atomic::AtomicBool::new(false);
    app.run(move |handle, event| {
        if let tauri::RunEvent::ExitRequested { api, code, .. } = event {
            // Stop the engine off the main thread (the tray may need the main thread while
            // the engine winds down), then exit for real.
            if shutting_down.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            api.prevent_exit();
            let d = handle.state::<AppState>().daemon.clone();
            let handle = handle.clone();
            let socket = paths.socket();
            let _ = &keep_demo;
            tauri::async_runtime::spawn(async move {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(6), d.shutdown()).await;
                let _ = std::fs::remove_file(socket);
                handle.exit(code.unwrap_or(0));
            });
        }
    });
}

async fn start_service(args: &Args) -> Result<(Arc<Service>, Option<demo::Demo>), ApiError> {
    if args.demo {
        let d = demo::start(args.dir.clone(), args.unlinked).await?;
        return Ok((d.service.clone(), Some(d)));
    }
    Ok((Arc::new(Service::open(Paths::resolve(None, None)?)?), None))
}

#[cfg(test)]
mod tests {
    use super::demo_page;

    #[test]
    fn only_the_demo_emulators_pages_are_loaded_over_http() {
        let origin = Some("https://127.0.0.1:4321");
        assert_eq!(
            demo_page(origin, "https://127.0.0.1:4321/oauth2/authorize?x=1"),
            "http://127.0.0.1:4321/oauth2/authorize?x=1"
        );
        assert_eq!(
            demo_page(origin, "https://127.0.0.1:43210/oauth2/authorize"),
            "https://127.0.0.1:43210/oauth2/authorize"
        );
        assert_eq!(
            demo_page(origin, "https://www.dropbox.com/oauth2/authorize"),
            "https://www.dropbox.com/oauth2/authorize"
        );
        assert_eq!(
            demo_page(None, "https://127.0.0.1:4321/oauth2/authorize"),
            "https://127.0.0.1:4321/oauth2/authorize"
        );
    }
}
