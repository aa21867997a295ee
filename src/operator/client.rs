//! `ats-gateway partners …`: the operator API from the command line (token from
//! `ATS_GATEWAY_OPERATOR_TOKEN`). Human tables by default, the API's JSON with `--json`.

use serde_json::{json, Map, Value};

pub type CliError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, clap::Subcommand)]
pub enum PartnersCommand {
    /// List partners (config and API ones).
    List,
    /// Create a partner; prints its client id and secret (shown once).
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        contact: String,
        /// A scope (repeat), e.g. --scope recruiting-requests:read.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// A company code (repeat), or `*` for all.
        #[arg(long = "company", required = true)]
        companies: Vec<String>,
        #[arg(long)]
        per_second: Option<u32>,
        #[arg(long)]
        burst: Option<u32>,
        /// A browser origin (repeat).
        #[arg(long = "origin")]
        origins: Vec<String>,
    },
    /// Change a partner's scopes, companies, limits, origins or state.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[arg(long = "company")]
        companies: Vec<String>,
        #[arg(long)]
        per_second: Option<u32>,
        #[arg(long)]
        burst: Option<u32>,
        #[arg(long = "origin")]
        origins: Vec<String>,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Make a new secret (shown once); the current one expires after --previous-expires-in seconds.
    Rotate {
        id: String,
        #[arg(long)]
        previous_expires_in: Option<u64>,
    },
    /// Revoke a partner at once.
    Revoke { id: String },
    /// Make a single-use onboarding link, for an existing partner (--partner-id) or a new one.
    Invite {
        #[arg(long, conflicts_with_all = ["id", "name"])]
        partner_id: Option<String>,
        #[arg(long, requires = "name")]
        id: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[arg(long = "company")]
        companies: Vec<String>,
        #[arg(long)]
        expires_in: Option<u64>,
    },
}

/// Runs one command against the operator API at `ops`.
pub async fn run(
    ops: &str,
    token: &str,
    json_out: bool,
    cmd: PartnersCommand,
) -> Result<(), CliError> {
    let base = format!("{}/operator/v1", ops.trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let (method, url, body) = match &cmd {
        PartnersCommand::List => (reqwest::Method::GET, format!("{base}/partners"), None),
        PartnersCommand::Add {
            id,
            name,
            contact,
            scopes,
            companies,
            per_second,
            burst,
            origins,
        } => {
            let mut b = json!({"id": id, "name": name, "contact": contact, "scopes": scopes, "companies": companies, "cors_origins": origins});
            if per_second.is_some() || burst.is_some() {
                b["rate_limit"] =
                    json!({"per_second": per_second.unwrap_or(10), "burst": burst.unwrap_or(20)});
            }
            (reqwest::Method::POST, format!("{base}/partners"), Some(b))
        }
        PartnersCommand::Update {
            id,
            name,
            scopes,
            companies,
            per_second,
            burst,
            origins,
            disable,
            enable,
        } => {
            let mut b = Map::new();
            if let Some(n) = name {
                b.insert("name".into(), json!(n));
            }
            if !scopes.is_empty() {
                b.insert("scopes".into(), json!(scopes));
            }
            if !companies.is_empty() {
                b.insert("companies".into(), json!(companies));
            }
            if let (Some(p), Some(bu)) = (per_second, burst) {
                b.insert("rate_limit".into(), json!({"per_second": p, "burst": bu}));
            }
            if !origins.is_empty() {
                b.insert("cors_origins".into(), json!(origins));
            }
            if *disable || *enable {
                b.insert("disabled".into(), json!(*disable));
            }
            (
                reqwest::Method::PATCH,
                format!("{base}/partners/{id}"),
                Some(Value::Object(b)),
            )
        }
        PartnersCommand::Rotate {
            id,
            previous_expires_in,
        } => {
            let b = previous_expires_in.map_or(json!({}), |s| json!({"previous_expires_in": s}));
            (
                reqwest::Method::POST,
                format!("{base}/partners/{id}/secrets"),
                Some(b),
            )
        }
        PartnersCommand::Revoke { id } => (
            reqwest::Method::DELETE,
            format!("{base}/partners/{id}"),
            None,
        ),
        PartnersCommand::Invite {
            partner_id,
            id,
            name,
            scopes,
            companies,
            expires_in,
        } => {
            let mut b = match partner_id {
                Some(p) => json!({"partner_id": p}),
                None => {
                    json!({"partner": {"id": id, "name": name, "scopes": scopes, "companies": companies}})
                }
            };
            if let Some(e) = expires_in {
                b["expires_in"] = json!(e);
            }
            (reqwest::Method::POST, format!("{base}/invites"), Some(b))
        }
    };
    let mut req = http.request(method, &url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !status.is_success() {
        let detail = v["detail"].as_str().map_or(text.clone(), str::to_string);
        let errors = v["errors"].as_array().map(|e| {
            e.iter()
                .map(|x| {
                    format!(
                        "\n  {}: {}",
                        x["pointer"].as_str().unwrap_or(""),
                        x["detail"].as_str().unwrap_or("")
                    )
                })
                .collect::<String>()
        });
        return Err(format!("{} {status}: {detail}{}", url, errors.unwrap_or_default()).into());
    }
    if json_out {
        println!("{}", if v.is_null() { json!({"ok": true}) } else { v });
        return Ok(());
    }
    print!("{}", human(&cmd, &v));
    Ok(())
}

fn list_str(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The answer as a table or a few lines.
fn human(cmd: &PartnersCommand, v: &Value) -> String {
    match cmd {
        PartnersCommand::List => {
            let rows: Vec<[String; 6]> = v["data"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            [
                                p["id"].as_str().unwrap_or("").to_string(),
                                p["managed_by"].as_str().unwrap_or("").to_string(),
                                if p["disabled"].as_bool() == Some(true) {
                                    "disabled".into()
                                } else {
                                    "active".into()
                                },
                                p["secrets"]
                                    .as_array()
                                    .map_or(0, |s| s.iter().filter(|x| x["live"] == true).count())
                                    .to_string(),
                                list_str(&p["companies"]),
                                list_str(&p["scopes"]),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            table(
                &[
                    "ID",
                    "MANAGED BY",
                    "STATE",
                    "SECRETS",
                    "COMPANIES",
                    "SCOPES",
                ],
                &rows,
            )
        }
        PartnersCommand::Revoke { id } => format!("revoked {id}\n"),
        PartnersCommand::Invite { .. } => format!(
            "invite link (single use, expires {}):\n{}\n",
            v["expires_at"].as_str().unwrap_or("?"),
            v["url"].as_str().unwrap_or("")
        ),
        PartnersCommand::Add { .. } | PartnersCommand::Rotate { .. } => format!(
            "client_id:     {}\nclient_secret: {}\n(shown once: store it now)\n",
            v["client_id"].as_str().unwrap_or(""),
            v["client_secret"].as_str().unwrap_or("")
        ),
        PartnersCommand::Update { .. } => format!(
            "updated {}: scopes [{}], companies [{}], {}\n",
            v["id"].as_str().unwrap_or(""),
            list_str(&v["scopes"]),
            list_str(&v["companies"]),
            if v["disabled"].as_bool() == Some(true) {
                "disabled"
            } else {
                "active"
            }
        ),
    }
}

fn table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(head.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}
