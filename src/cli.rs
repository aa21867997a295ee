//! Command line: `sandbox` (default: emulator + gateway), `emulator`, `serve`, `webhook-receiver`, ….
//! Ready lines are one JSON object on stdout so scripts can drive the binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::config::Config;
#[cfg(feature = "sandbox")]
use ats_sandbox as sandbox;

#[derive(Debug, Parser)]
#[command(
    name = "ats-gateway",
    version,
    about = "REST gateway for the Dynamics 365 HR ATS (Dataverse) API"
)]
pub struct Cli {
    /// Config file (TOML). Environment variables `ATS_GATEWAY__SECTION__KEY` override it.
    #[arg(long, short, global = true, env = "ATS_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log lines as JSON (for collectors) or as text (for a terminal).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "json",
        env = "ATS_GATEWAY_LOG_FORMAT"
    )]
    pub log_format: crate::ops::logging::LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Entra + Dataverse emulator and the gateway pointed at it, in one process (the default).
    #[cfg(feature = "sandbox")]
    Sandbox {
        /// Gateway listen address (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Emulator listen address.
        #[arg(long, default_value = "127.0.0.1:8090")]
        emulator_listen: SocketAddr,
        /// Recruiting requests to seed (overrides sandbox.scale).
        #[arg(long)]
        scale: Option<usize>,
        /// Ops listener (`/metrics`, `/healthz`, `/readyz`); default: a free loopback port, so
        /// several sandboxes can run at once (its URL is the ready line's `ops`).
        #[arg(long)]
        ops_listen: Option<SocketAddr>,
        /// Serve the emulator over HTTPS with a CA made at start (its file: the ready line's `ca_file`).
        #[arg(long)]
        tls: bool,
        /// Your own PEM certificate chain for the emulator's HTTPS (implies --tls; with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Run only the Entra + Dataverse emulator.
    #[cfg(feature = "sandbox")]
    Emulator {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        #[arg(long)]
        scale: Option<usize>,
        /// Serve the emulator over HTTPS with a CA made at start (its file: the ready line's `ca_file`).
        #[arg(long)]
        tls: bool,
        /// Your own PEM certificate chain for the emulator's HTTPS (implies --tls; with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Create a partner client secret: prints the plaintext once (give it to the partner) and the
    /// argon2 hash (put it in `client_secret_hashes` of the partner's config).
    PartnerSecret {
        /// Hash the secret read from stdin (one line) instead of generating one, e.g. to give a
        /// local cluster's replicas the sandbox's demo secrets (`scripts/cluster.sh`).
        #[arg(long)]
        stdin: bool,
    },
    /// Create an operator token: prints the token once and the argon2 hash (put it in
    /// `[operator] token_hashes`).
    OperatorToken,
    /// Manage partners through the operator API (token from ATS_GATEWAY_OPERATOR_TOKEN).
    Partners {
        /// The gateway's ops listener.
        #[arg(
            long,
            env = "ATS_GATEWAY_OPS_URL",
            default_value = "http://127.0.0.1:9090"
        )]
        ops: String,
        /// Print the API's JSON instead of a table.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: crate::operator::client::PartnersCommand,
    },
    /// Exit 0 when the URL answers 2xx (for container HEALTHCHECK; the runtime image has no curl).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:9090/healthz")]
        url: String,
    },
    /// Check the configuration against Entra and Dataverse (credential, token, application user,
    /// table access, data) and say what to fix; exits non-zero when a check fails.
    Doctor {
        /// Print `{"ok": bool, "checks": [{"name", "ok", "detail", "fix"}]}` instead of the checklist.
        #[arg(long)]
        json: bool,
    },
    /// Receive webhooks: verify each delivery's signature and print its event as one JSON line
    /// on stdout (after a ready line). Start it before subscribing, with `--secret-file` where the
    /// subscription's secret will be written.
    WebhookReceiver {
        /// Listen address (port 0 picks a free port; the ready line names it).
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: SocketAddr,
        /// The subscription's `whsec_…` secret.
        #[arg(
            long,
            env = "WEBHOOK_SECRET",
            // `--help` would print it otherwise.
            hide_env_values = true,
            conflicts_with = "secret_file",
            required_unless_present = "secret_file"
        )]
        secret: Option<String>,
        /// A file holding the secret, read at every delivery (it may be written after the start).
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// Durable state: `state migrate` moves one replica's SQLite state into Postgres.
    State {
        #[command(subcommand)]
        action: StateCommand,
    },
    /// Run the gateway against the Dataverse environment in the config file.
    Serve {
        /// Partner listener (overrides gateway.listen).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Ops listener (overrides gateway.ops_listen).
        #[arg(long)]
        ops_listen: Option<SocketAddr>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy a single replica's state (live idempotency records, open write plans, …) from its
    /// SQLite file into the Postgres several replicas share, verify the counts and print them.
    /// The copy is one consistent snapshot; stop the old replica first so nothing it records
    /// afterwards is left behind. A target that already holds state is refused unless --force.
    Migrate {
        /// `sqlite://PATH`: the state file, or the state directory holding it.
        #[arg(long)]
        from: String,
        /// `postgres://…` (from the environment, to keep a password off the command line).
        #[arg(long, env = "ATS_GATEWAY_MIGRATE_TO", hide_env_values = true)]
        to: String,
        /// Copy into a target that already holds state (source rows replace rows with the same key).
        #[arg(long)]
        force: bool,
    },
}

/// Without a subcommand: the sandbox where it is built in, else `serve`.
fn default_command() -> Result<Command, CliError> {
    #[cfg(feature = "sandbox")]
    return Ok(Command::Sandbox {
        listen: "127.0.0.1:8080".parse()?,
        emulator_listen: "127.0.0.1:8090".parse()?,
        scale: None,
        ops_listen: None,
        tls: false,
        tls_cert: None,
        tls_key: None,
    });
    #[cfg(not(feature = "sandbox"))]
    return Ok(Command::Serve {
        listen: None,
        ops_listen: None,
    });
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    // Doctor reports an unloadable config as its first check rather than failing here.
    if let Some(Command::Doctor { json }) = cli.command {
        return doctor(cli.config.as_deref(), json).await;
    }
    // Moving state needs only the two URLs, not a gateway config.
    if let Some(Command::State {
        action: StateCommand::Migrate { from, to, force },
    }) = &cli.command
    {
        let report = crate::store::migrate_state::migrate(from, to, *force).await?;
        print!("{}", crate::store::migrate_state::render(&report));
        return Ok(());
    }
    // The receiver is a partner-side tool: it needs no gateway config.
    if let Some(Command::WebhookReceiver {
        listen,
        secret,
        secret_file,
    }) = cli.command
    {
        let source = match (secret, secret_file) {
            (_, Some(path)) => crate::webhooks::receiver::SecretSource::File(path),
            (Some(s), None) => crate::webhooks::receiver::SecretSource::Value(s),
            (None, None) => return Err("give --secret or --secret-file".into()),
        };
        crate::webhooks::receiver::run(listen, source, shutdown_signal()).await?;
        return Ok(());
    }
    // Operator tools talk to a running gateway: no config needed.
    if let Some(Command::OperatorToken) = cli.command {
        let (token, hash) = crate::operator::guard::create_operator_token();
        println!(
            "{}",
            json!({"operator_token": token, "operator_token_hash": hash})
        );
        return Ok(());
    }
    if let Some(Command::Partners { ops, json, command }) = cli.command {
        let token = std::env::var("ATS_GATEWAY_OPERATOR_TOKEN")
            .map_err(|_| "set ATS_GATEWAY_OPERATOR_TOKEN to an operator token")?;
        return crate::operator::client::run(&ops, &token, json, command).await;
    }
    let mut config = Config::load(cli.config.as_deref())?;
    let command = match cli.command {
        Some(c) => c,
        None => default_command()?,
    };
    match command {
        Command::Doctor { json } => doctor(cli.config.as_deref(), json).await,
        Command::WebhookReceiver { .. }
        | Command::OperatorToken
        | Command::Partners { .. }
        | Command::State { .. } => Ok(()),
        #[cfg(feature = "sandbox")]
        Command::Emulator {
            listen,
            scale,
            tls,
            tls_cert,
            tls_key,
        } => {
            if let Some(s) = scale {
                config.sandbox.scale = s;
            }
            config.sandbox.validate().map_err(CliError::from)?;
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let tls = tls_source(tls, tls_cert, tls_key);
            let emu = start_emulator(config.sandbox.clone(), listener, tls.as_ref()).await?;
            let mut ready =
                json!({"event": "ready", "emulator": emu.url, "dataverse": dataverse_json(&emu)});
            with_ca_file(&mut ready, &emu);
            println!("{ready}");
            shutdown_signal().await;
            emu.task.abort();
            remove_generated_ca(tls.as_ref());
            Ok(())
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox {
            listen,
            emulator_listen,
            scale,
            ops_listen,
            tls,
            tls_cert,
            tls_key,
        } => {
            if let Some(s) = scale {
                config.sandbox.scale = s;
            }
            config.sandbox.validate().map_err(CliError::from)?;
            // HR edits in the sandbox show in the feed within seconds.
            config.changes.scan_interval_ms.get_or_insert(2_000);
            let listener = tokio::net::TcpListener::bind(emulator_listen).await?;
            let tls = tls_source(tls, tls_cert, tls_key);
            let emu = start_emulator(config.sandbox.clone(), listener, tls.as_ref()).await?;
            config.dataverse = dataverse_config_for(&emu, &config.dataverse);
            with_demo_partners(&mut config.auth);
            if config.boards.is_empty() {
                config.boards = crate::boards::config::demo();
            }
            config.gateway.ops_listen = ops_listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
            // A partner tries webhooks with a receiver on its own machine.
            config.webhooks.allow_private_urls = true;
            // An operator token made now, for the operator API on the ops listener.
            let (operator_token, operator_hash) = crate::operator::guard::create_operator_token();
            config.operator.token_hashes.push(operator_hash);
            let reload = reload_source(cli.config.clone(), true);
            let gw_listener = tokio::net::TcpListener::bind(listen).await?;
            let gw = crate::app::start_held(config, gw_listener, Some(reload), None).await?;
            let demo = crate::demo::partners();
            let mut partners: Vec<serde_json::Value> = gw
                .state
                .auth
                .registry()
                .partners()
                .map(|p| {
                    let secret = demo.iter().find(|d| d.config.id == p.id).map(|d| d.secret);
                    let companies: Vec<&str> = match p.companies.is_empty() {
                        true => vec![crate::auth::registry::ALL_COMPANIES],
                        false => p.companies.iter().map(String::as_str).collect(),
                    };
                    json!({"id": p.id, "client_id": p.client_id, "client_secret": secret, "scopes": p.scopes, "companies": companies})
                })
                .collect();
            partners.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
            let mut ready = json!({
                "event": "ready",
                "emulator": emu.url,
                "gateway": gw.url,
                "ops": gw.ops_url,
                "admin": format!("{}/_sandbox", emu.url),
                "dataverse": dataverse_json(&emu),
                "partners": partners,
                "boards": gw.state.boards.all().iter().map(|b| json!({"id": b.config.id, "url": b.url(&gw.url), "companies": b.config.companies})).collect::<Vec<_>>(),
                "operator_token": operator_token,
            });
            with_ca_file(&mut ready, &emu);
            println!("{ready}");
            gw.release_background();
            eprintln!("{}", try_it(&gw.url, &gw.ops_url));
            shutdown_signal().await;
            // The emulator is the gateway's upstream: it stops after the gateway has drained.
            drain(gw).await;
            emu.task.abort();
            remove_generated_ca(tls.as_ref());
            Ok(())
        }
        Command::PartnerSecret { stdin } => {
            let (secret, hash) = if stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                let secret = line.trim_end_matches(['\r', '\n']).to_string();
                if secret.is_empty() {
                    return Err("partner-secret --stdin: the secret on stdin is empty".into());
                }
                let hash = crate::auth::secrets::hash_secret(&secret);
                (secret, hash)
            } else {
                crate::auth::create_partner_secret()
            };
            println!(
                "{}",
                json!({"client_secret": secret, "client_secret_hash": hash})
            );
            Ok(())
        }
        Command::Healthcheck { url } => {
            let resp = reqwest::Client::new()
                .get(&url)
                .timeout(std::time::Duration::from_secs(3))
                .send()
                .await?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(format!("{url} answered {}", resp.status()).into())
            }
        }
        Command::Serve { listen, ops_listen } => {
            if let Some(l) = listen {
                config.gateway.listen = l;
            }
            if let Some(l) = ops_listen {
                config.gateway.ops_listen = l;
            }
            config.resolve_dataverse()?;
            if config.state.path.is_none() {
                config.state.path = Some(PathBuf::from("data"));
            }
            if config.auth.signing_key_file.is_none() {
                tracing::warn!("auth.signing_key_file is not set: partner tokens are signed with a key generated now, so they stop working at restart and other replicas refuse them");
            }
            let reload = reload_source(cli.config.clone(), false);
            let credential = credential_source(cli.config.clone());
            let listener = tokio::net::TcpListener::bind(config.gateway.listen).await?;
            let gw =
                crate::app::start_held(config, listener, Some(reload), Some(credential)).await?;
            tracing::info!(
                worker_threads = tokio::runtime::Handle::current().metrics().num_workers(),
                "serving"
            );
            println!(
                "{}",
                json!({"event": "ready", "gateway": gw.url, "ops": gw.ops_url})
            );
            // The warm-up's calls come after the ready line, never before it.
            gw.release_background();
            shutdown_signal().await;
            drain(gw).await;
            Ok(())
        }
    }
}

/// Prints the checklist (or JSON); an error (exit 1) when any check failed.
async fn doctor(config: Option<&std::path::Path>, json: bool) -> Result<(), CliError> {
    let report = crate::doctor::run(config).await;
    if json {
        println!("{}", crate::doctor::render::json(&report));
    } else {
        print!("{}", crate::doctor::render::text(&report));
    }
    if report.ok {
        Ok(())
    } else {
        let failed = report.checks.iter().filter(|c| !c.ok).count();
        Err(format!("doctor: {failed} of {} checks failed", report.checks.len()).into())
    }
}

/// The sandbox runs with the config's partners, else with the demo partners.
#[cfg(feature = "sandbox")]
fn with_demo_partners(auth: &mut crate::auth::AuthConfig) {
    if auth.partners.is_empty() && auth.partners_file.is_none() {
        auth.partners = crate::demo::partners()
            .into_iter()
            .map(|p| p.config)
            .collect();
    }
}

/// A reload (SIGHUP, or the config file changed) re-reads the config file and environment as at
/// start, so partners and keys can change without a restart.
fn reload_source(path: Option<PathBuf>, sandbox: bool) -> crate::auth::ReloadSource {
    let watch = path.iter().cloned().collect();
    crate::auth::ReloadSource {
        load: Box::new(move || {
            let config = Config::load(path.as_deref()).map_err(|e| e.to_string())?;
            let mut auth = config.auth;
            #[cfg(feature = "sandbox")]
            if sandbox {
                with_demo_partners(&mut auth);
            }
            #[cfg(not(feature = "sandbox"))]
            let _ = sandbox;
            Ok(auth)
        }),
        watch,
    }
}

/// A credential rotation (SIGHUP, or the config or a credential file changed) re-reads the
/// `[dataverse]` section as `serve` read it at start, secret file included.
fn credential_source(path: Option<PathBuf>) -> crate::upstream::rotation::CredentialSource {
    let watch = path.iter().cloned().collect();
    crate::upstream::rotation::CredentialSource {
        load: Box::new(move || {
            let mut config = Config::load(path.as_deref()).map_err(|e| e.to_string())?;
            config.resolve_dataverse().map_err(|e| e.to_string())?;
            Ok(config.dataverse)
        }),
        watch,
    }
}

#[cfg(feature = "sandbox")]
/// Points the gateway at the emulator exactly as it would point at a real environment: by URL.
/// Only where and as whom to connect comes from the emulator; the user's tuning keys
/// (`max_concurrency`, `timeout_ms`, breaker and retry settings) stay as configured.
fn dataverse_config_for(
    emu: &sandbox::server::EmulatorHandle,
    user: &crate::config::DataverseConfig,
) -> crate::config::DataverseConfig {
    let c = &emu.config();
    crate::config::DataverseConfig {
        org_url: emu.url.clone(),
        authority: emu.url.clone(),
        tenant_id: c.tenant_id.to_string(),
        client_id: c.client_id.to_string(),
        client_secret: crate::config::SecretString::new(c.client_secret.clone()),
        client_secret_file: None,
        certificate_file: None,
        private_key_file: None,
        // The emulator's demo secret does not expire.
        client_secret_expires_at: None,
        // With --tls the gateway trusts the emulator's CA, as it would a TLS-inspecting proxy's.
        ca_file: emu.ca_file.clone(),
        // The budget headers say what is left, not when the window frees it: its length is known
        // from the emulator's configuration, as from Dataverse's documented limits in production.
        budget_window_secs: c.window_secs,
        ..user.clone()
    }
}

#[cfg(feature = "sandbox")]
/// `--tls` makes a CA in a directory of its own (one per process); `--tls-cert`/`--tls-key` use the caller's.
fn tls_source(
    tls: bool,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Option<sandbox::tls::TlsSource> {
    match (cert, key) {
        (Some(cert), Some(key)) => Some(sandbox::tls::TlsSource::Files { cert, key }),
        _ if tls => Some(sandbox::tls::TlsSource::Generate {
            dir: std::env::temp_dir().join(format!("ats-sandbox-tls-{}", std::process::id())),
        }),
        _ => None,
    }
}

#[cfg(feature = "sandbox")]
async fn start_emulator(
    config: sandbox::config::SandboxConfig,
    listener: tokio::net::TcpListener,
    tls: Option<&sandbox::tls::TlsSource>,
) -> std::io::Result<sandbox::server::EmulatorHandle> {
    match tls {
        Some(t) => sandbox::server::start_tls(config, listener, t).await,
        None => sandbox::server::start(config, listener).await,
    }
}

#[cfg(feature = "sandbox")]
/// The generated CA lives as long as the process that made it.
fn remove_generated_ca(tls: Option<&sandbox::tls::TlsSource>) {
    if let Some(sandbox::tls::TlsSource::Generate { dir }) = tls {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(feature = "sandbox")]
/// With TLS the ready line names the PEM file a client trusts to reach the emulator.
fn with_ca_file(ready: &mut serde_json::Value, emu: &sandbox::server::EmulatorHandle) {
    if let (Some(ca), Some(obj)) = (&emu.ca_file, ready.as_object_mut()) {
        obj.insert("ca_file".into(), json!(ca.display().to_string()));
    }
}

#[cfg(feature = "sandbox")]
fn dataverse_json(emu: &sandbox::server::EmulatorHandle) -> serde_json::Value {
    let c = &emu.config();
    json!({
        "org_url": emu.url,
        "token_url": emu.token_url(),
        "tenant_id": c.tenant_id,
        "client_id": c.client_id,
        // The sandbox's demo secret: printed so a new user can call the emulator directly.
        "client_secret": c.client_secret,
        "certificate_client_id": c.cert_client_id,
        // HR's app (writes every table): lets a person or a test change a request as HR would.
        "hr_client_id": c.hr_client_id,
        "hr_client_secret": c.hr_client_secret,
    })
}

#[cfg(feature = "sandbox")]
/// Human-readable next steps on stderr (stdout carries only the JSON ready line).
fn try_it(gw: &str, ops: &str) -> String {
    format!(
        "\nats-gateway sandbox is ready. Try:\n\
  TOKEN=$(curl -s {gw}/oauth2/token -d grant_type=client_credentials -d client_id=acme-ats -d client_secret=acme-demo-secret | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n\
  curl -s -H \"Authorization: Bearer $TOKEN\" '{gw}/v1/recruiting-requests?status=active&page_size=2'\n\
  curl -s -H \"Authorization: Bearer $TOKEN\" -H 'Accept-Language: nb-NO' '{gw}/v1/option-sets/recruiting-request-status'\n\
Job boards (public, no token): {gw}/boards/contoso-careers   {gw}/boards/contoso-norge\n\
Docs: {gw}/docs   Metrics: {ops}/metrics   Partners and secrets: the JSON line above.\n\
Operator API: curl -s -H \"Authorization: Bearer <operator_token from the JSON line>\" {ops}/operator/v1/partners\n"
    )
}

/// Graceful stop after SIGTERM / Ctrl-C: readiness turns false and the partner listener stops
/// accepting at once (one token, `state.shutdown()`), requests in flight finish within
/// `gateway.shutdown_grace_ms`, background workers stop at a safe point. A second signal exits now.
async fn drain(gw: crate::app::GatewayHandle) {
    tracing::info!(
        grace_ms = gw.state.config.gateway.shutdown_grace_ms,
        "shutting down: draining requests in flight"
    );
    gw.shutdown.cancel();
    let mut task = gw.task;
    tokio::select! {
        _ = &mut task => tracing::info!("drained; exiting"),
        () = shutdown_signal() => {
            tracing::warn!("second signal: exiting without waiting for requests in flight");
            task.abort();
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// A boxed error for the CLI boundary only: every layer below has its own typed error.
pub type CliError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(all(test, feature = "sandbox"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sandbox_keeps_the_users_dataverse_tuning() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let emu = sandbox::server::start(Default::default(), listener)
            .await
            .expect("emulator");
        let user = crate::config::DataverseConfig {
            org_url: "https://contoso.crm4.dynamics.com".into(),
            max_concurrency: 7,
            timeout_ms: 1234,
            breaker_failures: 9,
            ..Default::default()
        };
        let d = dataverse_config_for(&emu, &user);
        assert_eq!(d.org_url, emu.url, "where to connect: the emulator");
        assert_eq!(d.client_id, emu.config().client_id.to_string());
        assert_eq!(
            (d.max_concurrency, d.timeout_ms, d.breaker_failures),
            (7, 1234, 9),
            "tuning: the user's"
        );
        emu.task.abort();
    }
}
