//! The OpenAPI 3.1 document: generated from the routes as they are registered (`utoipa-axum`: the
//! router and the document come from one declaration per route, see `api::routes`), completed here
//! with what every partner route shares (problem responses with examples, headers, security
//! schemes, servers, tags). Checked in at `openapi/openapi.json`; a test fails when that file is
//! stale (`UPDATE_OPENAPI=1 cargo test --test it openapi::` rewrites it).

use std::sync::LazyLock;

use serde_json::{json, Value};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{Content, Ref, RefOr, Required, Response};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::state::App;
use crate::auth::Scope;
use crate::problem::{types, ProblemType, PROBLEM_JSON};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ats-gateway partner API",
        version = "1",
        description = "Clean REST over the Dynamics 365 Human Resources ATS integration API: JSON with names and labels instead of GUIDs and option-set integers.\n\n\
Get a token with `POST /oauth2/token` (client credentials), send it as `Authorization: Bearer <token>`. \
Lists are cursor-paged (`next_cursor`). Errors are RFC 9457 `application/problem+json` whose `type` links a page explaining the fix. \
Labels follow `Accept-Language` (`en-US`, `nb-NO`). Every partner response carries `X-Request-Id` and rate-limit headers. \
A W3C `traceparent` (and `tracestate`) you send is continued (an invalid one is ignored and a new trace started); `traceresponse` names the trace.",
        license(name = "MIT", identifier = "MIT"),
    ),
    // What parameters refer to by name (response bodies bring their own schemas).
    components(schemas(
        crate::problem::Problem,
        crate::problem::FieldError,
        super::recruiting_requests::RecruitingRequestStatusKey,
        super::recruiting_requests::Sort,
        super::recruiting_requests::ExpandItem,
        super::candidates::CandidateStatusKey,
        super::reference::OptionSetName,
        super::reference::ReferenceListName,
        super::changes::ChangesStart,
    )),
)]
struct ApiDoc;

/// The document as served and checked in.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = OpenApiRouter::<App>::with_openapi(ApiDoc::openapi())
        .merge(super::routes())
        .merge(crate::auth::routes())
        .split_for_parts();
    complete(&mut doc);
    doc
}

static JSON: LazyLock<String> =
    LazyLock::new(|| document().to_pretty_json().unwrap_or_else(|_| "{}".into()));

pub fn document_json() -> String {
    JSON.clone()
}

fn complete(doc: &mut utoipa::openapi::OpenApi) {
    SecuritySchemes.modify(doc);
    CommonResponses.modify(doc);
    Links.modify(doc);
    doc.servers = Some(vec![
        ServerBuilder::new()
            .url("/")
            .description(Some("This gateway (the origin serving this document)"))
            .build(),
        ServerBuilder::new()
            .url("http://127.0.0.1:8080")
            .description(Some("The local sandbox (`ats-gateway sandbox`)"))
            .build(),
    ]);
    let tag = |name: &str, description: &str| {
        TagBuilder::new()
            .name(name)
            .description(Some(description))
            .build()
    };
    doc.tags = Some(vec![
        tag("recruiting-requests", "Open and past recruiting requests (job openings) with positions, skills, education and location."),
        tag("candidates", "Applicants of recruiting requests, with their person; personal fields only with `pii:read`."),
        tag("changes", "What changed in HR (recruiting requests, candidates), oldest first, from a cursor; filtered by your companies and PII right."),
        tag("reference", "Option sets (stable keys and labels) and lookup lists that the other resources refer to."),
        tag("webhooks", "Signed pushes (Standard Webhooks) of the events the gateway detects in HR, with a delivery log, redelivery and re-enabling."),
        tag("auth", "Partner tokens (OAuth 2.0 client credentials) and the authorization server metadata."),
    ]);
}

/// A link's name, its target operationId, and the target's parameters as runtime expressions.
type LinkTo = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Where an answer's ids lead: (path, method, status) → (link name, target operationId, its
/// parameters as OpenAPI runtime expressions). Clients and API tools (Swagger UI, schemathesis'
/// stateful phase) follow them from a created or listed resource to the routes that take its id.
const LINKS: &[(&str, &str, &str, &[LinkTo])] = &[
    (
        "/v1/candidates",
        "post",
        "201",
        &[(
            "GetCandidate",
            "getCandidate",
            &[("id", "$response.body#/id")],
        )],
    ),
    (
        "/v1/option-sets",
        "get",
        "200",
        &[(
            "GetFirstOptionSet",
            "getOptionSet",
            &[("name", "$response.body#/data/0/name")],
        )],
    ),
    (
        "/v1/webhooks",
        "post",
        "201",
        &[
            ("GetWebhook", "getWebhook", &[("id", "$response.body#/id")]),
            (
                "TestWebhook",
                "testWebhook",
                &[("id", "$response.body#/id")],
            ),
            (
                "EnableWebhook",
                "enableWebhook",
                &[("id", "$response.body#/id")],
            ),
            (
                "RotateWebhookSecret",
                "rotateWebhookSecret",
                &[("id", "$response.body#/id")],
            ),
            (
                "ListWebhookDeliveries",
                "listWebhookDeliveries",
                &[("id", "$response.body#/id")],
            ),
            (
                "DeleteWebhook",
                "deleteWebhook",
                &[("id", "$response.body#/id")],
            ),
        ],
    ),
    (
        "/v1/webhooks/{id}/test",
        "post",
        "200",
        &[(
            "ListTestEventDeliveries",
            "listWebhookDeliveries",
            &[
                ("id", "$request.path.id"),
                ("event_id", "$response.body#/event_id"),
            ],
        )],
    ),
];

struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::link::LinkBuilder;
        for (path, method, status, links) in LINKS {
            let Some(item) = openapi.paths.paths.get_mut(*path) else {
                continue;
            };
            let op = match *method {
                "get" => item.get.as_mut(),
                "post" => item.post.as_mut(),
                _ => None,
            };
            let Some(RefOr::T(response)) =
                op.and_then(|op| op.responses.responses.get_mut(*status))
            else {
                continue;
            };
            for (name, target, params) in *links {
                let link = params
                    .iter()
                    .fold(LinkBuilder::new().operation_id(*target), |l, (k, v)| {
                        l.parameter(*k, *v)
                    })
                    .build();
                response.links.insert((*name).into(), RefOr::T(link));
            }
        }
    }
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A partner token from POST /oauth2/token, or a token of a configured external issuer; each route lists the scope it needs"))
                    .build(),
            ),
        );
        let scopes = Scopes::from_iter(
            Scope::ALL
                .iter()
                .map(|s| (s.as_str().to_string(), s.description().to_string())),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::ClientCredentials(ClientCredentials::new(
                    "/oauth2/token",
                    scopes,
                ))],
                "Client credentials: your client_id and client_secret at /oauth2/token (metadata: /.well-known/oauth-authorization-server)",
            )),
        );
        // The token endpoint is how a token is obtained: no security requirement.
        if let Some(op) = openapi
            .paths
            .paths
            .get_mut("/oauth2/token")
            .and_then(|i| i.post.as_mut())
        {
            op.security = Some(vec![]);
        }
    }
}

/// The problem responses every partner route can give (status, description); 404 and 410 are
/// added where they apply.
const PROBLEM_RESPONSES: &[(&str, &str)] = &[
    (
        "400",
        "Invalid parameter (unknown, repeated, empty or out of range): `errors[].pointer` names it",
    ),
    ("401", "Missing or invalid token"),
    (
        "403",
        "The token lacks the route's scope, or the browser origin is not allowed for this client",
    ),
    ("406", "The `Accept` header excludes JSON"),
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

fn string_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
}

fn header(
    description: &str,
    schema: ObjectBuilder,
    example: Value,
) -> RefOr<utoipa::openapi::header::Header> {
    RefOr::T(
        HeaderBuilder::new()
            .schema(Some(schema))
            .description(Some(description))
            .example(Some(example))
            .build(),
    )
}

/// Headers on every partner response.
fn common_headers(r: &mut Response) {
    let h = &mut r.headers;
    h.insert(
        "X-Request-Id".into(),
        header(
            "The request's id (yours if you sent a valid one): quote it when reporting a problem",
            string_schema(),
            json!("6f1c2d4e-8a9b-4c3d-9e2f-1a2b3c4d5e6f"),
        ),
    );
    h.insert(
        "traceresponse".into(),
        header(
            "The W3C trace of the request (yours if you sent a valid `traceparent`) and the gateway's span in it: `00-<trace-id>-<span-id>-<flags>`",
            string_schema(),
            json!("00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"),
        ),
    );
    h.insert(
        "RateLimit-Policy".into(),
        header("Your quota (IETF httpapi-ratelimit-headers): `\"partner\";q=<burst>;w=<seconds to refill>`", string_schema(), json!("\"partner\";q=100;w=2")),
    );
    h.insert(
        "RateLimit".into(),
        header(
            "What is left of it: `\"partner\";r=<remaining>;t=<seconds until full>`",
            string_schema(),
            json!("\"partner\";r=99;t=1"),
        ),
    );
    h.insert(
        "RateLimit-Limit".into(),
        header(
            "Requests allowed in a burst (earlier draft's field)",
            integer_schema(),
            json!(100),
        ),
    );
    h.insert(
        "RateLimit-Remaining".into(),
        header(
            "Requests left in the burst (earlier draft's field)",
            integer_schema(),
            json!(99),
        ),
    );
    h.insert(
        "RateLimit-Reset".into(),
        header(
            "Seconds until the burst is full again (earlier draft's field)",
            integer_schema(),
            json!(1),
        ),
    );
}

/// `pages`: the answer is a page of a list.
fn success_headers(r: &mut Response, pages: bool) {
    let description = if pages {
        "Weak validator of the page (its body carries a fresh cursor): send it as `If-None-Match`"
    } else {
        "Weak validator of the body (one for its identity, gzip and br codings): send it as `If-None-Match`"
    };
    r.headers.insert(
        "ETag".into(),
        header(
            description,
            string_schema(),
            json!("W/\"q1w2e3r4t5y6u7i8o9p0aa\""),
        ),
    );
    r.headers.insert(
        "Content-Language".into(),
        header(
            "The language of the labels",
            string_schema(),
            json!("en-US"),
        ),
    );
}

/// Problem types only one route gives, documented on that route: not examples for every route.
const ROUTE_OWN_PROBLEMS: &[&str] = &[
    "webhook-sends-busy",
    "hire-outcome-pending",
    "hire-needs-operator",
];

fn problem_examples(status: &str) -> Vec<(&'static str, Value)> {
    types::ALL
        .iter()
        .filter(|t| t.status.as_str() == status && !ROUTE_OWN_PROBLEMS.contains(&t.slug))
        .map(|t: &&ProblemType| (t.slug, problem_example(t)))
        .collect()
}

fn problem_example(t: &ProblemType) -> Value {
    let mut v = json!({
        "type": format!("https://gateway.example.com/problems/{}", t.slug),
        "title": t.title,
        "status": t.status.as_u16(),
        "detail": example_detail(t.slug),
        "instance": "/v1/recruiting-requests",
        "request_id": "6f1c2d4e-8a9b-4c3d-9e2f-1a2b3c4d5e6f",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    });
    if t.slug == "invalid-parameter" {
        v["errors"] = json!([{"pointer": "#/page_size", "detail": "must be between 1 and 200"}]);
    }
    v
}

fn example_detail(slug: &str) -> &'static str {
    match slug {
        "invalid-parameter" => "page_size must be between 1 and 200",
        "bad-request" => "the cursor is not valid for this listing",
        "unauthorized" => "the access token is invalid or expired",
        "missing-scope" => "this route needs the scope `recruiting-requests:read`, which your token does not carry",
        "origin-not-allowed" => "this origin is not allowed for this client",
        "company-not-allowed" => "company `nomf` is not one of your companies (gbsi, usmf)",
        "not-found" => "no recruiting request with this id",
        "not-acceptable" => "this route answers application/json",
        "cursor-expired" => "the cursor has expired; restart the listing without a cursor",
        "rate-limited" => "rate limit exceeded; retry after 1 s",
        "upstream-throttled" => "the HR system is throttling requests; retry after 5 s",
        "upstream-misconfigured" => "the HR system refused the gateway's credentials or permissions; the operator has been told (`ats-gateway doctor` and the gateway's log name the cause)",
        "upstream-failed" => "the HR system answered with an error; retry later, and report the request_id if it persists",
        "upstream-unavailable" => "the HR system is unavailable; retry later",
        "upstream-timeout" => "the HR system did not answer in time; retry later",
        "request-timeout" => "the request body did not all arrive in time",
        "unsupported-media-type" => "this route takes JSON, not `text/plain`; send the body as Content-Type: application/json",
        "state-unavailable" => "the gateway's state store is unavailable or did not answer in time; retry later. A change this request asked for may or may not have been made: check before repeating it",
        _ => "see the type's page",
    }
}

/// The responses and headers every partner route shares, added to each operation here rather than
/// repeated in each annotation (so a new route cannot forget one).
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/v1/") {
                continue;
            }
            for op in [
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                complete_write(path, op);
            }
            let Some(op) = item.get.as_mut() else {
                continue;
            };
            complete_operation(path, op);
        }
    }
}

fn request_header(
    name: &str,
    description: &str,
    example: &str,
) -> RefOr<utoipa::openapi::path::Parameter> {
    RefOr::T(
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(description))
            .schema(Some(string_schema()))
            .example(Some(json!(example)))
            .build(),
    )
}

/// The problem answers every partner route can give, on operations other than GET: added where the
/// operation does not document that status itself (no ETag or language: they change things; the
/// upstream statuses only where the operation says it calls HR). What it documents itself gets the
/// headers every answer carries, and its 429 the rate limit's example next to its own.
fn complete_write(path: &str, op: &mut Operation) {
    for (status, r) in op.responses.responses.iter_mut() {
        let RefOr::T(r) = r else { continue };
        add_common_headers(r);
        if status == "503" {
            r.headers.entry("Retry-After".into()).or_insert_with(|| {
                header(
                    "Seconds to wait before retrying",
                    integer_schema(),
                    json!(5),
                )
            });
            // A route whose 503 shows no problem of its own: the state store's (the one 503 a
            // write route's own code gives besides HR's).
            if let Some(RefOr::T(content)) = r.content.get_mut(PROBLEM_JSON) {
                if content.example.is_none() && content.examples.is_empty() {
                    if let Some(t) = types::by_slug("state-unavailable") {
                        content.example = Some(problem_example(t));
                    }
                }
            }
        }
        if status == "429" {
            if let Some(RefOr::T(content)) = r.content.get_mut(PROBLEM_JSON) {
                add_rate_limited_example(content);
            }
        }
    }
    let mut errors: Vec<(&str, &str)> = PROBLEM_RESPONSES
        .iter()
        .copied()
        .filter(|(s, _)| !s.starts_with('5'))
        .collect();
    if path.contains('{') {
        errors.push(("404", "Not found, or not visible to this partner"));
    }
    // What reading a JSON body can answer (`json_body.rs`, `problem/body.rs`).
    if op.request_body.is_some() {
        errors.push((
            "408",
            "The body did not all arrive within the gateway's bound (`request-timeout`); the connection is closed",
        ));
        errors.push((
            "415",
            "The body is not sent as `Content-Type: application/json` (`unsupported-media-type`)",
        ));
    }
    let responses = &mut op.responses.responses;
    for (status, description) in errors {
        if responses.contains_key(status) {
            continue;
        }
        let mut r = Response::new(description);
        r.content.insert(
            PROBLEM_JSON.to_string(),
            RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))),
        );
        common_headers(&mut r);
        responses.insert(status.to_string(), RefOr::T(r));
    }
}

/// The headers every answer carries, added to one a route documents (its own headers kept).
fn add_common_headers(r: &mut Response) {
    let mut common = Response::new("");
    common_headers(&mut common);
    for (name, h) in common.headers {
        r.headers.entry(name).or_insert(h);
    }
}

/// A route's own 429 can also be the partner's rate limit: its example joins the route's (an
/// `example` becomes one of `examples`, named by its problem type).
fn add_rate_limited_example(content: &mut Content) {
    let example = |slug: &str, value: Value| {
        RefOr::T(
            utoipa::openapi::example::ExampleBuilder::new()
                .summary(types::by_slug(slug).map_or("", |t| t.title))
                .value(Some(value))
                .build(),
        )
    };
    if let Some(own) = content.example.take() {
        let slug = own["type"]
            .as_str()
            .and_then(|t| t.rsplit('/').next())
            .unwrap_or("example")
            .to_string();
        let own = example(&slug, own);
        content.examples.insert(slug, own);
    }
    if let Some(t) = types::by_slug("rate-limited") {
        content
            .examples
            .entry(t.slug.to_string())
            .or_insert_with(|| example(t.slug, problem_example(t)));
    }
}

fn complete_operation(path: &str, op: &mut Operation) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    let pages = params
        .iter()
        .any(|p| matches!(p, RefOr::T(p) if p.name == "cursor"));
    params.push(request_header(
        "Accept-Language",
        "Language of labels: en-US (default) or nb-NO",
        "nb-NO",
    ));
    params.push(request_header(
        "If-None-Match",
        "An ETag from an earlier answer: 304 when unchanged",
        "W/\"q1w2e3r4t5y6u7i8o9p0aa\"",
    ));
    let mut errors: Vec<(&str, &str)> = PROBLEM_RESPONSES.to_vec();
    if path.contains('{') {
        errors.push(("404", "Not found, or not visible to this partner"));
    }
    if pages {
        errors.push((
            "400",
            "Invalid parameter, or a cursor that is not valid for this listing",
        ));
        errors.push(if path == "/v1/changes" {
            (
                "410",
                "Events after the cursor are past retention, or the cursor is ahead of the feed (the state store was restored or replaced): take `start=latest`, re-read the lists, continue from it",
            )
        } else {
            ("410", "The cursor has expired: restart the listing")
        });
    }
    let responses = &mut op.responses.responses;
    // A problem status the route documents itself keeps its description (a state store route's
    // 503 says what it means there); examples and headers are the shared ones.
    let own: std::collections::BTreeMap<String, String> = responses
        .iter()
        .filter_map(|(status, r)| match r {
            RefOr::T(r) if !r.description.is_empty() => {
                Some((status.clone(), r.description.clone()))
            }
            _ => None,
        })
        .collect();
    for r in responses.values_mut() {
        if let RefOr::T(r) = r {
            add_common_headers(r);
        }
    }
    if let Some(RefOr::T(ok)) = responses.get_mut("200") {
        success_headers(ok, pages);
    }
    let mut not_modified = Response::new("Not modified: the `If-None-Match` ETag still matches");
    common_headers(&mut not_modified);
    success_headers(&mut not_modified, pages);
    responses.insert("304".into(), RefOr::T(not_modified));
    for (status, description) in errors {
        let mut r = Response::new(own.get(status).map_or(description, String::as_str));
        let mut content = Content::new(Some(Ref::from_schema_name("Problem")));
        for (name, value) in problem_examples(status) {
            content.examples.insert(
                name.to_string(),
                RefOr::T(
                    utoipa::openapi::example::ExampleBuilder::new()
                        .summary(types::by_slug(name).map_or("", |t| t.title))
                        .value(Some(value))
                        .build(),
                ),
            );
        }
        r.content
            .insert(PROBLEM_JSON.to_string(), RefOr::T(content));
        common_headers(&mut r);
        if matches!(status, "429" | "503") {
            r.headers.insert(
                "Retry-After".into(),
                header(
                    "Seconds to wait before retrying",
                    integer_schema(),
                    json!(1),
                ),
            );
        }
        if status == "401" {
            r.headers.insert(
                "WWW-Authenticate".into(),
                header("The Bearer challenge (RFC 6750)", string_schema(), json!("Bearer realm=\"ats-gateway\", error=\"invalid_token\", error_description=\"the access token is invalid or expired\"")),
            );
        }
        responses.insert(status.to_string(), RefOr::T(r));
    }
}
