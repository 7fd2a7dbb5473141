//! The tray icon and its menu, and desktop notifications. The look comes from
//! `nuvosync_api::tray::TrayModel` (a function of the status); this module only renders it
//! and turns menu clicks into commands.

use nuvosync_api::Daemon;
use nuvosync_api::dto::{Command, StatusDto};
use nuvosync_api::notify::Notifier;
use nuvosync_api::tray::TrayModel;
use std::sync::{Arc, Mutex};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager};

/// The tray icon of a state, for light or dark panels.
fn icon(name: &str, dark: bool) -> Option<tauri::image::Image<'static>> {
    let bytes: &'static [u8] = match (name, dark) {
        ("up_to_date", false) => include_bytes!("../../icons/tray/up_to_date-light@2x.png"),
        ("up_to_date", true) => include_bytes!("../../icons/tray/up_to_date-dark@2x.png"),
        ("syncing", false) => include_bytes!("../../icons/tray/syncing-light@2x.png"),
        ("syncing", true) => include_bytes!("../../icons/tray/syncing-dark@2x.png"),
        ("paused", false) => include_bytes!("../../icons/tray/paused-light@2x.png"),
        ("paused", true) => include_bytes!("../../icons/tray/paused-dark@2x.png"),
        ("offline", false) => include_bytes!("../../icons/tray/offline-light@2x.png"),
        ("offline", true) => include_bytes!("../../icons/tray/offline-dark@2x.png"),
        ("attention", false) => include_bytes!("../../icons/tray/attention-light@2x.png"),
        ("attention", true) => include_bytes!("../../icons/tray/attention-dark@2x.png"),
        (_, false) => include_bytes!("../../icons/tray/error-light@2x.png"),
        (_, true) => include_bytes!("../../icons/tray/error-dark@2x.png"),
    };
    tauri::image::Image::from_bytes(bytes).ok()
}

/// Panels are dark on most Linux desktops; `NUVOSYNC_TRAY_THEME=light` picks the other set.
fn dark_panel() -> bool {
    std::env::var("NUVOSYNC_TRAY_THEME")
        .map(|t| t != "light")
        .unwrap_or(true)
}

/// Bring the main window forward.
pub fn show_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

struct Items {
    status: MenuItem<tauri::Wry>,
    pause: MenuItem<tauri::Wry>,
    link: MenuItem<tauri::Wry>,
    model: Mutex<Option<TrayModel>>,
}

/// Install the tray icon, its menu, the state follower and the notifier.
pub fn install(app: &AppHandle, daemon: Arc<Daemon>) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "nuvosync: starting…", false, None::<&str>)?;
    let open_local = MenuItem::with_id(
        app,
        "open_local",
        "Open the local folder",
        true,
        None::<&str>,
    )?;
    let open_web = MenuItem::with_id(
        app,
        "open_web",
        "Open the Dropbox folder on the web",
        true,
        None::<&str>,
    )?;
    let open_app = MenuItem::with_id(app, "open_app", "Open nuvosync", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause syncing", true, None::<&str>)?;
    let restore = MenuItem::with_id(
        app,
        "restore",
        "Restore from a snapshot…",
        true,
        None::<&str>,
    )?;
    let link = MenuItem::with_id(app, "link", "Link Dropbox…", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit nuvosync", true, None::<&str>)?;
    let sep = || PredefinedMenuItem::separator(app);
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &sep()?,
            &open_local,
            &open_web,
            &open_app,
            &sep()?,
            &pause,
            &restore,
            &link,
            &sep()?,
            &quit,
        ],
    )?;
    let items = Arc::new(Items {
        status,
        pause,
        link,
        model: Mutex::new(None),
    });

    let d = daemon.clone();
    let it = items.clone();
    TrayIconBuilder::with_id("nuvosync")
        .icon(
            icon("syncing", dark_panel())
                .unwrap_or_else(|| tauri::image::Image::new(&[0, 0, 0, 0], 1, 1)),
        )
        .tooltip("nuvosync")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(move |app, event| {
            let model = it.model.lock().ok().and_then(|m| m.clone());
            let d = d.clone();
            let app = app.clone();
            match event.id().as_ref() {
                "open_app" => show_window(&app),
                "open_local" => {
                    if let Some(p) = model.and_then(|m| m.local) {
                        use tauri_plugin_opener::OpenerExt;
                        let _ = app.opener().open_path(p, None::<&str>);
                    }
                }
                "open_web" => {
                    if let Some(u) = model.and_then(|m| m.web_url) {
                        use tauri_plugin_opener::OpenerExt;
                        let _ = app.opener().open_url(u, None::<&str>);
                    }
                }
                "pause" => {
                    let paused = model.map(|m| m.paused).unwrap_or(false);
                    tauri::async_runtime::spawn(async move {
                        let cmd = if paused {
                            Command::Resume {
                                pair: None,
                                confirm_deletes: false,
                            }
                        } else {
                            Command::Pause { pair: None }
                        };
                        let _ = d.handle(cmd).await;
                    });
                }
                "restore" => {
                    show_window(&app);
                    let _ = app.emit("nuvosync://navigate", "restore");
                }
                "link" => {
                    let linked = model
                        .map(|m| m.link_label == "Unlink Dropbox")
                        .unwrap_or(false);
                    show_window(&app);
                    let _ = app.emit(
                        "nuvosync://navigate",
                        if linked { "settings" } else { "link" },
                    );
                }
                "quit" => app.exit(0),
                _ => {}
            }
        })
        .build(app)?;

    // Follow the engine: refresh on every event, and once a second anyway.
    let handle = app.clone();
    let mut events = daemon.subscribe();
    tauri::async_runtime::spawn(async move {
        let mut notifier = Notifier::default();
        let dark = dark_panel();
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            let event = tokio::select! {
                e = events.recv() => match e {
                    Ok(e) => Some(e),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => None,
                    Err(_) => break,
                },
                _ = tick.tick() => None,
            };
            let now = nuvosync_api::notify::now();
            let cfg = daemon.service().config();
            let shown = match &event {
                Some(e) => notifier.event(e, now, cfg.notifications, daemon.snoozed()),
                None => nuvosync_api::notify::filter(
                    notifier.tick(now),
                    cfg.notifications,
                    daemon.snoozed(),
                ),
            };
            for n in shown {
                if (n.restore || n.relink) && notify_with_action(&handle, &n) {
                    continue;
                }
                use tauri_plugin_notification::NotificationExt;
                let _ = handle
                    .notification()
                    .builder()
                    .title(&n.title)
                    .body(&n.body)
                    .show();
            }
            let Ok(status) = daemon.status().await else {
                continue;
            };
            render(&handle, &items, &status, dark);
        }
    });
    Ok(())
}

/// A notification that opens the restore wizard, or the sign-in, when clicked (the
/// notification plugin has no click on desktops): shown over the freedesktop notification
/// service, and a thread waits for the click. False if it could not be shown that way.
#[cfg(target_os = "linux")]
fn notify_with_action(app: &AppHandle, n: &nuvosync_api::notify::Notification) -> bool {
    let (id, label, target) = if n.relink {
        ("sign-in", "Sign in again", "link")
    } else {
        ("open-restore", "Open the restore wizard", "restore")
    };
    let shown = notify_rust::Notification::new()
        .appname("nuvosync")
        .summary(&n.title)
        .body(&n.body)
        .action("default", label)
        .action(id, label)
        .show();
    let Ok(handle) = shown else {
        return false;
    };
    let app = app.clone();
    std::thread::spawn(move || {
        handle.wait_for_action(|action| {
            if action == "default" || action == id {
                show_window(&app);
                let _ = app.emit("nuvosync://navigate", target);
            }
        });
    });
    true
}

#[cfg(not(target_os = "linux"))]
fn notify_with_action(_app: &AppHandle, _n: &nuvosync_api::notify::Notification) -> bool {
    false
}

fn render(app: &AppHandle, items: &Items, status: &StatusDto, dark: bool) {
    let model = TrayModel::from_status(status);
    let mut last = match items.model.lock() {
        Ok(l) => l,
        Err(_) => return,
    };
    if last.as_ref() == Some(&model) {
        return;
    }
    if let Some(tray) = app.tray_by_id("nuvosync") {
        if let Some(i) = icon(model.icon, dark) {
            let _ = tray.set_icon(Some(i));
        }
        let _ = tray.set_tooltip(Some(&model.status_line));
    }
    let _ = items.status.set_text(&model.status_line);
    let _ = items.pause.set_text(model.pause_label);
    let _ = items.link.set_text(model.link_label);
    *last = Some(model);
}
