//! The demo companies (legal entities) and their salary bands.

use crate::data::names::Locale;

pub(crate) struct CompanyDef {
    pub code: &'static str,
    pub name: &'static str,
    pub guid: &'static str,
    pub locale: Locale,
    /// Multiplier from the USD salary bands to the company's currency.
    pub currency_factor: f64,
    /// Share of recruiting requests (relative weight).
    pub weight: u64,
}

pub(crate) const COMPANIES: &[CompanyDef] = &[
    CompanyDef {
        code: "usmf",
        name: "Contoso Entertainment System USA",
        // The documented sample's `_mshr_dataareaid_id_value` for usmf.
        guid: "e13a8e22-f278-ea11-a811-000d3a17b4eb",
        locale: Locale::Us,
        currency_factor: 1.0,
        weight: 50,
    },
    CompanyDef {
        code: "gbsi",
        name: "Contoso UK",
        guid: "e53a8e22-f278-ea11-a811-000d3a17b4eb",
        locale: Locale::Uk,
        currency_factor: 0.8,
        weight: 25,
    },
    CompanyDef {
        code: "nomf",
        name: "Contoso Norge AS",
        guid: "f13a8e22-f278-ea11-a811-000d3a17b4eb",
        locale: Locale::No,
        currency_factor: 10.5,
        weight: 25,
    },
];

pub(crate) fn company(code: &str) -> Option<&'static CompanyDef> {
    COMPANIES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

/// A compensation level's low threshold in USD; control point and high threshold follow the
/// proportions of the documented G05 sample (70000 / 80000 / 92500).
struct Band {
    level: &'static str,
    low_usd: f64,
}

#[rustfmt::skip]
const BANDS: &[Band] = &[
    Band { level: "G01", low_usd: 28_000.0 },
    Band { level: "G02", low_usd: 35_000.0 },
    Band { level: "G03", low_usd: 45_000.0 },
    Band { level: "G04", low_usd: 56_000.0 },
    Band { level: "G05", low_usd: 70_000.0 },
    Band { level: "G06", low_usd: 84_000.0 },
    Band { level: "G07", low_usd: 100_000.0 },
    Band { level: "G08", low_usd: 122_000.0 },
    Band { level: "G09", low_usd: 150_000.0 },
    Band { level: "G10", low_usd: 185_000.0 },
];

/// (low, control point, high) for a compensation level in a company's currency.
pub(crate) fn comp_band(level: &str, company_code: &str) -> Option<(f64, f64, f64)> {
    let low_usd = BANDS.iter().find(|b| b.level == level)?.low_usd;
    let factor = company(company_code).map_or(1.0, |c| c.currency_factor);
    let round = |x: f64| (x / 500.0).round() * 500.0;
    let low = round(low_usd * factor);
    Some((low, round(low * 80.0 / 70.0), round(low * 92.5 / 70.0)))
}
