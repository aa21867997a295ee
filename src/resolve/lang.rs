//! The caller's language, from `Accept-Language` (en-US fallback).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    EnUs,
    NbNo,
}

impl Lang {
    /// Every supported language, in [`Lang::index`] order.
    pub const ALL: [Lang; 2] = [Lang::EnUs, Lang::NbNo];

    /// Position in [`Lang::ALL`] (per-language tables are arrays).
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::EnUs => "en-US",
            Lang::NbNo => "nb-NO",
        }
    }
    /// Dataverse LCID.
    pub fn lcid(self) -> u32 {
        match self {
            Lang::EnUs => 1033,
            Lang::NbNo => 1044,
        }
    }

    /// Picks the best supported language from an `Accept-Language` value, honouring q-values.
    /// Norwegian (`nb`, `no`, `nn`, with any region) maps to nb-NO.
    pub fn negotiate(header: Option<&str>) -> Lang {
        Lang::negotiate_among(header, &Lang::ALL).unwrap_or(Lang::EnUs)
    }

    /// The language a tag names, if the gateway has it (`en`, `en-US`, `nb`, `nb-NO`, `no`).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag
            .trim()
            .split('-')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "nb" | "no" | "nn" => Some(Lang::NbNo),
            "en" => Some(Lang::EnUs),
            _ => None,
        }
    }

    /// [`Lang::negotiate`] among `allowed` only; `None` when the header names none of them.
    pub fn negotiate_among(header: Option<&str>, allowed: &[Lang]) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.unwrap_or("").split(',') {
            let mut it = part.trim().split(';');
            let tag = it.next().unwrap_or("");
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            if let Some(l) = Lang::from_tag(tag).filter(|l| allowed.contains(l)) {
                if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, l));
                }
            }
        }
        best.map(|(_, l)| l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(Lang::negotiate(None), Lang::EnUs);
        assert_eq!(Lang::negotiate(Some("nb-NO")), Lang::NbNo);
        assert_eq!(Lang::negotiate(Some("no")), Lang::NbNo);
        assert_eq!(
            Lang::negotiate(Some("de-DE, nb;q=0.8, en;q=0.5")),
            Lang::NbNo
        );
        assert_eq!(Lang::negotiate(Some("nb;q=0.2, en-GB;q=0.9")), Lang::EnUs);
        assert_eq!(Lang::negotiate(Some("fr")), Lang::EnUs);
        assert_eq!(Lang::negotiate(Some("nb;q=0")), Lang::EnUs);
    }
}
