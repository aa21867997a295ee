//! Response cache keys: a SHA-256 over everything that shapes a response, built after the partner's
//! rights are applied. Two partners share an entry only when every input is the same: route,
//! parameters, companies, PII right, language and what the page continues from. The partner's
//! identity itself is not an input: equal shaping gives equal bodies.

use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::resolve::lang::Lang;

/// A response cache key (a digest: the inputs, which may hold partner text, are not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

/// Feeds the inputs of a key; each is length-prefixed and named, so no two input lists collide.
pub struct KeyBuilder(Sha256);

impl KeyBuilder {
    /// A key for responses of `route` (its path template).
    pub fn new(route: &str) -> Self {
        let mut b = Self(Sha256::new());
        b.part("route", route.as_bytes());
        b
    }

    fn part(&mut self, name: &str, value: &[u8]) {
        self.0.update((name.len() as u32).to_le_bytes());
        self.0.update(name.as_bytes());
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value);
    }

    pub fn field(mut self, name: &str, value: &str) -> Self {
        self.part(name, value.as_bytes());
        self
    }

    pub fn opt(self, name: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.field(name, v),
            None => self.field("none", name),
        }
    }

    /// Every query parameter but `cursor`, sorted (the order a client writes them in is not shape).
    pub fn query(mut self, raw_query: &str) -> Self {
        let mut params: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes())
            .filter(|(k, _)| k != "cursor")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        params.sort();
        for (k, v) in &params {
            self.part("param", k.as_bytes());
            self.part("value", v.as_bytes());
        }
        self
    }

    /// The rights that shape a response: the companies the upstream read is limited to and
    /// whether personal fields are shown.
    pub fn rights(mut self, principal: &Principal) -> Self {
        self.part("companies", &[]);
        for c in &principal.companies {
            self.part("company", c.as_bytes());
        }
        self.part("pii", &[u8::from(principal.pii)]);
        self
    }

    pub fn lang(self, lang: Lang) -> Self {
        self.field("lang", lang.tag())
    }

    pub fn finish(self) -> CacheKey {
        CacheKey(self.0.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scope;
    use std::collections::BTreeSet;

    fn principal(id: &str, companies: &[&str], pii: bool) -> Principal {
        let scopes: BTreeSet<Scope> = pii.then_some(Scope::PiiRead).into_iter().collect();
        Principal::new(
            id,
            scopes,
            companies.iter().map(|c| c.to_string()).collect(),
            id,
        )
    }

    fn key(p: &Principal, q: &str) -> CacheKey {
        KeyBuilder::new("/v1/x")
            .query(q)
            .rights(p)
            .lang(Lang::EnUs)
            .finish()
    }

    #[test]
    fn equal_shaping_shares_and_any_difference_separates() {
        let a = principal("a", &["usmf"], false);
        let b = principal("b", &["usmf"], false);
        assert_eq!(key(&a, "x=1&y=2"), key(&b, "y=2&x=1&cursor=abc"));
        assert_ne!(key(&a, "x=1"), key(&principal("c", &["usmf"], true), "x=1"));
        assert_ne!(
            key(&a, "x=1"),
            key(&principal("c", &["usmf", "gbsi"], false), "x=1")
        );
        assert_ne!(key(&a, "x=1"), key(&principal("c", &[], false), "x=1"));
        assert_ne!(key(&a, "x=1"), key(&a, "x=2"));
        // Length prefixes: moving text between inputs changes the key.
        assert_ne!(
            KeyBuilder::new("/v1/x").field("a", "bc").finish(),
            KeyBuilder::new("/v1/x").field("ab", "c").finish()
        );
        assert_ne!(
            KeyBuilder::new("/v1/x").opt("link", None).finish(),
            KeyBuilder::new("/v1/x").opt("link", Some("")).finish()
        );
    }
}
