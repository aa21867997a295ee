//! OpenAPI 3.1 document generated from the route annotations (the scopes in each route's `security`
//! come from the same attribute that documents it). Checked in at `openapi/openapi.json`; a test
//! fails when that file is stale (`UPDATE_OPENAPI=1 cargo test openapi` rewrites it).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{candidates, recruiting_requests, reference};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Partner token from POST /oauth2/token (client_credentials); scopes are listed per route"))
                    .build(),
            ),
        );
    }
}

/// The responses and headers every partner route shares, added to each operation here rather than
/// repeated in each annotation (so a new route cannot forget one). Descriptions a route already gives
/// are kept; every error response gets the `Problem` schema.
struct CommonResponses;

const PROBLEM_RESPONSES: &[(&str, &str)] = &[
    ("400", "Invalid parameter: `errors[].pointer` names it"),
    ("401", "Missing or invalid token"),
    ("403", "Missing scope"),
    (
        "429",
        "Rate limited (your budget, or the HR system throttling); wait `Retry-After` seconds",
    ),
    ("502", "The HR system failed or refused the gateway"),
    (
        "503",
        "The HR system is unavailable; wait `Retry-After` seconds",
    ),
    ("504", "The HR system did not answer in time"),
];

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{Content, Ref, RefOr, Required, Response};

        let problem = || Content::new(Some(Ref::from_schema_name("Problem")));
        let header = |name: &str, description: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String),
                ))
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let Some(op) = item.get.as_mut() else {
                continue;
            };
            let params = op.parameters.get_or_insert_with(Vec::new);
            let has = |params: &Vec<utoipa::openapi::path::Parameter>, n: &str| {
                params.iter().any(|p| p.name.eq_ignore_ascii_case(n))
            };
            let pages = has(params, "cursor");
            if !has(params, "Accept-Language") {
                params.push(header("Accept-Language", "en-US (default) or nb-NO"));
            }
            if !has(params, "If-None-Match") {
                params.push(header(
                    "If-None-Match",
                    "An ETag from an earlier answer: 304 when the body is unchanged",
                ));
            }
            let mut errors: Vec<(&str, &str)> = PROBLEM_RESPONSES.to_vec();
            if path.contains('{') {
                errors.push(("404", "Not found, or not visible to this partner"));
            }
            if pages {
                errors.push(("410", "The cursor has expired: restart the listing"));
            }
            let responses = &mut op.responses.responses;
            responses
                .entry("304".to_string())
                .or_insert_with(|| RefOr::T(Response::new("Not modified (If-None-Match)")));
            for (status, description) in errors {
                let entry = responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::T(Response::new(description)));
                if let RefOr::T(r) = entry {
                    r.content.clear();
                    r.content
                        .insert(crate::problem::PROBLEM_JSON.to_string(), problem());
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "ats-gateway partner API", version = "1", description = "Clean REST over the Dynamics 365 HR ATS integration API. Errors are RFC 9457 problem+json; lists are cursor-paged."),
    paths(
        recruiting_requests::list,
        recruiting_requests::get,
        candidates::list,
        candidates::get,
        reference::list_option_sets,
        reference::get_option_set,
        reference::get_lookup_list,
        crate::auth::token_endpoint::token,
    ),
    components(schemas(
        crate::model::recruiting_request::RecruitingRequest,
        crate::model::recruiting_request::Position,
        crate::model::recruiting_request::Skill,
        crate::model::recruiting_request::Education,
        crate::model::recruiting_request::Location,
        crate::model::recruiting_request::Compensation,
        crate::resolve::lookups::LookupRef,
        crate::resolve::options::OptionValue,
        reference::OptionSet,
        recruiting_requests::RecruitingRequestPage,
        crate::model::candidate::Candidate,
        crate::model::candidate::Person,
        crate::model::candidate::PersonEducation,
        crate::model::candidate::PersonExperience,
        crate::model::candidate::PersonAddress,
        crate::model::candidate::PersonContact,
        crate::model::candidate::PersonSkill,
        crate::model::candidate::PersonCertificate,
        crate::model::candidate::PersonScreening,
        crate::model::candidate::PersonIdentification,
        candidates::CandidatePage,
        crate::problem::Problem,
        crate::problem::FieldError,
        crate::auth::token_endpoint::TokenRequest,
        crate::auth::token_endpoint::TokenResponse,
        crate::auth::token_endpoint::TokenError,
    )),
    modifiers(&BearerAuth, &CommonResponses),
    tags((name = "recruiting-requests"), (name = "candidates"), (name = "reference"), (name = "auth"))
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn document_json() -> String {
    document().to_pretty_json().unwrap_or_else(|_| "{}".into())
}

/// A self-contained docs page (no CDN: it must work offline) that lists the routes from /openapi.json.
pub const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ats-gateway API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .2rem}.op{border:1px solid #ddd;border-radius:6px;margin:.6rem 0;padding:.6rem}
.m{font-weight:bold;text-transform:uppercase;margin-right:.5rem}</style></head>
<body><h1>ats-gateway partner API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a>.
Errors: <a href="/problems/invalid-parameter">/problems/…</a>.</p><div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r=>r.json()).then(doc=>{const el=document.getElementById('ops');el.innerHTML='';
for(const [path,item] of Object.entries(doc.paths)){for(const [m,op] of Object.entries(item)){
const d=document.createElement('div');d.className='op';
const scopes=(op.security||[]).flatMap(s=>Object.values(s).flat()).join(', ');
const params=(op.parameters||[]).map(p=>`<li><code>${p.name}</code> (${p.in}) ${p.description||''}</li>`).join('');
d.innerHTML=`<div><span class="m">${m}</span><code>${path}</code></div><p>${op.summary||op.description||''}</p>`+
(scopes?`<p>Scope: <code>${scopes}</code></p>`:'')+(params?`<ul>${params}</ul>`:'');el.appendChild(d);}}});
</script></body></html>"#;
