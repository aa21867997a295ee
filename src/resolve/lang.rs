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
        let Some(h) = header else { return Lang::EnUs };
        let mut best: Option<(f32, Lang)> = None;
        for part in h.split(',') {
            let mut it = part.trim().split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "nb" | "no" | "nn" => Some(Lang::NbNo),
                "en" => Some(Lang::EnUs),
                _ => None,
            };
            if let Some(l) = lang {
                if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, l));
                }
            }
        }
        best.map_or(Lang::EnUs, |(_, l)| l)
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
