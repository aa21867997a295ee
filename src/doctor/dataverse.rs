//! Checks against the Dataverse Web API with the gateway's own client: `whoami` (the application
//! user), `tables` / `table:<set>` (read access per table, 403 / 404 / 429 told apart) and `data`
//! (recruiting requests per status, labelled from the environment's option-set metadata).

use std::time::Duration;

use serde_json::Value;

use super::tables::{integration_tables, Table};
use super::{Check, CALL_DEADLINE};
use crate::config::DataverseConfig;
use crate::model::recruiting_request as rr;
use crate::resolve::lang::Lang;
use crate::resolve::options::parse_option_set;
use crate::upstream::{DataverseClient, Filter, Literal, Query, UpstreamError};

/// Dataverse's code when the caller has no (application) user in the environment.
const NOT_A_MEMBER: &str = "0x80072560";
/// Dataverse's `@odata.count` ceiling.
const COUNT_CAP: u64 = 5_000;

/// The gateway's client as `serve` builds it, but reporting the first answer: no retries and no
/// breaker, so a refusal or a 429 is what doctor shows, not what a retry hid.
pub(super) fn client(d: &DataverseConfig) -> Result<DataverseClient, Box<Check>> {
    let d = DataverseConfig {
        max_retries: 0,
        breaker_failures: u32::MAX,
        ..d.clone()
    };
    crate::upstream::from_config::dataverse_client(&d, CALL_DEADLINE).map_err(|e| {
        Box::new(Check::fail(
            "token",
            format!("cannot build the Dataverse client: {e}"),
            "Correct the dataverse key named above.",
        ))
    })
}

pub(super) async fn who_am_i(client: &DataverseClient, d: &DataverseConfig) -> Check {
    const NAME: &str = "whoami";
    let add_user = format!("In the Power Platform admin center: Environments > the environment > Settings > Users + permissions > Application users > New app user; pick app {} and a business unit, and give it a security role that reads the mshr_ tables (the table checks list them).", d.client_id);
    match client.get_json("WhoAmI()").await {
        Ok(v) => {
            let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
            Check::pass(
                NAME,
                format!(
                    "application user {} in business unit {} of organization {}",
                    field("UserId"),
                    field("BusinessUnitId"),
                    field("OrganizationId")
                ),
            )
        }
        Err(UpstreamError::Forbidden { code, message }) if code == NOT_A_MEMBER => Check::fail(
            NAME,
            format!("the environment {} has no application user for app {} ({code}: {})", d.org_url, d.client_id, short(&message)),
            add_user,
        ),
        Err(UpstreamError::Forbidden { code, message }) => Check::fail(
            NAME,
            format!("Dataverse refused app {} ({code}: {})", d.client_id, short(&message)),
            format!("Check that the application user for app {} exists, is enabled and has a security role; a tenant policy may also restrict the app's Dataverse access.", d.client_id),
        ),
        Err(UpstreamError::Unauthorized) => Check::fail(
            NAME,
            format!("Dataverse {} refused the token Entra issued (401): the token is for another environment or tenant", d.org_url),
            "dataverse.org_url must be this environment's URL exactly (the token's audience is <org_url>) and dataverse.tenant_id the tenant the environment belongs to.",
        ),
        Err(e) => unreachable_or_other(NAME, &e, d),
    }
}

/// One `tables` summary, then one check per table that is not readable.
pub(super) async fn tables(client: &DataverseClient) -> Vec<Check> {
    let all = integration_tables();
    let mut failed = Vec::new();
    let mut checked = 0;
    let mut throttled_for = None;
    for t in &all {
        checked += 1;
        let probe = Query::new(t.set).select(&[t.pk]);
        match client.get_page(&probe, 1).await {
            Ok(_) => {}
            Err(UpstreamError::Throttled { retry_after, .. }) => {
                failed.push(throttled(t, retry_after));
                throttled_for = Some(retry_after);
                break;
            }
            Err(e) => failed.push(table_failure(t, &e)),
        }
    }
    let total = all.len();
    let summary = match (throttled_for, failed.is_empty()) {
        (None, true) => Check::pass(
            "tables",
            format!("the application user reads all {total} tables the gateway uses"),
        ),
        (Some(after), _) => Check::fail(
            "tables",
            format!(
                "Dataverse throttled the probes after {checked} of {total} tables ({} not readable before that); the rest were not checked",
                failed.len() - 1
            ),
            format!("Run doctor again {}.", after_text(after)),
        ),
        (None, false) => Check::fail(
            "tables",
            format!(
                "{} of {total} tables the gateway uses are not readable: {}",
                failed.len(),
                failed
                    .iter()
                    .map(|c| c.name.trim_start_matches("table:"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "See each table's line below.",
        ),
    };
    std::iter::once(summary).chain(failed).collect()
}

fn table_failure(t: &Table, e: &UpstreamError) -> Check {
    let name = format!("table:{}", t.set);
    match e {
        UpstreamError::Forbidden { code, .. } if code == NOT_A_MEMBER => Check::fail(
            name,
            format!("no application user in the environment ({code})"),
            "Add the application user (see the whoami check).",
        ),
        UpstreamError::Forbidden { code, message } => {
            let privilege = missing_privilege(message)
                .map(|p| format!("privilege {p}"))
                .unwrap_or_else(|| "its Read privilege".to_string());
            Check::fail(
                name,
                format!(
                    "the application user's security role lacks read access to {} ({privilege} missing; {code}); the gateway needs it for {}",
                    t.set, t.used_for
                ),
                format!("In the Power Platform admin center: Environments > the environment > Settings > Users + permissions > Security roles > the application user's role > Custom Entities: give the table behind {} Read at Organization level (or assign a role that has {privilege}).", t.set),
            )
        }
        UpstreamError::NotFound { code, .. } => Check::fail(
            name,
            format!(
                "the virtual table {} is not generated in this environment (404{}); the gateway needs it for {}",
                t.set,
                if code.is_empty() { String::new() } else { format!(", {code}") },
                t.used_for
            ),
            "Generate the virtual table: in Human Resources open the Microsoft Dataverse integration page, tab Virtual tables, select the entity behind this table and choose Generate/refresh (if it is not listed, refresh the entity list first); Dataverse then creates the mshr_ table in the Dynamics 365 HR Virtual Entities solution. The application user's security role then needs Read on it.",
        ),
        other => {
            let mut c = unreachable_or_other(&name, other, &DataverseConfig::default());
            c.detail = format!("{}: {}", t.set, c.detail);
            c
        }
    }
}

fn throttled(t: &Table, retry_after: Option<Duration>) -> Check {
    Check::fail(
        format!("table:{}", t.set),
        format!(
            "Dataverse throttled the application user (429, service protection), retry {}: not a configuration error, but the gateway's partners get 503s while it lasts",
            after_text(retry_after)
        ),
        "Run doctor again after the Retry-After time. If it recurs, other clients share this application user's budget (6,000 requests and 20 minutes of execution per 5 minutes, 52 concurrent): lower [dataverse] max_concurrency or give those clients their own application user.",
    )
}

fn after_text(after: Option<Duration>) -> String {
    match after {
        Some(d) => format!("after {} s", d.as_secs().max(1)),
        None => "later".to_string(),
    }
}

/// `… is missing prvReadmshr_x privilege (Id=…)` → `prvReadmshr_x`.
fn missing_privilege(message: &str) -> Option<&str> {
    let rest = &message[message.find("is missing ")? + "is missing ".len()..];
    let name = rest.split_whitespace().next()?;
    name.starts_with("prv").then_some(name)
}

/// Transport, throttling and server failures (the same words for every Dataverse check).
fn unreachable_or_other(name: &str, e: &UpstreamError, d: &DataverseConfig) -> Check {
    match e {
        UpstreamError::Network(_) | UpstreamError::Timeout => Check::fail(
            name,
            format!("cannot reach Dataverse {}: {e}", d.org_url),
            "Check dataverse.org_url and that this machine reaches it over HTTPS (DNS, firewall, proxy).",
        ),
        UpstreamError::Throttled { retry_after, .. } => Check::fail(
            name,
            format!("Dataverse throttled the application user (429), retry {}", after_text(*retry_after)),
            "Run doctor again after the Retry-After time; if it recurs, other clients share this application user's service-protection budget.",
        ),
        UpstreamError::Unavailable { .. } | UpstreamError::ServerError { .. } | UpstreamError::CircuitOpen { .. } => Check::fail(
            name,
            format!("Dataverse failed: {e}"),
            "A Dataverse-side failure, not configuration: run doctor again later; if it persists, check the environment's health in the Power Platform admin center.",
        ),
        other => Check::fail(
            name,
            format!("Dataverse answered: {}", short(&other.to_string())),
            "Unexpected: compare dataverse.org_url with the environment URL in the Power Platform admin center.",
        ),
    }
}

fn short(s: &str) -> String {
    const MAX: usize = 240;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// Check `data`: recruiting requests per status, with the status labels from metadata.
pub(super) async fn data_probe(client: &DataverseClient) -> Check {
    const NAME: &str = "data";
    let path = format!("GlobalOptionSetDefinitions(Name='{}')", rr::OS_STATUS);
    let statuses = match client
        .get_json(&path)
        .await
        .and_then(|v| parse_option_set(rr::OS_STATUS, &v))
    {
        Ok(s) => s,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot read the option set {} from metadata: {e}", rr::OS_STATUS),
                "Every application user may read metadata; if this fails the environment lacks the HR virtual-table solution (Dynamics 365 HR Virtual Entities): install it in the environment.",
            )
        }
    };
    let count = |filter: Option<Filter>| {
        let q = Query::new(rr::SET)
            .select(&[rr::PK])
            .filter_opt(filter)
            .count(true);
        async move {
            client
                .get_page(&q, 1)
                .await
                .map(|p| p.count.unwrap_or(p.rows.len() as u64))
        }
    };
    let total = match count(None).await {
        Ok(n) => n,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot count recruiting requests: {e}"),
                "See the table checks above.",
            )
        }
    };
    let mut parts = Vec::new();
    for o in &statuses.options {
        match count(Some(Filter::eq("mshr_status", Literal::Int(o.code)))).await {
            Ok(0) => {}
            Ok(n) => parts.push(format!("{} {}", o.label(Lang::EnUs), shown(n))),
            Err(e) => {
                return Check::fail(
                    NAME,
                    format!(
                        "cannot count recruiting requests with status {}: {e}",
                        o.label(Lang::EnUs)
                    ),
                    "See the table checks above.",
                )
            }
        }
    }
    if total == 0 {
        return Check::pass(NAME, "no recruiting requests are visible to the application user").advise(
            "If HR has recruiting requests, the HR (finance and operations) user mapped to this app (Microsoft Entra applications in HR's system administration) lacks access to their companies.",
        );
    }
    Check::pass(
        NAME,
        format!(
            "{} recruiting requests: {} (status labels from {})",
            shown(total),
            if parts.is_empty() {
                "none with a known status".to_string()
            } else {
                parts.join(", ")
            },
            rr::OS_STATUS
        ),
    )
}

fn shown(n: u64) -> String {
    if n >= COUNT_CAP {
        format!("{COUNT_CAP}+")
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_missing_privilege() {
        let m = "Principal user (Id=1, type=8, roleCount=1, privilegeCount=465, accessMode=0), is missing prvReadmshr_hcmjobentity privilege (Id=2) on OTC=10 for entity 'mshr_hcmjobentity'. context.Caller=1";
        assert_eq!(missing_privilege(m), Some("prvReadmshr_hcmjobentity"));
        assert_eq!(missing_privilege("other text"), None);
    }
}
