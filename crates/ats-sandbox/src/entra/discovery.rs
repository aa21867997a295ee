//! Entra's metadata documents (docs/entra-discovery.md): OpenID Connect discovery (v2.0 and v1), the signing
//! keys, and instance discovery, so Microsoft's client libraries can treat the emulator as an authority.
//! `base` is the scheme and host the client used; endpoints are named under it.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use x509_parser::public_key::PublicKey;

use super::{keys, AadError, Entra};

impl Entra {
    /// `common`, `organizations` and this tenant's id or domain resolve to the tenant id; other names fail
    /// as an unknown tenant (Entra's answer for a tenant it does not have).
    fn resolve_tenant(&self, tenant: &str) -> Result<String, AadError> {
        let lower = tenant.to_ascii_lowercase();
        if lower == "common" || lower == "organizations" || self.config.is_this_tenant(tenant) {
            Ok(self.config.tenant_id.to_string())
        } else {
            Err(AadError::unknown_tenant(tenant))
        }
    }

    /// `/{tenant}/v2.0/.well-known/openid-configuration`.
    pub(crate) fn openid_configuration_v2(
        &self,
        base: &str,
        tenant: &str,
    ) -> Result<Value, AadError> {
        let tid = self.resolve_tenant(tenant)?;
        let t = format!("{base}/{tid}");
        Ok(json!({
            "token_endpoint": format!("{t}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{t}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{t}/v2.0"),
            "request_uri_parameter_supported": false,
            "authorization_endpoint": format!("{t}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{t}/oauth2/v2.0/devicecode"),
            "end_session_endpoint": format!("{t}/oauth2/v2.0/logout"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "claims_supported": CLAIMS,
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
        }))
    }

    /// `/{tenant}/.well-known/openid-configuration` (v1 endpoints; the issuer is the one the emulator's
    /// v1-shaped access tokens carry).
    pub(crate) fn openid_configuration_v1(
        &self,
        base: &str,
        tenant: &str,
    ) -> Result<Value, AadError> {
        let tid = self.resolve_tenant(tenant)?;
        let t = format!("{base}/{tid}");
        Ok(json!({
            "token_endpoint": format!("{t}/oauth2/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{t}/discovery/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid"],
            "issuer": format!("https://sts.windows.net/{tid}/"),
            "authorization_endpoint": format!("{t}/oauth2/authorize"),
            "end_session_endpoint": format!("{t}/oauth2/logout"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "claims_supported": CLAIMS,
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
        }))
    }

    /// `/{tenant}/discovery/v2.0/keys` (and v1 `/discovery/keys`): the key that signs the access tokens, as
    /// a JWK with `kid`/`x5t` equal to the tokens' header and the certificate in `x5c`.
    pub(crate) fn signing_keys(&self, base: &str, tenant: &str) -> Result<Value, AadError> {
        let tid = self.resolve_tenant(tenant)?;
        Ok(json!({ "keys": [signing_jwk(&format!("{base}/{tid}/v2.0"))] }))
    }

    /// `/common/discovery/instance`: the answer Microsoft gives for a known cloud, here for the host the
    /// client used. An `authorization_endpoint` on another host is `invalid_instance`.
    pub(crate) fn instance_discovery(
        &self,
        base: &str,
        authorization_endpoint: Option<&str>,
    ) -> Result<Value, AadError> {
        let host = base.split_once("://").map_or(base, |(_, h)| h);
        let tenant = match authorization_endpoint {
            Some(ep) => {
                let rest = ep
                    .split_once("://")
                    .map(|(_, r)| r)
                    .ok_or_else(|| AadError::invalid_instance(ep))?;
                let (ep_host, path) = rest.split_once('/').unwrap_or((rest, ""));
                if !ep_host.eq_ignore_ascii_case(host) {
                    return Err(AadError::invalid_instance(ep));
                }
                path.split('/').next().unwrap_or("common").to_string()
            }
            None => "common".to_string(),
        };
        let tenant = if tenant.is_empty() {
            "common".into()
        } else {
            tenant
        };
        Ok(json!({
            "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
            "api-version": "1.1",
            "metadata": [{
                "preferred_network": host,
                "preferred_cache": host,
                "aliases": [host],
            }],
        }))
    }
}

const CLAIMS: [&str; 15] = [
    "sub",
    "iss",
    "cloud_instance_name",
    "cloud_instance_host_name",
    "cloud_graph_host_name",
    "msgraph_host",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "acr",
    "nonce",
    "tid",
    "ver",
    "at_hash",
];

/// The token-signing certificate as a JWK. The fixture is compiled in and parsed by `Entra::new` already;
/// should it not parse here, the key set is empty rather than the request failing.
fn signing_jwk(issuer: &str) -> Value {
    let Ok(block) = pem::parse(keys::TOKEN_SIGNING_CERT) else {
        return json!({});
    };
    let der = block.contents();
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return json!({});
    };
    let Ok(PublicKey::RSA(rsa)) = cert.public_key().parsed() else {
        return json!({});
    };
    let strip = |b: &[u8]| -> Vec<u8> {
        let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
        b[start..].to_vec()
    };
    let x5t = {
        use sha1::Digest;
        URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(der))
    };
    json!({
        "kty": "RSA",
        "use": "sig",
        "kid": x5t,
        "x5t": x5t,
        "n": URL_SAFE_NO_PAD.encode(strip(rsa.modulus)),
        "e": URL_SAFE_NO_PAD.encode(strip(rsa.exponent)),
        "x5c": [STANDARD.encode(der)],
        "issuer": issuer,
    })
}
