//! The partner API's scope vocabulary. Scopes travel as strings (`reference:read`) in tokens and
//! config; inside the gateway they are this enum, so a typo is a parse error, not a silent denial.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    RecruitingRequestsRead,
    CandidatesRead,
    CandidatesWrite,
    ReferenceRead,
    ChangesRead,
    WebhooksManage,
    PiiRead,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::RecruitingRequestsRead,
        Scope::CandidatesRead,
        Scope::CandidatesWrite,
        Scope::ReferenceRead,
        Scope::ChangesRead,
        Scope::WebhooksManage,
        Scope::PiiRead,
    ];

    /// What the scope lets a partner do, in words (the OpenAPI oauth2 flow shows it).
    pub fn description(self) -> &'static str {
        match self {
            Scope::RecruitingRequestsRead => "Read recruiting requests",
            Scope::CandidatesRead => "Read candidates (names; personal fields need pii:read)",
            Scope::CandidatesWrite => "Create candidates (hire)",
            Scope::ReferenceRead => "Read option sets and reference lists",
            Scope::ChangesRead => "Follow the changes feed (what opened, changed or closed in HR)",
            Scope::WebhooksManage => "Subscribe to events and manage webhook deliveries",
            Scope::PiiRead => {
                "See candidates' personal fields (birth date, contacts, addresses, ids)"
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::RecruitingRequestsRead => "recruiting-requests:read",
            Scope::CandidatesRead => "candidates:read",
            Scope::CandidatesWrite => "candidates:write",
            Scope::ReferenceRead => "reference:read",
            Scope::ChangesRead => "changes:read",
            Scope::WebhooksManage => "webhooks:manage",
            Scope::PiiRead => "pii:read",
        }
    }

    /// Parses a space-separated scope string (RFC 6749 §3.3); empty tokens are ignored.
    pub fn parse_list(s: &str) -> Result<Vec<Scope>, UnknownScope> {
        s.split(' ')
            .filter(|t| !t.is_empty())
            .map(Scope::from_str)
            .collect()
    }

    /// Joins scopes the way tokens carry them.
    pub fn join<'a>(scopes: impl IntoIterator<Item = &'a Scope>) -> String {
        scopes
            .into_iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_string()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_scope() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
        }
    }

    #[test]
    fn rejects_unknown_and_near_misses() {
        assert!("reference:write".parse::<Scope>().is_err());
        assert!("Reference:Read".parse::<Scope>().is_err());
        assert!(" reference:read".parse::<Scope>().is_err());
        assert!("".parse::<Scope>().is_err());
    }

    #[test]
    fn parses_space_separated_lists() {
        assert_eq!(
            Scope::parse_list("reference:read  pii:read"),
            Ok(vec![Scope::ReferenceRead, Scope::PiiRead])
        );
        assert_eq!(Scope::parse_list(""), Ok(vec![]));
        assert_eq!(
            Scope::parse_list("reference:read admin"),
            Err(UnknownScope("admin".into()))
        );
        assert_eq!(
            Scope::join(&[Scope::ReferenceRead, Scope::PiiRead]),
            "reference:read pii:read"
        );
    }

    #[test]
    fn serde_uses_the_wire_names() {
        let v: Vec<Scope> = serde_json::from_str(r#"["candidates:write"]"#).expect("parse");
        assert_eq!(v, vec![Scope::CandidatesWrite]);
        assert!(serde_json::from_str::<Scope>(r#""root""#).is_err());
    }
}
