//! `link`, `account` and `doctor`: the Dropbox account and the check of the setup.

use super::{Conn, call, fail, human_bytes, print_json};
use crate::args::Cli;
use nuvosync_api::ask;
use nuvosync_api::dto::*;
use nuvosync_api::{ApiError, ErrorCode};
use std::io::Write;

/// `link`: the loopback redirect when a browser can be shown here (the consent page opened
/// through a private forwarding page, never on a command line), the code-paste flow with
/// `--no-browser`, without a display, or when none of the sign-in ports is free.
pub async fn link(cli: &Cli, no_browser: bool, app_key: Option<String>) -> i32 {
    // One connection for the whole sign-in: it holds the sign-in in progress.
    let mut conn = match Conn::open(cli, true).await {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let browser = !no_browser && crate::browser::available();
    if !no_browser && !browser {
        println!(
            "No display here (DISPLAY and WAYLAND_DISPLAY are unset), so no browser can be opened: Dropbox will show a code to paste instead."
        );
    }
    let start: LinkStartDto = match conn
        .call(ask!(LinkStart {
            loopback: browser,
            app_key,
        }))
        .await
    {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Some(why) = &start.paste_reason {
        println!("Note: {why}.");
    }
    println!(
        "Link nuvosync to your Dropbox (it gets only its own folder, Apps/nuvolos.cloud). Open:\n\n  {}\n",
        start.authorize_url
    );
    let account: Result<AccountDto, ApiError> = if start.redirect_uri.is_none() {
        print!("Then paste the code Dropbox shows you: ");
        let _ = std::io::stdout().flush();
        let mut code = String::new();
        if std::io::stdin().read_line(&mut code).is_err() || code.trim().is_empty() {
            return fail(&ApiError::new(
                ErrorCode::InvalidArgument,
                "no code given — run `nuvosync link --no-browser` again",
            ));
        }
        conn.call(ask!(LinkFinish {
            redirect: code.trim().to_string(),
        }))
        .await
    } else {
        // Kept until the sign-in ends: the browser may read it only after a while.
        let page = crate::browser::ForwardPage::new(&start.authorize_url);
        let opened = page.as_ref().is_ok_and(|p| p.open());
        if !opened {
            println!(
                "(no browser could be opened here — open the address above yourself, or use `nuvosync link --no-browser` on a machine without a desktop)"
            );
        }
        println!("Waiting for you to allow access in the browser…");
        let outcome = conn.call(ask!(LinkWait { timeout_secs: 600 })).await;
        drop(page);
        outcome
    };
    match account {
        Ok(a) => {
            println!("Linked as {} ({}).", a.display_name, a.email);
            if let Some(f) = &a.stored_in_file {
                println!(
                    "No OS keyring is available here: the link is kept in {f} (readable only by you)."
                );
            }
            0
        }
        Err(e) => fail(&e),
    }
}

/// `account`
pub async fn account(cli: &Cli, json: bool) -> i32 {
    match call(cli, ask!(Account), true).await {
        Ok(a) => {
            if json {
                print_json(&a);
            } else {
                println!(
                    "{} ({})\n{}\n{} of {} used",
                    a.display_name,
                    a.email,
                    a.account_id,
                    human_bytes(a.used),
                    human_bytes(a.allocated)
                );
            }
            0
        }
        Err(e) => fail(&e),
    }
}

/// `doctor`: every check with its verdict and what to do; exit 1 when one is a problem.
pub async fn doctor(cli: &Cli, json: bool) -> i32 {
    let d = match call(cli, ask!(Doctor), true).await {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    if json {
        print_json(&d);
    } else {
        for c in &d.checks {
            let word = match c.verdict {
                Verdict::Ok => "ok",
                Verdict::Warning => "warning",
                Verdict::Problem => "PROBLEM",
            };
            println!("{word:<8} {}: {}", c.title, c.detail);
            if let Some(fix) = &c.fix {
                println!("{:<8}   → {fix}", "");
            }
        }
        let count = |v| d.checks.iter().filter(|c| c.verdict == v).count();
        println!(
            "\n{} ok, {} warning(s), {} problem(s)",
            count(Verdict::Ok),
            count(Verdict::Warning),
            count(Verdict::Problem)
        );
    }
    i32::from(d.verdict == Verdict::Problem)
}
