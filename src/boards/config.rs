//! `[[boards]]`: one public job board per entry (its id is the token in its URLs).

use serde::{Deserialize, Serialize};

use crate::resolve::lang::Lang;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BoardConfig {
    /// The public token in URLs (`contoso-careers`): lowercase letters, digits and `-`.
    pub id: String,
    /// The board's heading.
    pub name: String,
    /// Company codes whose active recruiting requests the board shows (at least one).
    pub companies: Vec<String>,
    /// Page languages offered (`en-US`, `nb-NO`); the first is the default.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// Whether the compensation range is shown.
    #[serde(default)]
    pub pay_transparency: bool,
    /// ISO 4217 code of the compensation amounts (HR keeps none per request).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Where candidates apply (the partner ATS): `{number}` and `{id}` are replaced.
    pub apply_url: String,
    pub hiring_organization: HiringOrganization,
    /// Origins a browser may read the board from; `*` (the default) is any origin. Never with
    /// credentials.
    #[serde(default = "any_origin")]
    pub cors_origins: Vec<String>,
    /// Requests per minute one client address may make to this board (then 429).
    #[serde(default = "default_rate")]
    pub rate_limit_per_minute: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HiringOrganization {
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub logo_url: Option<String>,
}

fn default_languages() -> Vec<String> {
    vec!["en-US".into()]
}
fn default_currency() -> String {
    "USD".into()
}
fn any_origin() -> Vec<String> {
    vec!["*".into()]
}
fn default_rate() -> u32 {
    1_200
}

/// `o` exactly as a browser sends it in `Origin`: `scheme://host[:port]` (http or https), the
/// host lower-case, no default port, no path (a trailing `/` is taken off before, here and when
/// matching).
fn is_origin(o: &str) -> bool {
    url::Url::parse(o).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some()
            && u.origin().ascii_serialization() == o
    })
}

fn http_url(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.has_host())
}

impl BoardConfig {
    /// The first problem with this board, as `(key, problem)`.
    pub fn problem(&self) -> Option<(String, String)> {
        let key = |k: &str| format!("boards.{}.{k}", self.id);
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return Some((
                "boards.id".into(),
                format!("`{}`: 1 to 64 lowercase letters, digits and `-`", self.id),
            ));
        }
        if self.name.trim().is_empty() {
            return Some((key("name"), "is required".into()));
        }
        if self.companies.is_empty() || self.companies.iter().any(|c| c.trim().is_empty()) {
            return Some((key("companies"), "at least one company code".into()));
        }
        if self.languages.is_empty() {
            return Some((key("languages"), "at least one language".into()));
        }
        if let Some(l) = self.languages.iter().find(|l| Lang::from_tag(l).is_none()) {
            return Some((key("languages"), format!("`{l}`: en-US or nb-NO")));
        }
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Some((key("currency"), "an ISO 4217 code such as USD".into()));
        }
        let probe = self.apply_url.replace("{number}", "x").replace("{id}", "x");
        if !http_url(&probe) {
            return Some((key("apply_url"), "an http(s) URL template".into()));
        }
        if self.hiring_organization.name.trim().is_empty() {
            return Some((key("hiring_organization.name"), "is required".into()));
        }
        for (k, u) in [
            ("hiring_organization.url", &self.hiring_organization.url),
            (
                "hiring_organization.logo_url",
                &self.hiring_organization.logo_url,
            ),
        ] {
            if u.as_deref().is_some_and(|u| !http_url(u)) {
                return Some((key(k), "an http(s) URL".into()));
            }
        }
        // Compared with a browser's `Origin` as written: lower-case host, no default port, no
        // path. Anything else could never match, so it is refused rather than ignored.
        if let Some(o) = self
            .cors_origins
            .iter()
            .find(|o| *o != "*" && !is_origin(o.trim_end_matches('/')))
        {
            return Some((
                key("cors_origins"),
                format!(
                    "`{o}` is not an origin: `*` or origins such as https://careers.example.com"
                ),
            ));
        }
        if self.rate_limit_per_minute == 0 {
            return Some((key("rate_limit_per_minute"), "must be at least 1".into()));
        }
        None
    }

    /// The board's languages, the default first.
    pub fn langs(&self) -> Vec<Lang> {
        let mut out: Vec<Lang> = Vec::new();
        for l in self.languages.iter().filter_map(|l| Lang::from_tag(l)) {
            if !out.contains(&l) {
                out.push(l);
            }
        }
        out
    }

    pub fn has_company(&self, code: &str) -> bool {
        self.companies.iter().any(|c| c.eq_ignore_ascii_case(code))
    }
}

/// Every board's problems; ids must be unique.
pub fn validate(boards: &[BoardConfig]) -> Result<(), (String, String)> {
    for (i, b) in boards.iter().enumerate() {
        if let Some(p) = b.problem() {
            return Err(p);
        }
        if boards[..i].iter().any(|o| o.id == b.id) {
            return Err(("boards.id".into(), format!("`{}` is used twice", b.id)));
        }
    }
    Ok(())
}

/// The sandbox's two demo boards: Contoso USA with pay transparency, Contoso Norge in Norwegian.
pub fn demo() -> Vec<BoardConfig> {
    let org = |name: &str, url: &str| HiringOrganization {
        name: name.into(),
        url: Some(url.into()),
        logo_url: None,
    };
    vec![
        BoardConfig {
            id: "contoso-careers".into(),
            name: "Careers at Contoso USA".into(),
            companies: vec!["usmf".into()],
            languages: vec!["en-US".into(), "nb-NO".into()],
            pay_transparency: true,
            currency: "USD".into(),
            apply_url: "https://ats.example.com/apply?request={number}".into(),
            hiring_organization: org(
                "Contoso Entertainment System USA",
                "https://www.contoso.com",
            ),
            cors_origins: any_origin(),
            rate_limit_per_minute: default_rate(),
        },
        BoardConfig {
            id: "contoso-norge".into(),
            name: "Ledige stillinger i Contoso Norge".into(),
            companies: vec!["nomf".into()],
            languages: vec!["nb-NO".into(), "en-US".into()],
            pay_transparency: false,
            currency: "NOK".into(),
            apply_url: "https://ats.example.com/apply?request={number}".into(),
            hiring_organization: org("Contoso Norge AS", "https://www.contoso.no"),
            cors_origins: any_origin(),
            rate_limit_per_minute: default_rate(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_and_the_demo_boards_are_valid() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let cfg = crate::config::Config::load(Some(&path)).expect("config.example.toml loads");
        assert_eq!(cfg.boards.len(), 1);
        validate(&cfg.boards).expect("example board valid");
        validate(&demo()).expect("demo boards valid");
        assert_eq!(demo()[1].langs(), [Lang::NbNo, Lang::EnUs]);
    }

    #[test]
    fn problems_name_the_key() {
        let mut b = demo().remove(0);
        b.apply_url = "ftp://x/{number}".into();
        assert_eq!(
            b.problem().map(|p| p.0).as_deref(),
            Some("boards.contoso-careers.apply_url")
        );
        let mut b = demo().remove(0);
        b.id = "Not OK".into();
        assert_eq!(b.problem().map(|p| p.0).as_deref(), Some("boards.id"));
        let mut b = demo().remove(0);
        b.languages = vec!["de-DE".into()];
        assert!(b.problem().is_some_and(|p| p.1.contains("de-DE")));
        let twice = vec![demo().remove(0), demo().remove(0)];
        assert!(validate(&twice).is_err());
        for never_matches in [
            "https://Careers.example.com",
            "https://careers.example.com/jobs",
            "https://careers.example.com:443",
            "ftp://careers.example.com",
        ] {
            let mut b = demo().remove(0);
            b.cors_origins = vec![never_matches.into()];
            assert!(
                b.problem()
                    .is_some_and(|p| p.0 == "boards.contoso-careers.cors_origins"
                        && p.1.contains(never_matches)),
                "{never_matches}"
            );
        }
        let mut b = demo().remove(0);
        b.cors_origins = vec![
            "https://careers.example.com".into(),
            "https://careers.example.com/".into(),
            "http://localhost:8080".into(),
        ];
        assert_eq!(b.problem(), None);
    }
}
