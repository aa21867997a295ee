//! Public demo key material for the sandbox only (see `fixtures/README.md` of this crate).

pub(super) const TOKEN_SIGNING_KEY: &str = include_str!("../fixtures/token_signing_key.pem");
pub(super) const TOKEN_SIGNING_CERT: &str = include_str!("../fixtures/token_signing_cert.pem");
pub(super) const DEMO_CLIENT_KEY: &str = include_str!("../fixtures/demo_client_key.pem");
pub(super) const DEMO_CLIENT_CERT: &str = include_str!("../fixtures/demo_client_cert.pem");
pub(super) const OTHER_CLIENT_KEY: &str = include_str!("../fixtures/other_client_key.pem");
pub(super) const OTHER_CLIENT_CERT: &str = include_str!("../fixtures/other_client_cert.pem");
