//! `GET /v1/changes`: the changes feed, oldest first, filtered per partner exactly as the read API
//! (`changes::visibility`). The cursor seals the sequence number of the last event the partner was
//! shown (or skipped), bound to the partner and this route, and lives as long as the retention.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::cursor;
use super::params::{param_enum, PageSize, StrictQuery};
use super::respond;
use super::state::App;
use crate::auth::Principal;
use crate::changes::event::Event;
use crate::changes::visibility;
use crate::problem::ApiError;
use crate::resolve::lang::Lang;

const ROUTE: &str = "/v1/changes";
/// Events read from the store per batch while filling a page.
const BATCH: usize = 200;
/// At most this many events of the partner's companies are examined per request (without
/// `pii:read`, updates of personal fields only are hidden: a long run of them gives a short page
/// with `has_more` and a cursor past them rather than a long request).
const MAX_EXAMINED: usize = 5_000;

/// Query parameters of `GET /v1/changes`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesParams {
    /// Opaque cursor from `next_cursor`: the events after it.
    #[param(min_length = 1)]
    cursor: Option<String>,
    /// Without `cursor`: `oldest` (default) starts at the oldest retained event; `latest` answers no
    /// event and a cursor after the newest one (take it before re-reading the lists).
    #[param(value_type = Option<ChangesStart>)]
    start: Option<ChangesStart>,
    /// Page size, 1–200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200, default = 50, example = 20)]
    page_size: Option<PageSize>,
}

param_enum!(
    ChangesStart,
    "Where a feed without cursor starts: the oldest retained event, or after the newest.",
    |_| "must be oldest or latest".to_string(),
    {
        Oldest = "oldest",
        Latest = "latest",
    }
);

/// A page of the feed.
#[derive(Serialize, ToSchema)]
pub struct ChangesPage {
    /// Events you may see, oldest first.
    pub data: Vec<Event>,
    /// Always present: send it as `cursor` to get the events after this page (now or later).
    pub next_cursor: String,
    /// More events follow already; poll again with `next_cursor` at once (else later).
    pub has_more: bool,
}

fn fingerprint(principal: &Principal) -> String {
    cursor::fingerprint(&[
        ("route", ROUTE.to_string()),
        ("partner", principal.partner_id.clone()),
    ])
}

/// List changes
///
/// What changed in HR, oldest first: recruiting requests and candidates created, updated (with
/// `changed_fields`, JSON pointers into `data`), status changed (`from`, `to`) and deleted, each with
/// the record as `GET` shows it. Only records of your companies; candidates' personal fields only
/// with `pii:read`. Keep `next_cursor` and poll with it; a partner offline for days catches up.
/// A cursor whose following events are past retention answers 410, as does one ahead of the feed
/// (the gateway's state store was restored or replaced): take a fresh cursor (`start=latest`),
/// re-read the lists, then continue from it.
#[utoipa::path(
    get, path = "/v1/changes", tag = "changes",
    operation_id = "listChanges",
    params(ChangesParams),
    responses(
        (status = 200, description = "A page of events", body = ChangesPage),
        (status = 503, description = "The gateway's state store is unavailable (`state-unavailable`), or the gateway is at its connection limit; wait `Retry-After` seconds", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["changes:read"]), ("oauth2" = ["changes:read"]))
)]
pub async fn list(
    State(st): State<App>,
    principal: Principal,
    headers: HeaderMap,
    StrictQuery(p): StrictQuery<ChangesParams>,
) -> Result<Response, ApiError> {
    let retention_days = st.config.changes.retention_days;
    let ttl_secs = i64::from(retention_days) * 86_400;
    let fp = fingerprint(&principal);
    let store = st.changes.store();
    let bounds = store.feed_bounds().await?;
    let expired = || ApiError::ChangesCursorExpired { retention_days };
    let after = match (&p.cursor, p.start) {
        (Some(_), Some(_)) => {
            return Err(ApiError::param("start", "cannot be combined with cursor"));
        }
        (Some(c), None) => {
            let sealed = st
                .cursors
                .open(c, &principal.partner_id, &fp)
                .map_err(|e| match e {
                    ApiError::CursorExpired => expired(),
                    other => other,
                })?;
            let at = sealed.parse::<i64>().map_err(|_| {
                ApiError::param("cursor", "is not a cursor of this feed; start without one")
            })?;
            // Past the newest event: the log was reset under it (a restored or new state
            // store). Reading on would skip the new log's events up to it, silently.
            if at > bounds.last_seq {
                return Err(ApiError::ChangesCursorAhead);
            }
            at
        }
        (None, Some(ChangesStart::Latest)) => bounds.last_seq,
        (None, _) => bounds.purged_through,
    };
    let size = PageSize::or_default(p.page_size) as usize;
    // The store returns only events of the partner's companies (an index, not a read of every
    // event); shaping may still hide some (personal fields only, without `pii:read`). Reads stop at
    // the newest event committed before this request, so reaching it moves the cursor there.
    let companies: Vec<String> = principal.companies.iter().cloned().collect();
    let through = bounds.last_seq;
    let mut data = Vec::new();
    let mut position = after;
    let mut examined = 0;
    let mut end_of_log = false;
    while data.len() < size && examined < MAX_EXAMINED {
        let batch = store
            .events_of(position, through, &companies, BATCH)
            .await?;
        if batch.is_empty() {
            end_of_log = true;
            position = position.max(through);
            break;
        }
        for e in batch {
            if data.len() == size {
                break;
            }
            position = e.seq;
            examined += 1;
            data.extend(visibility::shape_for(&principal, &e));
        }
    }
    // Checked after the read: a purge that ran meanwhile must not turn into a silent gap.
    if after < store.feed_bounds().await?.purged_through {
        return Err(expired());
    }
    let has_more = !end_of_log
        && !store
            .events_of(position, i64::MAX, &companies, 1)
            .await?
            .is_empty();
    let next_cursor =
        st.cursors
            .seal_for(&principal.partner_id, &fp, &position.to_string(), ttl_secs)?;
    let page = ChangesPage {
        data,
        next_cursor,
        has_more,
    };
    // The tag covers the events and the position, not the freshly sealed cursor.
    let tag = (&page.data, position);
    respond::json_tagged(&headers, &page, &tag, Lang::EnUs)
}
