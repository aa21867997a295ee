//! Parsing of the token request: the form body and the optional HTTP Basic client authentication
//! (RFC 6749 §2.3.1: `urlencode(client_id):urlencode(secret)`, base64).

use super::errors::AadError;
use axum::http::{header, HeaderMap};
use base64::Engine;
use std::collections::HashMap;

pub(super) struct TokenForm {
    params: HashMap<String, String>,
    /// From the body or the Basic header (they must agree when both are sent).
    pub client_id: Option<String>,
    basic_secret: Option<String>,
}

pub(super) enum Credential<'a> {
    None,
    Secret(&'a str),
    Assertion { kind: &'a str, jwt: &'a str },
}

impl TokenForm {
    pub(super) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, AadError> {
        // A body in another media type is not read at all, so Entra reports the first missing parameter.
        let params = if is_form(headers) {
            parse_body(body)?
        } else {
            HashMap::new()
        };
        let basic = basic_credentials(headers)?;
        let body_client = params.get("client_id").cloned();
        let client_id = match (body_client, &basic) {
            (Some(b), Some((h, _))) if !b.eq_ignore_ascii_case(h) => {
                return Err(AadError::invalid_request(
                    "'client_id' in the body differs from the one in the Authorization header",
                ))
            }
            (Some(b), _) => Some(b),
            (None, Some((h, _))) => Some(h.clone()),
            (None, None) => None,
        };
        Ok(Self {
            params,
            client_id,
            basic_secret: basic.map(|(_, s)| s),
        })
    }

    /// A parameter that must be present and non-empty (Entra treats empty as missing).
    pub(super) fn required(&self, name: &str) -> Result<&str, AadError> {
        self.params
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| AadError::missing_parameter(name))
    }

    pub(super) fn credential(&self) -> Result<Credential<'_>, AadError> {
        let body_secret = self.params.get("client_secret").map(String::as_str);
        let secret =
            match (body_secret, self.basic_secret.as_deref()) {
                (Some(_), Some(_)) => return Err(AadError::invalid_request(
                    "the client secret was sent both in the body and in the Authorization header",
                )),
                (s, b) => s.or(b),
            };
        let assertion = self.params.get("client_assertion").map(String::as_str);
        let kind = self.params.get("client_assertion_type").map(String::as_str);
        match (secret, assertion) {
            (Some(_), Some(_)) => Err(AadError::invalid_request(
                "both a client secret and a client assertion were sent",
            )),
            (Some(s), None) => Ok(Credential::Secret(s)),
            (None, Some(jwt)) => {
                let kind =
                    kind.ok_or_else(|| AadError::missing_parameter("client_assertion_type"))?;
                Ok(Credential::Assertion { kind, jwt })
            }
            (None, None) => Ok(Credential::None),
        }
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn parse_body(body: &[u8]) -> Result<HashMap<String, String>, AadError> {
    let mut params = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if v.is_empty() {
            continue;
        }
        if params.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(AadError::duplicated_parameter(&k));
        }
    }
    Ok(params)
}

/// `Authorization: Basic …` → (client_id, secret); no header → None; an unreadable one is an error.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, AadError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        AadError::invalid_request(
            "the Authorization header is not valid HTTP Basic client authentication",
        )
    };
    let text = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> String {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    Ok(Some((unescape(id), unescape(secret))))
}
