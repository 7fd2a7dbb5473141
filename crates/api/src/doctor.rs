//! `nuvosync doctor`: checks of the setup, each with a verdict and what to do — the linked
//! account and the scopes its grant holds, each Dropbox host, the clock against the server's
//! `Date`, the inotify limits against the folders the pairs watch, the keyring, and the state
//! folder. Nothing is changed; the one token refresh mints an access token that is dropped.

use crate::dto::{CheckDto, DoctorDto, Verdict};
use crate::service::Service;
use nuvosync_dropbox::auth::SCOPES;
use nuvosync_dropbox::probe;
use nuvosync_dropbox::store::KeyringState;
use std::path::Path;
use std::time::SystemTime;

/// Skew up to this is fine (a `Date` header has whole seconds, and a round trip adds some).
const SKEW_OK_SECS: i64 = 60;
/// Skew beyond this is a problem: modification times compared across machines go wrong, and
/// far enough off TLS certificates look expired or not yet valid.
const SKEW_PROBLEM_SECS: i64 = 3600;
/// The kernel's default `max_queued_events`; fewer drop events under bursts (then a rescan).
const DEFAULT_QUEUED_EVENTS: u64 = 16384;

fn check(id: &str, title: &str, verdict: Verdict, detail: String, fix: Option<String>) -> CheckDto {
    CheckDto {
        id: id.into(),
        title: title.into(),
        verdict,
        detail,
        fix,
    }
}

/// Run every check.
pub async fn run(service: &Service) -> DoctorDto {
    let mut checks = vec![];
    let endpoints = service.endpoints().clone();
    let http = nuvosync_dropbox::transport::http_client(&endpoints, false);

    // Hosts first: the account checks' failures read better knowing whether Dropbox answers.
    let mut hosts = vec![];
    let mut date = None;
    for (id, name, url) in [
        ("host_api", "API host", &endpoints.api),
        (
            "host_content",
            "Content host (uploads, downloads)",
            &endpoints.content,
        ),
        (
            "host_notify",
            "Notify host (remote changes)",
            &endpoints.notify,
        ),
    ] {
        let host = url.host_str().unwrap_or("?").to_string();
        let c = match &http {
            Err(e) => check(
                id,
                name,
                Verdict::Problem,
                format!("{host}: cannot set up HTTPS: {e}"),
                Some("check NUVOSYNC_CA_FILE".into()),
            ),
            Ok(http) => {
                let p = probe::host(http, url).await;
                match (&p.status, &p.error) {
                    (Some(status), _) => {
                        if date.is_none() {
                            if let Some(d) = p.server_date {
                                date = Some((d, p.received - p.elapsed / 2, host.clone()));
                            }
                        }
                        check(
                            id,
                            name,
                            Verdict::Ok,
                            format!(
                                "{host} answered in {} ms (HTTP {status})",
                                p.elapsed.as_millis()
                            ),
                            None,
                        )
                    }
                    (None, e) => check(
                        id,
                        name,
                        Verdict::Problem,
                        format!(
                            "{host} cannot be reached: {}",
                            e.as_deref().unwrap_or("no answer")
                        ),
                        Some(format!(
                            "check the network connection, a proxy or firewall that blocks {host} \
                             (port 443), and https://status.dropbox.com"
                        )),
                    ),
                }
            }
        };
        hosts.push(c);
    }

    // The account and its grant.
    let (account, scopes) = account_checks(service, &http).await;
    checks.push(account);
    checks.push(scopes);
    checks.extend(hosts);
    checks.push(clock(date));
    checks.push(inotify(service));
    checks.push(keyring(service));
    checks.push(state_folder(&service.paths().state_dir));
    let verdict = checks
        .iter()
        .map(|c| c.verdict)
        .max()
        .unwrap_or(Verdict::Ok);
    DoctorDto { checks, verdict }
}

async fn account_checks(
    service: &Service,
    http: &Result<probe::HttpClient, nuvosync_dropbox::Error>,
) -> (CheckDto, CheckDto) {
    const ACCOUNT: &str = "Linked Dropbox account";
    const SCOPES_TITLE: &str = "Permissions granted to nuvosync";
    let credential = match service.credential() {
        Ok(c) => c,
        Err(e) => {
            return (
                check("account", ACCOUNT, Verdict::Problem, e.message.clone(), Some(
                    "run `nuvosync link` (or, in the app, Link in the window) to link an account".into(),
                )),
                check(
                    "scopes",
                    SCOPES_TITLE,
                    Verdict::Warning,
                    "not checked: no account is linked".into(),
                    Some("link an account first".into()),
                ),
            );
        }
    };
    let account = match service.client() {
        Err(e) => check("account", ACCOUNT, Verdict::Problem, e.message, None),
        Ok(client) => match client.account().await {
            Ok(a) => check(
                "account",
                ACCOUNT,
                Verdict::Ok,
                format!("{} ({}), {}", a.display_name, a.email, a.account_id),
                None,
            ),
            Err(e) if e.is_auth() => check(
                "account",
                ACCOUNT,
                Verdict::Problem,
                e.to_string(),
                Some("run `nuvosync link` to link again".into()),
            ),
            Err(e) => check(
                "account",
                ACCOUNT,
                Verdict::Problem,
                format!("Dropbox could not be asked who is linked: {e}"),
                Some("see the host checks below".into()),
            ),
        },
    };
    let needed = SCOPES.join(", ");
    let scopes = match http {
        Err(e) => check(
            "scopes",
            SCOPES_TITLE,
            Verdict::Problem,
            e.to_string(),
            None,
        ),
        Ok(http) => {
            match probe::missing_scopes(http, service.endpoints(), &credential, &SCOPES).await {
                Ok(Some(missing)) => {
                    if missing.is_empty() {
                        check(
                            "scopes",
                            SCOPES_TITLE,
                            Verdict::Ok,
                            format!("granted: {needed}"),
                            None,
                        )
                    } else {
                        check(
                            "scopes",
                            SCOPES_TITLE,
                            Verdict::Problem,
                            format!("missing {} (nuvosync needs {needed})", missing.join(", ")),
                            Some(format!(
                                "in Dropbox's App Console, tick {} on the app's Permissions tab and \
                             submit, then run `nuvosync link` again (a grant keeps the scopes it \
                             was made with)",
                                missing.join(", ")
                            )),
                        )
                    }
                }
                Ok(None) => check(
                    "scopes",
                    SCOPES_TITLE,
                    Verdict::Ok,
                    format!(
                        "an access token (NUVOSYNC_TOKEN) carries no readable grant; nuvosync needs \
                     {needed}"
                    ),
                    None,
                ),
                Err(e) => check(
                    "scopes",
                    SCOPES_TITLE,
                    if e.is_auth() {
                        Verdict::Problem
                    } else {
                        Verdict::Warning
                    },
                    format!("the grant could not be read: {e}"),
                    e.is_auth()
                        .then(|| "run `nuvosync link` to link again".to_string()),
                ),
            }
        }
    };
    (account, scopes)
}

fn clock(date: Option<(SystemTime, SystemTime, String)>) -> CheckDto {
    const TITLE: &str = "Clock";
    let Some((server, local, host)) = date else {
        return check(
            "clock",
            TITLE,
            Verdict::Warning,
            "not checked: no Dropbox host answered with its time".into(),
            Some("see the host checks".into()),
        );
    };
    // `Date` has whole seconds, truncated: the server's time was within the second after it.
    let server = server + std::time::Duration::from_millis(500);
    let skew = match server.duration_since(local) {
        Ok(d) => d.as_secs_f64().round() as i64,
        Err(e) => -(e.duration().as_secs_f64().round() as i64),
    };
    let words = if skew >= 0 {
        format!("{} behind {host}", human(skew))
    } else {
        format!("{} ahead of {host}", human(-skew))
    };
    let fix = Some(
        "set the clock right: turn on network time (`timedatectl set-ntp true`, or your \
         system's date and time settings)"
            .to_string(),
    );
    match skew.abs() {
        s if s <= SKEW_OK_SECS => check(
            "clock",
            TITLE,
            Verdict::Ok,
            format!("within {SKEW_OK_SECS} s of {host}"),
            None,
        ),
        s if s <= SKEW_PROBLEM_SECS => check(
            "clock",
            TITLE,
            Verdict::Warning,
            format!("this computer's clock is {words}"),
            fix,
        ),
        _ => check(
            "clock",
            TITLE,
            Verdict::Problem,
            format!(
                "this computer's clock is {words}: modification times and certificate checks \
                 go wrong"
            ),
            fix,
        ),
    }
}

fn human(secs: i64) -> String {
    match secs {
        ..120 => format!("{secs} s"),
        120..7200 => format!("{} min", (secs + 30) / 60),
        _ => format!("{} h", (secs + 1800) / 3600),
    }
}

fn read_num(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Folders under `root` (itself included), not following links; stops counting at `cap`.
fn count_folders(root: &Path, cap: u64) -> u64 {
    let mut n = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        n += 1;
        if n >= cap {
            break;
        }
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
    }
    n
}

fn inotify(service: &Service) -> CheckDto {
    const TITLE: &str = "File watching (inotify limits)";
    let base = "/proc/sys/fs/inotify";
    let (Some(watches), Some(instances)) = (
        read_num(&format!("{base}/max_user_watches")),
        read_num(&format!("{base}/max_user_instances")),
    ) else {
        return check(
            "inotify",
            TITLE,
            Verdict::Ok,
            "no inotify limits to check on this system".into(),
            None,
        );
    };
    let queued = read_num(&format!("{base}/max_queued_events"));
    let watched: Vec<_> = service.pairs().into_iter().filter(|p| p.watch).collect();
    let folders: u64 = watched
        .iter()
        .map(|p| count_folders(&p.local, watches.saturating_mul(2)))
        .sum();
    let detail = format!(
        "{folders} folders in {} watched pair(s); max_user_watches {watches}, \
         max_user_instances {instances}, max_queued_events {}",
        watched.len(),
        queued.map_or("?".into(), |q| q.to_string())
    );
    let sysctl = |key: &str, value: u64| {
        format!(
            "raise it: `sudo sysctl fs.inotify.{key}={value}`, and to keep it after a restart \
             put `fs.inotify.{key}={value}` in /etc/sysctl.d/90-nuvosync.conf"
        )
    };
    let want_watches = (folders * 2).max(524_288);
    if folders > watches {
        return check(
            "inotify",
            TITLE,
            Verdict::Problem,
            format!(
                "{detail}: more folders than watches, so changes in some go unnoticed until a rescan"
            ),
            Some(format!(
                "{}; or turn watching off for a pair (`--no-watch`) and rely on rescans",
                sysctl("max_user_watches", want_watches)
            )),
        );
    }
    if watched.len() as u64 > instances {
        return check(
            "inotify",
            TITLE,
            Verdict::Problem,
            format!("{detail}: more watched pairs than inotify instances"),
            Some(sysctl("max_user_instances", 1024)),
        );
    }
    if folders * 2 > watches {
        return check(
            "inotify",
            TITLE,
            Verdict::Warning,
            format!("{detail}: the pairs use over half the watches other programs share"),
            Some(sysctl("max_user_watches", want_watches)),
        );
    }
    if queued.is_some_and(|q| q < DEFAULT_QUEUED_EVENTS) {
        return check(
            "inotify",
            TITLE,
            Verdict::Warning,
            format!("{detail}: a small event queue overflows in bursts (then a full rescan)"),
            Some(sysctl("max_queued_events", DEFAULT_QUEUED_EVENTS)),
        );
    }
    check("inotify", TITLE, Verdict::Ok, detail, None)
}

fn keyring(service: &Service) -> CheckDto {
    const TITLE: &str = "Keyring for the Dropbox link";
    let store = service.token_store();
    let file = store.file_path().display().to_string();
    match store.keyring_state() {
        KeyringState::Available => check(
            "keyring",
            TITLE,
            Verdict::Ok,
            "the OS keyring (Secret Service) answers; the link is kept there".into(),
            None,
        ),
        KeyringState::Off => check(
            "keyring",
            TITLE,
            Verdict::Ok,
            format!(
                "the OS keyring is not used (NUVOSYNC_KEYRING=off): the link is kept in {file}, \
                 readable by you only"
            ),
            None,
        ),
        KeyringState::Unavailable(why) => check(
            "keyring",
            TITLE,
            Verdict::Warning,
            format!(
                "no OS keyring answers ({why}): the link is kept in {file}, readable by you only"
            ),
            Some(
                "to keep it in a keyring, run a Secret Service (GNOME Keyring, KWallet, \
                 KeePassXC) and unlock it, then run `nuvosync link` again; or set \
                 NUVOSYNC_KEYRING=off to use the file on purpose"
                    .into(),
            ),
        ),
    }
}

fn state_folder(dir: &Path) -> CheckDto {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    const TITLE: &str = "State folder";
    let shown = dir.display();
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return check(
                "state_folder",
                TITLE,
                Verdict::Ok,
                format!("{shown} is made on first use"),
                None,
            );
        }
        Err(e) => {
            return check(
                "state_folder",
                TITLE,
                Verdict::Problem,
                format!("{shown} cannot be read: {e}"),
                Some(format!("make {shown} a folder of yours (`chmod 700`)")),
            );
        }
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(dir)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        return check(
            "state_folder",
            TITLE,
            Verdict::Problem,
            format!(
                "{shown} is a symbolic link (to {target}): whoever controls the target controls the Dropbox link and the indexes"
            ),
            Some(
                "point NUVOSYNC_STATE_DIR at a real folder, or replace the link with the folder it points to (mode 700)"
                    .to_string(),
            ),
        );
    }
    if !meta.is_dir() {
        return check(
            "state_folder",
            TITLE,
            Verdict::Problem,
            format!("{shown} is not a folder"),
            Some(format!("move {shown} away; nuvosync makes the folder")),
        );
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return check(
            "state_folder",
            TITLE,
            Verdict::Problem,
            format!("{shown} belongs to user {} (you are {me})", meta.uid()),
            Some(format!("`sudo chown -R $(id -u) {shown}`")),
        );
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return check(
            "state_folder",
            TITLE,
            Verdict::Problem,
            format!("{shown} (mode {mode:o}) can be written by other users"),
            Some(format!("`chmod 700 {shown}`")),
        );
    }
    let creds = dir.join("credentials.json");
    if let Ok(m) = std::fs::metadata(&creds) {
        let cm = m.permissions().mode() & 0o777;
        if cm & 0o077 != 0 {
            return check(
                "state_folder",
                TITLE,
                Verdict::Problem,
                format!(
                    "{} (mode {cm:o}) can be read by other users",
                    creds.display()
                ),
                Some(format!("`chmod 600 {}`", creds.display())),
            );
        }
    }
    if mode & 0o005 != 0 {
        return check(
            "state_folder",
            TITLE,
            Verdict::Warning,
            format!(
                "{shown} (mode {mode:o}): other users can read the names of your synced files in the indexes"
            ),
            Some(format!("`chmod 700 {shown}`")),
        );
    }
    check(
        "state_folder",
        TITLE,
        Verdict::Ok,
        format!("{shown}: yours, mode {mode:o}"),
        None,
    )
}
