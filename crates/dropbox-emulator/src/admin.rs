//! The admin endpoint (`/admin/*`): loopback only, and only with the admin token.
//!
//! - `GET /admin/faults`, `POST /admin/faults` (a partial [`Faults`] object, merged in)
//! - `POST /admin/accounts` `{"name", "token"}`
//! - `POST /admin/clock` `{"advance_secs": N}`
//! - `POST /admin/expire_tokens` — every short-lived access token expires now
//! - `POST /admin/export_only` `{"account", "path", "html"?, "markdown"?}` — a file that cannot be
//!   downloaded, only exported, as a Paper doc is (`is_downloadable: false`, `export_info`)
//! - `POST /admin/reset_cursors` `{"account": NAME}` — every cursor of the account gets `reset`
//! - `GET /admin/stats` — request, byte and fault counters, and calls per route
//! - `GET /admin/tree?account=NAME` — every file and folder with rev and content hash

use crate::faults::Faults;
use crate::state::Emulator;
use crate::wire::{Body, json_response, text_response};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

/// Serve one admin request.
pub async fn handle(
    emu: &Emulator,
    req: Request<Incoming>,
    peer: SocketAddr,
    route: &str,
) -> Response<Body> {
    let Some(expected) = &emu.config.admin_token else {
        return text_response(
            StatusCode::NOT_FOUND,
            "the admin endpoint is disabled (start with --admin-token)\n".into(),
        );
    };
    if !peer.ip().is_loopback() {
        return text_response(StatusCode::FORBIDDEN, "admin is loopback only\n".into());
    }
    let given = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given != Some(expected.as_str()) {
        return text_response(
            StatusCode::UNAUTHORIZED,
            "wrong or missing admin token\n".into(),
        );
    }
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    let body = match http_body_util::Limited::new(req.into_body(), 1 << 20)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return text_response(StatusCode::BAD_REQUEST, "body too large\n".into()),
    };
    let arg: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return text_response(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}\n"));
            }
        }
    };
    match (method.as_str(), route) {
        ("GET", "faults") => json_response(StatusCode::OK, &*emu.faults.read()),
        ("POST", "faults") => {
            let mut current = serde_json::to_value(&*emu.faults.read()).unwrap_or(Value::Null);
            if let (Some(cur), Some(new)) = (current.as_object_mut(), arg.as_object()) {
                for (k, v) in new {
                    cur.insert(k.clone(), v.clone());
                }
            }
            match serde_json::from_value::<Faults>(current) {
                Ok(f) => {
                    *emu.faults.write() = f.clone();
                    json_response(StatusCode::OK, &f)
                }
                Err(e) => text_response(
                    StatusCode::BAD_REQUEST,
                    format!("bad fault settings: {e}\n"),
                ),
            }
        }
        ("POST", "accounts") => {
            let (Some(name), Some(token)) = (arg["name"].as_str(), arg["token"].as_str()) else {
                return text_response(
                    StatusCode::BAD_REQUEST,
                    "need {\"name\", \"token\"}\n".into(),
                );
            };
            let a = emu.add_account(name, token);
            json_response(
                StatusCode::OK,
                &json!({"name": a.name, "account_id": a.account_id}),
            )
        }
        ("POST", "clock") => {
            emu.advance_clock(arg["advance_secs"].as_i64().unwrap_or(0));
            json_response(StatusCode::OK, &json!({"now": emu.now()}))
        }
        ("POST", "expire_tokens") => {
            let now = emu.now();
            let mut n = 0;
            for g in emu.tokens.lock().access.values_mut() {
                if g.expires_at.is_some() {
                    g.expires_at = Some(now - 1);
                    n += 1;
                }
            }
            json_response(StatusCode::OK, &json!({"expired": n}))
        }
        ("POST", "export_only") => {
            let (Some(a), Some(path)) = (
                arg["account"].as_str().and_then(|n| emu.account(n)),
                arg["path"].as_str(),
            ) else {
                return text_response(
                    StatusCode::BAD_REQUEST,
                    "need {\"account\": NAME, \"path\": \"/full/path.paper\"}\n".into(),
                );
            };
            let html = arg["html"].as_str().unwrap_or("<h1>A Paper doc</h1>");
            let markdown = arg["markdown"].as_str().unwrap_or("# A Paper doc\n");
            match emu.add_export_only(&a, path, html, markdown) {
                Ok(n) => json_response(StatusCode::OK, &json!({"path": n.display, "id": n.id})),
                Err(e) => text_response(StatusCode::CONFLICT, format!("{e:?}\n")),
            }
        }
        ("POST", "reset_cursors") => {
            let Some(a) = arg["account"].as_str().and_then(|n| emu.account(n)) else {
                return text_response(StatusCode::BAD_REQUEST, "need {\"account\": NAME}\n".into());
            };
            a.epoch.fetch_add(1, Ordering::Relaxed);
            a.changed.send_modify(|_| {});
            json_response(
                StatusCode::OK,
                &json!({"epoch": a.epoch.load(Ordering::Relaxed)}),
            )
        }
        ("GET", "stats") => json_response(StatusCode::OK, &emu.stats),
        ("GET", "tree") => {
            let name = crate::oauth::form(&query)
                .remove("account")
                .unwrap_or_default();
            let Some(a) = emu.account(&name) else {
                return text_response(StatusCode::NOT_FOUND, "no such account\n".into());
            };
            let ns = a.ns.lock();
            let entries: Vec<Value> = ns.nodes.values().map(|n| match n.file() {
                Some(f) => json!({"path": n.display, "id": n.id, "rev": f.rev, "size": f.size, "content_hash": f.hash.to_hex()}),
                None => json!({"path": n.display, "id": n.id, "folder": true}),
            }).collect();
            json_response(
                StatusCode::OK,
                &json!({"entries": entries, "used": ns.used}),
            )
        }
        _ => text_response(
            StatusCode::NOT_FOUND,
            format!("no admin route {method} /admin/{route}\n"),
        ),
    }
}
