//! `ats-gateway doctor`: checks a real configuration end to end, as `serve` would use it, and says
//! for each failure what is wrong and how an operator fixes it.
//!
//! The checks run in order, each a [`Check`] (data, rendered by [`render`] as text or JSON):
//! config → state (Postgres, when `[state] url` names it) → credential → token (Entra) → `WhoAmI()` (the application user) → read access to every
//! table the gateway uses → a data probe (recruiting requests per status). A check that needs
//! something an earlier one could not provide (a token, the application user) is not run; the
//! report says which were skipped. Nothing a check reports contains a secret.

mod cluster;
mod config_check;
mod credential;
mod dataverse;
mod entra;
pub mod render;
pub mod state;
pub mod tables;

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

/// One line of the checklist.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    /// Stable name: `config`, `state`, `credential`, `token`, `whoami`, `tables`, `table:<entity set>`, `data`.
    pub name: String,
    pub ok: bool,
    /// What was found (on failure: the cause, in the operator's words).
    pub detail: String,
    /// What to do about it (`None` when there is nothing to do).
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A passing check with advice (e.g. a credential that expires soon).
    pub fn advise(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The whole checklist.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<Check>,
    /// Checks not run because an earlier one failed (text output only).
    #[serde(skip)]
    pub skipped: Vec<&'static str>,
}

impl Report {
    fn push(&mut self, check: Check) -> bool {
        let ok = check.ok;
        self.checks.push(check);
        ok
    }

    fn finish(mut self) -> Self {
        self.ok = self.checks.iter().all(|c| c.ok);
        self
    }

    fn skip(mut self, names: &[&'static str]) -> Self {
        self.skipped.extend_from_slice(names);
        self.finish()
    }

    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// How long doctor waits for any one answer from Entra or Dataverse.
const CALL_DEADLINE: Duration = Duration::from_secs(15);

/// Runs every check against the configuration `serve` would load from `file` and the environment.
pub async fn run(file: Option<&Path>) -> Report {
    let mut report = Report::default();
    let Some(config) = config_check::check(file, &mut report) else {
        return report.skip(&["credential", "token", "whoami", "tables", "data"]);
    };
    // The shared state store (Postgres) does not block the Dataverse checks.
    if let Some(check) = state::check(&config.state).await {
        report.push(check);
    }
    // Postgres state means several replicas: their limits should be shared too.
    if let Some(check) = cluster::check(
        &config,
        matches!(
            config.state.location(),
            Ok(crate::config::StateLocation::Postgres { .. })
        ),
    )
    .await
    {
        report.push(check);
    }
    let credential = credential::check(&config.dataverse);
    let usable = credential.usable;
    report.push(credential.check);
    if !usable {
        return report.skip(&["token", "whoami", "tables", "data"]);
    }
    let client = match dataverse::client(&config.dataverse) {
        Ok(c) => c,
        Err(check) => {
            report.push(*check);
            return report.skip(&["token", "whoami", "tables", "data"]);
        }
    };
    if !report.push(entra::check(&client, &config.dataverse).await) {
        return report.skip(&["whoami", "tables", "data"]);
    }
    if !report.push(dataverse::who_am_i(&client, &config.dataverse).await) {
        return report.skip(&["tables", "data"]);
    }
    for check in dataverse::tables(&client).await {
        report.push(check);
    }
    report.push(dataverse::data_probe(&client).await);
    report.finish()
}
