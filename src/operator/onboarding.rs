//! The invite page on the partner listener: `GET /onboarding/{token}` shows what is granted and
//! reveals and consumes nothing (mail scanners and chat previews fetch links first);
//! `POST /onboarding/{token}` (a plain form: works without JavaScript) consumes the invite,
//! creates the partner or a new secret, and shows the credentials once with a quickstart and a
//! "Test my connection" button. HTML, CSS and script are in the binary; English and Norwegian.

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::Router;
use serde_json::json;

use super::api::{new_secret, PREVIOUS_EXPIRES_IN};
use super::invites::token_hash;
use super::{views, OperatorContext};
use crate::auth::Scope;
use crate::problem::ApiError;
use crate::resolve::lang::Lang;
use crate::store::partners::{AuditRecord, InviteGrant, InviteRecord, PartnerDoc, Refused};
use crate::store::StoreError;

const CSS: &str = include_str!("onboarding.css");
const JS: &str = include_str!("onboarding.js");

/// The page's policy: its own inline style and script, allowed by hash rather than
/// `'unsafe-inline'`, so markup that ever slipped through escaping could not run script on a page
/// that shows a secret.
static CSP: std::sync::LazyLock<axum::http::HeaderValue> = std::sync::LazyLock::new(|| {
    let hash = |text: &str| {
        use base64::Engine;
        let digest = <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    };
    let policy = format!(
        "default-src 'none'; style-src {}; script-src {}; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        hash(CSS),
        hash(JS)
    );
    // Base64 and fixed ASCII: always a valid header value.
    axum::http::HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static("default-src 'none'"))
});

/// Mounted on the partner listener's router (whatever its state).
pub fn router<S: Clone + Send + Sync + 'static>(ctx: OperatorContext) -> Router<S> {
    Router::new()
        .route("/onboarding/{token}", get(show).post(reveal))
        .layer(Extension(ctx))
}

struct Texts {
    title: &'static str,
    intro: &'static str,
    scopes: &'static str,
    companies: &'static str,
    all_companies: &'static str,
    expires: &'static str,
    reveal_note: &'static str,
    reveal: &'static str,
    done_title: &'static str,
    only_once: &'static str,
    client_id: &'static str,
    client_secret: &'static str,
    copy: &'static str,
    copied: &'static str,
    quickstart: &'static str,
    step_token: &'static str,
    step_call: &'static str,
    docs: &'static str,
    test: &'static str,
    running: &'static str,
    status: &'static str,
    failed: &'static str,
    gone_title: &'static str,
    gone: &'static str,
    exists: &'static str,
}

const EN: Texts = Texts {
    title: "Your API access",
    intro: "You have been invited to use the recruiting API as",
    scopes: "What you may do",
    companies: "Companies (legal entities) you may see",
    all_companies: "All companies",
    expires: "This link expires",
    reveal_note: "The button creates your credentials and shows the secret once. Have somewhere safe to keep it (a password manager or secret store).",
    reveal: "Create my credentials",
    done_title: "Your credentials",
    only_once: "This is the only time you will see the secret. Copy it now; it cannot be shown again (ask for a new link if it is lost).",
    client_id: "Client ID",
    client_secret: "Client secret",
    copy: "Copy",
    copied: "Copied",
    quickstart: "Quickstart",
    step_token: "1. Get an access token",
    step_call: "2. Make your first call",
    docs: "API reference and try-it console",
    test: "Test my connection",
    running: "Calling the API…",
    status: "HTTP",
    failed: "The test failed:",
    gone_title: "This link cannot be used",
    gone: "This invite has already been used or has expired, so nothing is shown. Ask your contact for a new link.",
    exists: "A partner with this id exists already. Ask your contact for a new link.",
};

const NB: Texts = Texts {
    title: "Din API-tilgang",
    intro: "Du er invitert til å bruke rekrutterings-API-et som",
    scopes: "Hva du kan gjøre",
    companies: "Selskaper (juridiske enheter) du kan se",
    all_companies: "Alle selskaper",
    expires: "Lenken utløper",
    reveal_note: "Knappen lager påloggingsopplysningene og viser hemmeligheten én gang. Ha et trygt sted å lagre den (en passordbehandler eller et hemmelighetslager).",
    reveal: "Lag påloggingsopplysningene mine",
    done_title: "Dine påloggingsopplysninger",
    only_once: "Dette er den eneste gangen du ser hemmeligheten. Kopier den nå; den kan ikke vises igjen (be om en ny lenke hvis den går tapt).",
    client_id: "Klient-ID",
    client_secret: "Klienthemmelighet",
    copy: "Kopier",
    copied: "Kopiert",
    quickstart: "Kom i gang",
    step_token: "1. Hent et tilgangstoken",
    step_call: "2. Gjør ditt første kall",
    docs: "API-referanse og prøv-selv-konsoll",
    test: "Test tilkoblingen min",
    running: "Kaller API-et …",
    status: "HTTP",
    failed: "Testen feilet:",
    gone_title: "Denne lenken kan ikke brukes",
    gone: "Invitasjonen er allerede brukt eller har utløpt, så ingenting vises. Be kontaktpersonen din om en ny lenke.",
    exists: "En partner med denne ID-en finnes allerede. Be kontaktpersonen din om en ny lenke.",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::NbNo => &NB,
        Lang::EnUs => &EN,
    }
}

fn scope_words(s: Scope, lang: Lang) -> &'static str {
    if lang == Lang::EnUs {
        return s.description();
    }
    match s {
        Scope::RecruitingRequestsRead => "Lese rekrutteringsforespørsler",
        Scope::CandidatesRead => "Lese kandidater (navn; personopplysninger krever pii:read)",
        Scope::CandidatesWrite => "Opprette kandidater (ansettelse)",
        Scope::ReferenceRead => "Lese alternativsett og referanselister",
        Scope::ChangesRead => {
            "Følge endringsstrømmen (hva som åpnet, endret seg eller lukket i HR)"
        }
        Scope::WebhooksManage => "Abonnere på hendelser og styre webhook-leveranser",
        Scope::PiiRead => {
            "Se kandidaters personopplysninger (fødselsdato, kontakter, adresser, ID-er)"
        }
    }
}

use crate::html::esc;

fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::negotiate(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

fn page(status: StatusCode, lang: Lang, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\"><title>{title}</title><style>{CSS}</style></head><body><main>{body}</main><script>{JS}</script></body></html>",
        lang = if lang == Lang::NbNo { "nb" } else { "en" },
        title = esc(title),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::VARY, "Accept-Language"),
        ],
        [(header::CONTENT_SECURITY_POLICY, CSP.clone())],
        // A 404/410 page stays a page (not problem+json): a person reads it.
        axum::Extension(crate::problem::context::OwnErrorBody),
        html,
    )
        .into_response()
}

fn gone(lang: Lang, status: StatusCode, detail: Option<&str>) -> Response {
    let t = texts(lang);
    page(
        status,
        lang,
        t.gone_title,
        &format!(
            "<h1>{}</h1><p>{}</p>",
            esc(t.gone_title),
            esc(detail.unwrap_or(t.gone))
        ),
    )
}

/// The profile the invite grants: a new partner's, or the existing partner's in force.
struct Grant {
    name: String,
    scopes: Vec<Scope>,
    companies: Vec<String>,
}

fn grant_of(ctx: &OperatorContext, invite: &InviteRecord) -> Option<Grant> {
    match &invite.grant {
        InviteGrant::NewPartner(d) => Some(Grant {
            name: d.name.clone(),
            scopes: d.scopes.iter().filter_map(|s| s.parse().ok()).collect(),
            companies: d.companies.clone(),
        }),
        InviteGrant::Partner(id) => ctx.auth.registry().partner(id).map(|p| Grant {
            name: p.display_name.clone(),
            scopes: p.scopes.iter().copied().collect(),
            companies: if p.companies.is_empty() {
                vec!["*".into()]
            } else {
                p.companies.iter().cloned().collect()
            },
        }),
    }
}

fn grant_html(g: &Grant, lang: Lang) -> String {
    let t = texts(lang);
    let scopes: String = g
        .scopes
        .iter()
        .map(|s| {
            format!(
                "<li>{} <code>{}</code></li>",
                esc(scope_words(*s, lang)),
                s.as_str()
            )
        })
        .collect();
    let companies = if g.companies.iter().any(|c| c == "*") {
        esc(t.all_companies)
    } else {
        esc(&g
            .companies
            .iter()
            .map(|c| c.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(", "))
    };
    format!(
        "<h2>{}</h2><ul class=\"scopes\">{scopes}</ul><h2>{}</h2><p>{companies}</p>",
        esc(t.scopes),
        esc(t.companies)
    )
}

/// A state store failure as the store's problem (503 `state-unavailable` while it is away).
fn store_failed(e: StoreError) -> Response {
    tracing::error!(error = %e, "onboarding: state store failed");
    ApiError::from(e).into_response()
}

/// The live invite for `token`, or the page saying it cannot be used (404 unknown, 410 spent).
async fn open_invite(
    ctx: &OperatorContext,
    token: &str,
    lang: Lang,
) -> Result<InviteRecord, Response> {
    let now = chrono::Utc::now().timestamp();
    match ctx.store.invite(&token_hash(token)).await {
        Ok(Some(i)) if i.consumed_at.is_none() && i.expires_at > now => Ok(i),
        Ok(Some(_)) => Err(gone(lang, StatusCode::GONE, None)),
        Ok(None) => Err(gone(lang, StatusCode::NOT_FOUND, None)),
        Err(e) => Err(store_failed(e)),
    }
}

/// `GET`: what the invite grants and the reveal button. Consumes nothing.
pub async fn show(
    Extension(ctx): Extension<OperatorContext>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&headers);
    let t = texts(lang);
    let invite = match open_invite(&ctx, &token, lang).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let Some(g) = grant_of(&ctx, &invite) else {
        return gone(lang, StatusCode::GONE, None);
    };
    let body = format!(
        "<h1>{title}</h1><p>{intro} <strong>{name}</strong>.</p>{grant}<p class=\"muted\">{expires}: {at}</p>\
         <form method=\"post\" action=\"/onboarding/{token}\"><p class=\"warn\">{note}</p><button type=\"submit\" id=\"reveal\">{reveal}</button></form>",
        title = esc(t.title),
        intro = esc(t.intro),
        name = esc(&g.name),
        grant = grant_html(&g, lang),
        expires = esc(t.expires),
        at = views::time(Some(invite.expires_at)).as_str().unwrap_or(""),
        token = esc(&token),
        note = esc(t.reveal_note),
        reveal = esc(t.reveal),
    );
    page(StatusCode::OK, lang, t.title, &body)
}

/// The first list call the partner's scopes allow.
fn first_call(scopes: &[Scope]) -> &'static str {
    let order = [
        (
            Scope::RecruitingRequestsRead,
            "/v1/recruiting-requests?page_size=1",
        ),
        (Scope::CandidatesRead, "/v1/candidates?page_size=1"),
        (Scope::ReferenceRead, "/v1/option-sets"),
        (Scope::ChangesRead, "/v1/changes"),
        (Scope::WebhooksManage, "/v1/webhooks"),
    ];
    order
        .iter()
        .find(|(s, _)| scopes.contains(s))
        .map_or("/v1/option-sets", |(_, p)| p)
}

/// `POST`: consumes the invite (exactly once), creates the partner or a new secret, and shows the
/// credentials this one time.
pub async fn reveal(
    Extension(ctx): Extension<OperatorContext>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&headers);
    let t = texts(lang);
    let invite = match open_invite(&ctx, &token, lang).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let Some(g) = grant_of(&ctx, &invite) else {
        return gone(lang, StatusCode::GONE, None);
    };
    if let InviteGrant::NewPartner(d) = &invite.grant {
        let reg = ctx.auth.registry();
        if reg.partner(&d.id).is_some() || reg.by_client_id(&d.client_id).is_some() {
            return gone(lang, StatusCode::CONFLICT, Some(t.exists));
        }
        // Revoked since the invite was made: refused before the link is spent.
        match ctx.store.id_taken(&d.id, &d.client_id).await {
            Ok(false) => {}
            Ok(true) => return gone(lang, StatusCode::CONFLICT, Some(t.exists)),
            Err(e) => return store_failed(e),
        }
    }
    let now = chrono::Utc::now().timestamp();
    match ctx.store.consume_invite(&invite.token_hash, now).await {
        Ok(true) => {}
        Ok(false) => return gone(lang, StatusCode::GONE, None),
        Err(e) => return store_failed(e),
    }
    let (plain, secret) = new_secret(now);
    let (partner_id, client_id, result) = match &invite.grant {
        InviteGrant::NewPartner(d) => {
            let doc = PartnerDoc {
                created_at: now,
                ..d.clone()
            };
            (
                d.id.clone(),
                d.client_id.clone(),
                ctx.store.insert_partner(&doc, Some(&secret)).await,
            )
        }
        InviteGrant::Partner(id) => {
            let client_id = ctx
                .auth
                .registry()
                .partner(id)
                .map(|p| p.client_id.clone())
                .unwrap_or_default();
            let keep = now + i64::try_from(PREVIOUS_EXPIRES_IN).unwrap_or(0);
            (
                id.clone(),
                client_id,
                ctx.store.add_secret(id, &secret, keep, now).await,
            )
        }
    };
    let (status, failed) = match result {
        Ok(Ok(())) => (StatusCode::OK, None),
        Ok(Err(Refused::Exists)) => (StatusCode::CONFLICT, None),
        Ok(Err(Refused::NotFound)) => (StatusCode::GONE, None),
        Err(e) => {
            tracing::error!(error = %e, "onboarding: state store failed");
            let e = ApiError::from(e);
            (e.problem_type().status, Some(e))
        }
    };
    let record = AuditRecord {
        seq: 0,
        at_ms: chrono::Utc::now().timestamp_millis(),
        actor: format!("invite:{}", invite.token_hash.get(..8).unwrap_or("")),
        action: "POST /onboarding/{token}".into(),
        partner: Some(partner_id.clone()),
        status: status.as_u16(),
        detail: json!({"invited_by": invite.created_by, "secret_id": secret.id}),
    };
    // As the operator guard: after the store was found away, the record is written in the
    // background, so the answer does not wait a second `[state] timeout_ms`.
    let away = failed
        .as_ref()
        .is_some_and(|e| *e.problem_type() == crate::problem::types::STATE_UNAVAILABLE);
    if away {
        ctx.background_audits.spawn(ctx.store.clone(), record);
    } else if let Err(e) = ctx.store.append_audit(&record).await {
        tracing::error!(error = %e, "onboarding audit record not stored");
    }
    if let Some(e) = failed {
        return e.into_response();
    }
    match status {
        StatusCode::CONFLICT => return gone(lang, status, Some(t.exists)),
        StatusCode::GONE => return gone(lang, status, None),
        _ => {}
    }
    if let Err(e) = ctx.refresh().await {
        tracing::warn!(error = %e, "partners not reloaded after onboarding; the sync task will");
    }
    let base = &ctx.partner_url;
    let call = first_call(&g.scopes);
    let curl_token = format!(
        "curl -s {base}/oauth2/token \\\n  -d grant_type=client_credentials \\\n  -d client_id={client_id} \\\n  -d client_secret='{plain}'"
    );
    let curl_call = format!("curl -s -H \"Authorization: Bearer $TOKEN\" '{base}{call}'");
    let body = format!(
        "<h1>{title}</h1><p>{intro} <strong>{name}</strong>.</p>\
         <p class=\"warn\" role=\"alert\">{once}</p>\
         <div class=\"panel\">\
         <label for=\"client-id\">{l_id}</label><div class=\"field\"><input class=\"mono\" id=\"client-id\" readonly value=\"{client_id}\"><button type=\"button\" class=\"secondary\" data-copy=\"client-id\" data-copied=\"{copied}\">{copy}</button></div>\
         <label for=\"client-secret\">{l_secret}</label><div class=\"field\"><input class=\"mono\" id=\"client-secret\" readonly value=\"{secret}\"><button type=\"button\" class=\"secondary\" data-copy=\"client-secret\" data-copied=\"{copied}\">{copy}</button></div>\
         </div>{grant}\
         <h2>{quick}</h2><p>{s1}</p><pre>{curl_token}</pre><p>{s2}</p><pre>{curl_call}</pre>\
         <p><a href=\"{base}/docs\">{docs}</a></p>\
         <p><button type=\"button\" id=\"test\" data-token-url=\"{base}/oauth2/token\" data-call-url=\"{base}{call}\" data-running=\"{running}\" data-status-label=\"{status}\" data-failed=\"{failed}\">{test}</button></p>\
         <div id=\"test-result\" role=\"status\" aria-live=\"polite\"></div>",
        title = esc(t.done_title),
        intro = esc(t.intro),
        name = esc(&g.name),
        once = esc(t.only_once),
        l_id = esc(t.client_id),
        client_id = esc(&client_id),
        l_secret = esc(t.client_secret),
        secret = esc(&plain),
        copy = esc(t.copy),
        copied = esc(t.copied),
        grant = grant_html(&g, lang),
        quick = esc(t.quickstart),
        s1 = esc(t.step_token),
        s2 = esc(t.step_call),
        curl_token = esc(&curl_token),
        curl_call = esc(&curl_call),
        base = esc(base),
        call = esc(call),
        docs = esc(t.docs),
        running = esc(t.running),
        status = esc(t.status),
        failed = esc(t.failed),
        test = esc(t.test),
    );
    page(StatusCode::OK, lang, t.done_title, &body)
}
