//! Check `config`: the file and environment load, and everything `serve` would refuse is listed,
//! each problem with its key.

use std::path::Path;

use super::{Check, Report};
use crate::config::Config;

const NAME: &str = "config";

/// The loaded config with secrets resolved (as `serve` has it), or `None` when Dataverse cannot be
/// reached with it (the failing check is in `report`).
pub(super) fn check(file: Option<&Path>, report: &mut Report) -> Option<Config> {
    let source = match file {
        Some(f) => format!("{} + ATS_GATEWAY__* environment", f.display()),
        None => "no config file, ATS_GATEWAY__* environment only".to_string(),
    };
    let mut config = match Config::load(file) {
        Ok(c) => c,
        Err(e) => {
            report.push(Check::fail(
                NAME,
                format!("{source}: {e}"),
                "Correct the keys named above in the config file (or the ATS_GATEWAY__SECTION__KEY variables that override it); config.example.toml shows every key.",
            ));
            return None;
        }
    };
    let dataverse = config.dataverse_problems();
    let mut problems: Vec<String> = dataverse.iter().map(ToString::to_string).collect();
    if let Err(e) = crate::auth::AuthService::new(&config.auth) {
        problems.push(e.to_string());
    }
    let cursor_key = config.gateway.cursor_key.expose();
    if !cursor_key.is_empty() && crate::config::hex_key(cursor_key).is_none() {
        problems.push(format!(
            "gateway.cursor_key: {}",
            crate::config::HEX_KEY_PROBLEM
        ));
    }
    // Named by index, never by value: each is a key.
    for (i, k) in config.gateway.previous_cursor_keys.iter().enumerate() {
        if crate::config::hex_key(k.expose()).is_none() {
            problems.push(format!(
                "gateway.previous_cursor_keys[{i}]: {}",
                crate::config::HEX_KEY_PROBLEM
            ));
        }
    }
    if !problems.is_empty() {
        report.push(Check::fail(
            NAME,
            format!("{source}: {}", problems.join("; ")),
            "Set or correct each key named above (in the file, or as ATS_GATEWAY__SECTION__KEY); config.example.toml shows every key.",
        ));
        if !dataverse.is_empty() {
            return None;
        }
    }
    if let Err(e) = config.resolve_dataverse() {
        report.push(Check::fail(
            NAME,
            format!("{source}: {e}"),
            "Correct the key named above.",
        ));
        return None;
    }
    if problems.is_empty() {
        let d = &config.dataverse;
        let mut passed = Check::pass(
            NAME,
            format!(
                "{source}: Dataverse {}, tenant {}, app (client id) {}",
                d.org_url,
                d.tenant_id,
                super::entra::shown_client_id(&d.client_id)
            ),
        );
        // The OAuth metadata names a URL as the issuer (RFC 8414); a client that checks tokens
        // against it refuses an `iss` that is not the same string.
        let issuer = config.auth.issuer.trim();
        let public = config.gateway.public_url.trim();
        if !public.is_empty() && !issuer.starts_with("https://") && !issuer.starts_with("http://") {
            passed = passed.advise(format!(
                "auth.issuer is `{issuer}`, not a URL: the OAuth metadata names {public} as the issuer, and clients that compare it with the tokens' `iss` refuse them. Set auth.issuer to gateway.public_url."
            ));
        }
        // Boards are public and cacheable: their links would follow whatever `Host` a caller
        // sends (the answers say `Vary: Host`, but a cache that ignores it keeps the caller's).
        if public.is_empty() && !config.boards.is_empty() {
            passed = passed.advise(
                "[[boards]] are configured but gateway.public_url is not: the boards' links (canonical, JSON-LD, sitemap, feed) then follow each request's Host header. Set gateway.public_url to the URL career sites reach the gateway at.",
            );
        }
        report.push(passed);
    }
    Some(config)
}
