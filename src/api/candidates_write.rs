//! `POST /v1/candidates`: hire a candidate into HR. The handler checks the headers, claims the
//! `Idempotency-Key` and hands the work to `writes` in a task of its own, so a client that hangs up
//! (or the request deadline) cannot stop a hire half-way; the plan's close records the key's
//! outcome for replays, and the task reads the new candidate back for this answer.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::hire_schema::HireBody;
use super::params::{NoParams, StrictQuery};
use super::respond;
use super::state::{App, AppState};
use crate::auth::Principal;
use crate::cache::Resource;
use crate::json_body::JsonBody;
use crate::problem::{ApiError, FieldError};
use crate::resolve::lang::Lang;
use crate::store::Outcome;
use crate::writes::{self, Started, WriteError};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";
const MAX_KEY_LEN: usize = 255;

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Invalid(issues) => ApiError::Validation(
                issues
                    .into_iter()
                    .map(|i| FieldError { pointer: i.pointer, detail: i.detail })
                    .collect(),
            ),
            WriteError::InFlight => ApiError::Conflict(
                "a request with this Idempotency-Key is still running; retry when it has finished to get its outcome".into(),
            ),
            WriteError::KeyReused => ApiError::IdempotencyKeyReused,
            WriteError::Recovering => ApiError::UpstreamUnavailable(
                "unfinished writes from before the restart are being settled".into(),
            ),
            WriteError::Undone { step, pointer, cause } => undone(&step, &pointer, cause),
            // The undo waits for HR: unreachable, or unable yet to show whether a create whose
            // answer was lost wrote its row (then no row found proves nothing).
            WriteError::UndoPending { step, cause } => ApiError::WriteFailed {
                cause: Box::new(ApiError::UpstreamUnavailable(cause)),
                detail: format!(
                    "writing the {step} failed, and what it wrote could not be undone yet (the HR system could not be reached, \
                     or could not yet show whether the write happened); the gateway keeps settling it in the background. \
                     Retry with the same Idempotency-Key later"
                ),
            },
            WriteError::FinishPending(e) => ApiError::WriteFailed {
                cause: Box::new(ApiError::HireOutcomePending(e.to_string())),
                detail: "the candidate was written to HR, but recording this request's outcome failed; \
                         the gateway records it in the background. Retry with the same Idempotency-Key later to get the candidate"
                    .into(),
            },
            WriteError::OutcomeUnknown(why) => ApiError::WriteFailed {
                cause: Box::new(ApiError::HireOutcomePending(why)),
                detail: "recording this hire failed after its plan may have been saved, so whether the candidate is written is not known yet; \
                         the gateway completes or undoes the hire in the background. Retry with the same Idempotency-Key later: \
                         the retry answers the candidate, or runs the hire again if it was undone"
                    .into(),
            },
            WriteError::Upstream(u) => u.into(),
            WriteError::Read(api) => api,
            // Postgres away: nothing was written (a journal write precedes every upstream call),
            // so the hire's detail says so; the store's own mapping gives the problem type.
            WriteError::Store(s @ crate::store::StoreError::Unavailable(_)) => {
                tracing::warn!(reason = %s, "hire refused: state store unavailable");
                ApiError::WriteFailed {
                    cause: Box::new(s.into()),
                    detail: "the gateway's state store is unavailable, so nothing was written; retry later with the same Idempotency-Key".into(),
                }
            }
            WriteError::Store(s) => s.into(),
            WriteError::Internal(s) => ApiError::Internal(s),
        }
    }
}

/// A failed, undone step as a partner problem: HR's own validation message (Infolog 0x80040265)
/// becomes a 422 naming the field where the message names one we know.
fn undone(step: &str, pointer: &str, cause: crate::upstream::UpstreamError) -> ApiError {
    use crate::upstream::UpstreamError as U;
    let what = if step == crate::writes::plan::CANDIDATE_STEP {
        "the candidate".to_string()
    } else {
        format!("{step} ({pointer})")
    };
    if let U::BadRequest { code, message } = &cause {
        if code.eq_ignore_ascii_case("0x80040265") {
            let text = infolog_text(message);
            let field = field_pointer(step, pointer, &text);
            return ApiError::Validation(vec![FieldError {
                pointer: field.unwrap_or_else(|| pointer.to_string()),
                detail: format!("HR refused it: {text}"),
            }]);
        }
    }
    ApiError::WriteFailed {
        detail: format!(
            "writing {what} failed; everything written for this request was removed again. Retry with the same Idempotency-Key"
        ),
        cause: Box::new(cause.into()),
    }
}

/// The Infolog's own sentence, without Dataverse's wrapper or table names.
fn infolog_text(message: &str) -> String {
    let text = message.rsplit("Infolog:").next().unwrap_or(message).trim();
    let text = text.strip_prefix("Error:").unwrap_or(text).trim();
    let text = text.split(" in the relating table").next().unwrap_or(text);
    text.chars().take(300).collect()
}

/// HR's field labels (as the Infolog names them) → the body field, per step.
const INFOLOG_FIELDS: &[(&str, &str, &str)] = &[
    ("candidate", "Recruiting request", "/recruiting_request"),
    ("candidate", "Position", "/position"),
    ("candidate", "Party number", "/person/party_number"),
    ("skills", "Skill", "skill"),
    ("skills", "Rating level", "rating_level"),
    ("education", "Education level", "education_level"),
    ("education", "Education discipline", "discipline"),
    ("education", "Education institution", "institution"),
    ("addresses", "Country/region", "country_region"),
    ("certificates", "Certificate type", "certificate_type"),
    ("screenings", "Screening type", "screening_type"),
    (
        "identification_numbers",
        "Identification type",
        "identification_type",
    ),
    ("identification_numbers", "Issuing agency", "issuing_agency"),
];

fn field_pointer(step: &str, pointer: &str, text: &str) -> Option<String> {
    let label = text.split("field '").nth(1)?.split('\'').next()?;
    INFOLOG_FIELDS
        .iter()
        .find(|(s, l, _)| *s == step && l.eq_ignore_ascii_case(label))
        .map(|(_, _, f)| {
            if f.starts_with('/') {
                f.to_string()
            } else {
                format!("{pointer}/{f}")
            }
        })
}

#[derive(Serialize)]
struct Created<'a> {
    id: &'a Uuid,
}

/// Hire a candidate
///
/// Sends the candidate who accepted an offer back into HR, where it becomes a worker: the body has
/// the shape `GET /v1/candidates/{id}` returns (lookups by code or id, option sets by key, dates
/// `YYYY-MM-DD`). An external candidate brings a new person (`first_name` and `last_name`
/// required); an internal one sends only `{"person": {"party_number": "…"}}`, a person who is a
/// candidate in one of your companies. Everything is checked before HR is called (one 422 listing
/// every failing field as a JSON pointer); if HR fails part-way, every row written is removed again
/// and the answer says which step failed. `Idempotency-Key` is required: the same key and body
/// replay the outcome (`Idempotent-Replayed: true`), rendered as GET shows it to you now; another
/// body is a 422, a key still running a 409. Collections are capped (`maxItems`); the rules are in
/// the gateway's docs/hire-rules.md.
#[utoipa::path(
    post, path = "/v1/candidates", tag = "candidates",
    operation_id = "createCandidate",
    request_body(content = HireBody, description = "The candidate to hire, in the shape GET /v1/candidates/{id} returns (lookups by code, option sets by key)"),
    params(
        // The pattern states `idempotency_key`'s rule (a test holds them together).
        ("Idempotency-Key" = String, Header, description = "Required. Any unique string (≤255 visible ASCII characters, e.g. a UUID) naming this hire; kept 24 h per partner. The same key and body replay the first outcome.", pattern = "^[!-~]{1,255}$", min_length = 1, max_length = 255),
        ("Accept-Language" = Option<String>, Header, description = "en-US (default) or nb-NO, for the labels in the answer"),
    ),
    responses(
        (status = 201, description = "Created: the candidate as GET returns it to you. A replay carries `Idempotent-Replayed: true` and shows the candidate through your rights at the time of the replay.", body = crate::model::candidate::Candidate,
            headers(("Location" = String, description = "/v1/candidates/{id}"), ("Idempotent-Replayed" = String, description = "`true` when this answer replays an earlier request with the same key"))),
        (status = 400, description = "The body is not JSON, the Idempotency-Key is malformed or sent more than once, or a query parameter was sent (the hire takes none)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing scope", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "A replay whose candidate is no longer in your companies (as GET answers)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is still running (`conflict`: retry later), or its hire could be neither completed nor undone and needs the operator (`hire-needs-operator`: the key keeps that answer)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Validation failed (every failing field in `errors[]` as a JSON pointer into the body, HR's own refusals and a member named twice in one object included), or the Idempotency-Key was used with another body", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 428, description = "Idempotency-Key header missing", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited, or HR throttling (nothing was left written); wait `Retry-After` seconds", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 502, description = "The HR system failed a step; everything written was removed. Retry with the same key", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The HR system or the gateway's state store is unavailable (nothing was left written, or the undo continues in the background), or `hire-outcome-pending`: the candidate was written, or may have been, and the gateway records or settles it in the background (the detail says which); wait `Retry-After` seconds and retry with the same key and body", body = crate::problem::Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying with the same Idempotency-Key")),
            example = json!({"type": "https://gateway.example.com/problems/hire-outcome-pending", "title": "Hire outcome pending", "status": 503,
                "detail": "the candidate was written to HR, but recording this request's outcome failed; the gateway records it in the background. Retry with the same Idempotency-Key later to get the candidate",
                "instance": "/v1/candidates", "request_id": "6f1c2d4e-8a9b-4c3d-9e2f-1a2b3c4d5e6f",
                "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})),
        (status = 504, description = "The HR system did not answer in time", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["candidates:write"]), ("oauth2" = ["candidates:write"]))
)]
pub async fn create(
    State(st): State<App>,
    principal: Principal,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let lang = respond::lang_of(&headers);
    let key = idempotency_key(&headers)?;
    let body = body.required()?;
    match writes::begin(&st.hiring, &principal, &key, &body).await? {
        // A hire recovery closed as failed: the key's answer for good, never a body.
        Started::Replay(outcome) if outcome.failed() => Err(ApiError::HireNeedsOperator),
        Started::Replay(outcome) => replay(&st, &principal, outcome, lang).await,
        Started::Fresh(hold) => {
            let state = st.0.clone();
            // Its own task: the hire and its bookkeeping finish even if this request is dropped;
            // the key stays leased to this replica until its outcome is recorded.
            let hire = async move {
                let answer = run(state, principal, key, body, lang).await;
                drop(hold);
                answer
            };
            let task = tokio::spawn(crate::ops::upstream_calls::carried(hire));
            let (outcome, body) = task
                .await
                .map_err(|e| ApiError::Internal(format!("hire task: {e}")))??;
            Ok(created(&outcome, body, false))
        }
    }
}

async fn run(
    st: Arc<AppState>,
    principal: Principal,
    key: String,
    body: Value,
    lang: Lang,
) -> Result<(Outcome, Value), ApiError> {
    let hired = writes::hire(&st.hiring, &principal, &key, &body).await;
    // Candidate lists change with a hire (and may have, for a moment, with an undone one).
    match &hired {
        Ok(id) => st.reader.responses.invalidate(Resource::Candidates, *id),
        Err(_) => st.reader.responses.invalidate_lists(Resource::Candidates),
    }
    let id = hired?;
    // What GET shows now (read straight from HR, not from the response cache, so it is current).
    let shown = match crate::resources::candidates::load(&st.reader, &principal, id, lang).await {
        Ok(Some(c)) => serde_json::to_value(c),
        _ => serde_json::to_value(Created { id: &id }),
    }
    .unwrap_or(Value::Null);
    // The key already replays (recorded with the plan's close, before this read-back): the
    // record keeps the id, not the body, so no personal data waits in the state store.
    Ok((writes::outcome_of(id), shown))
}

/// A replay: the candidate as `GET /v1/candidates/{id}` shows it now, through the partner's
/// current rights (companies, `pii:read`), never a stored body. A partner that lost the
/// candidate's company gets GET's 404.
async fn replay(
    st: &AppState,
    principal: &Principal,
    outcome: Outcome,
    lang: Lang,
) -> Result<Response, ApiError> {
    let body = match outcome.resource_id {
        Some(id) => {
            let shown = crate::resources::candidates::load(&st.reader, principal, id, lang)
                .await?
                .ok_or_else(|| {
                    ApiError::NotFound(crate::resources::candidates::NOT_FOUND.into())
                })?;
            serde_json::to_value(shown)
                .map_err(|e| ApiError::Internal(format!("serialize: {e}")))?
        }
        None => Value::Null,
    };
    Ok(created(&outcome, body, true))
}

fn created(outcome: &Outcome, body: Value, replayed: bool) -> Response {
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::CREATED);
    let mut resp = (status, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    if let Some(loc) = outcome
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        h.insert(header::LOCATION, loc);
    }
    if replayed {
        h.insert(REPLAYED, HeaderValue::from_static("true"));
    }
    resp
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let mut lines = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(v) = lines.next() else {
        return Err(ApiError::PreconditionRequired(
            "POST /v1/candidates creates a person in HR and needs an `Idempotency-Key` header (e.g. a UUID): \
             with it a retry after a timeout replays the first outcome instead of creating a duplicate person, which is expensive to undo in HR"
                .into(),
        ));
    };
    // Two lines are two keys, as a comma-joined one is (refused below): which one the client
    // meant is not ours to guess, and a replay under the other would miss.
    if lines.next().is_some() {
        return Err(ApiError::param(
            "Idempotency-Key",
            "must be sent once (one header line naming one key)",
        ));
    }
    let key = v.to_str().unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::param(
            "Idempotency-Key",
            format!("must be 1–{MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header's documented schema is `idempotency_key`'s rule: a client (or a fuzzer) that
    /// follows the document never meets its 400.
    #[test]
    fn the_idempotency_key_schema_states_the_rule() {
        let doc: serde_json::Value =
            serde_json::from_str(&crate::api::openapi::document_json()).expect("json");
        let params = doc["paths"]["/v1/candidates"]["post"]["parameters"]
            .as_array()
            .expect("parameters");
        let key = params
            .iter()
            .find(|p| p["name"] == "Idempotency-Key")
            .expect("documented");
        let schema = &key["schema"];
        // `[!-~]`: U+0021..U+007E, what `is_ascii_graphic` takes.
        assert_eq!(
            schema["pattern"].as_str(),
            Some(format!("^[!-~]{{1,{MAX_KEY_LEN}}}$").as_str())
        );
        assert_eq!(schema["maxLength"].as_u64(), Some(MAX_KEY_LEN as u64));
        assert_eq!(schema["minLength"].as_u64(), Some(1));
        let check = |k: &str| {
            let mut h = HeaderMap::new();
            h.insert(IDEMPOTENCY_KEY, HeaderValue::from_str(k).expect("header"));
            idempotency_key(&h).is_ok()
        };
        assert!(check("!"));
        assert!(check("~"));
        assert!(check(&"k".repeat(MAX_KEY_LEN)));
        for bad in ["", "a b", "a\tb", &"k".repeat(MAX_KEY_LEN + 1)] {
            assert!(!check(bad), "{bad:?} accepted");
        }
        // Outside ASCII: refused, as the pattern does.
        let mut h = HeaderMap::new();
        h.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_bytes("clé".as_bytes()).expect("header"),
        );
        assert!(idempotency_key(&h).is_err());
    }

    /// A hire whose candidate was written, or may have been, is never answered "nothing was
    /// written": its own problem type, and a `Retry-After` to come back with the same key.
    #[test]
    fn pending_outcomes_are_their_own_problem_with_retry_after() {
        use crate::store::StoreError;
        for (e, says) in [
            (
                WriteError::FinishPending(StoreError::Backend("x".into())),
                "the candidate was written",
            ),
            (WriteError::OutcomeUnknown("x".into()), "is not known yet"),
        ] {
            let api = ApiError::from(e);
            let problem = api.to_problem();
            assert_eq!(problem.problem_type.slug, "hire-outcome-pending");
            assert!(problem.detail.contains(says), "{}", problem.detail);
            assert!(!problem.detail.contains("nothing was written"));
            let resp = api.into_response();
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(resp.headers().contains_key(header::RETRY_AFTER));
        }
    }

    /// A hire refused because the state store is away says what it means for the hire: nothing
    /// written, retry with the same key; the problem is the store's own `state-unavailable`.
    #[test]
    fn a_hire_refused_by_an_away_store_says_nothing_was_written() {
        use crate::store::StoreError;
        let api = ApiError::from(WriteError::Store(StoreError::Unavailable("x".into())));
        let problem = api.to_problem();
        assert_eq!(problem.problem_type.slug, "state-unavailable");
        assert!(
            problem.detail.contains("nothing was written"),
            "{}",
            problem.detail
        );
        assert!(
            problem.detail.contains("same Idempotency-Key"),
            "{}",
            problem.detail
        );
        let resp = api.into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().contains_key(header::RETRY_AFTER));
        let broken = ApiError::from(WriteError::Store(StoreError::Corrupt("x".into())));
        assert_eq!(broken.problem_type().slug, "internal");
    }

    #[test]
    fn infolog_messages_name_the_field() {
        let msg = "Write failed for table row of type 'mshr_hcmpersonaddressentity'. Infolog: Error: The value 'ATL' in field 'Country/region' is not found in the relating table 'mshr_logisticsaddresscountryregionentity'.";
        let text = infolog_text(msg);
        assert_eq!(
            text,
            "The value 'ATL' in field 'Country/region' is not found"
        );
        assert_eq!(
            field_pointer("addresses", "/person/addresses/1", &text).as_deref(),
            Some("/person/addresses/1/country_region")
        );
        assert_eq!(
            field_pointer("addresses", "/person/addresses/1", "Something else"),
            None
        );
    }
}
