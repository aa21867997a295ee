//! The pages people and crawlers read: the board (filters in a GET form, no JavaScript), a job
//! (facts, description, apply link, JSON-LD) and the 404 page. Plain string building with every
//! value escaped; inline CSS, no outside assets; landmarks and labels; readable at 360 px.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::SecondsFormat;

use super::fields::{EmploymentType, PublicJob};
use super::snapshot::Entry;
use super::{jsonld, Board, ListFilter};
use crate::resolve::lang::Lang;

pub use crate::html::esc;

struct Texts {
    open: &'static str,
    none: &'static str,
    search: &'static str,
    department: &'static str,
    location: &'static str,
    all: &'static str,
    filter: &'static str,
    filters: &'static str,
    apply: &'static str,
    back: &'static str,
    openings: &'static str,
    start: &'static str,
    posted: &'static str,
    kind: &'static str,
    skills: &'static str,
    education: &'static str,
    pay: &'static str,
    skip: &'static str,
    facts: &'static str,
    gone_title: &'static str,
    gone_text: &'static str,
}

const EN: Texts = Texts {
    open: "open positions",
    none: "No open position matches. Clear the filters to see them all.",
    search: "Search",
    department: "Department",
    location: "Location",
    all: "All",
    filter: "Filter",
    filters: "Filter positions",
    apply: "Apply for this position",
    back: "All open positions",
    openings: "Openings",
    start: "Estimated start",
    posted: "Posted",
    kind: "Employment",
    skills: "Skills",
    education: "Education",
    pay: "Compensation",
    skip: "Skip to content",
    facts: "About the position",
    gone_title: "Position not found",
    gone_text: "This position is no longer open.",
};

const NB: Texts = Texts {
    open: "ledige stillinger",
    none: "Ingen ledige stillinger passer. Fjern filtrene for å se alle.",
    search: "Søk",
    department: "Avdeling",
    location: "Sted",
    all: "Alle",
    filter: "Filtrer",
    filters: "Filtrer stillinger",
    apply: "Søk på stillingen",
    back: "Alle ledige stillinger",
    openings: "Antall stillinger",
    start: "Forventet oppstart",
    posted: "Publisert",
    kind: "Ansettelse",
    skills: "Kompetanse",
    education: "Utdanning",
    pay: "Lønn",
    skip: "Hopp til innhold",
    facts: "Om stillingen",
    gone_title: "Fant ikke stillingen",
    gone_text: "Denne stillingen er ikke lenger ledig.",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::EnUs => &EN,
        Lang::NbNo => &NB,
    }
}

fn html_lang(lang: Lang) -> &'static str {
    match lang {
        Lang::EnUs => "en",
        Lang::NbNo => "nb",
    }
}

pub fn employment_label(t: EmploymentType, lang: Lang) -> &'static str {
    match (t, lang) {
        (EmploymentType::FullTime, Lang::EnUs) => "Full-time",
        (EmploymentType::PartTime, Lang::EnUs) => "Part-time",
        (EmploymentType::Temporary, Lang::EnUs) => "Temporary",
        (EmploymentType::Contractor, Lang::EnUs) => "Contract",
        (EmploymentType::Intern, Lang::EnUs) => "Internship",
        (EmploymentType::FullTime, Lang::NbNo) => "Heltid",
        (EmploymentType::PartTime, Lang::NbNo) => "Deltid",
        (EmploymentType::Temporary, Lang::NbNo) => "Midlertidig",
        (EmploymentType::Contractor, Lang::NbNo) => "Oppdrag",
        (EmploymentType::Intern, Lang::NbNo) => "Praksis",
    }
}

// Contrast: text #1b1b1b and links #0a4fb3 on white are above 7:1 and 4.5:1 (WCAG AA).
const CSS: &str = "*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1b1b;background:#fff}\
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}\
header,main,footer{max-width:48rem;margin:0 auto;padding:1rem}header{border-bottom:1px solid #d0d0d0}\
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.2rem;margin:0}a{color:#0a4fb3}\
form{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;margin:1rem 0}\
form div{display:flex;flex-direction:column;flex:1 1 10rem;min-width:0}label{font-weight:600;font-size:.9rem}\
input,select,button{font:inherit;padding:.45rem;border:1px solid #6b6b6b;border-radius:4px;min-height:2.6rem;width:100%}\
button,.apply{background:#0a4fb3;color:#fff;border-color:#0a4fb3;cursor:pointer;font-weight:600}button{flex:0 0 auto;width:auto}\
ul.jobs{list-style:none;padding:0}ul.jobs li{border:1px solid #d0d0d0;border-radius:6px;padding:.8rem 1rem;margin:.6rem 0}\
.facts{color:#454545;margin:.3rem 0 0;font-size:.95rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}\
dt{font-weight:600}dd{margin:0}.apply{display:inline-block;padding:.7rem 1.2rem;border-radius:4px;text-decoration:none;margin:1rem 0}\
a:focus,button:focus,input:focus,select:focus{outline:3px solid #f2b600;outline-offset:2px}\
@media (max-width:30rem){dl{grid-template-columns:1fr}dt{margin-top:.4rem}}";

fn head(out: &mut String, lang: Lang, title: &str, description: &str, canonical: &str) {
    let _ = write!(
        out,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title>\
<meta name=\"description\" content=\"{}\"><link rel=\"canonical\" href=\"{}\"><style>{CSS}</style>",
        html_lang(lang),
        esc(title),
        esc(description),
        esc(canonical)
    );
}

/// The banner: the board's name is the page's heading on the list, a link back on a job page
/// (whose heading is the job's title).
fn header(out: &mut String, board: &Board, t: &Texts, on_list: bool) {
    let name = esc(&board.config.name);
    let title = match on_list {
        true => format!("<h1>{name}</h1>"),
        false => format!("<p><a href=\"{}\">{name}</a></p>", esc(&board.path())),
    };
    let _ = write!(
        out,
        "<body><a class=\"skip\" href=\"#main\">{}</a><header><p>{}</p>{title}</header>",
        t.skip,
        esc(&board.config.hiring_organization.name),
    );
}

fn facts_line(j: &PublicJob, lang: Lang) -> String {
    let parts: Vec<String> = [
        j.department.clone(),
        j.location
            .as_ref()
            .and_then(|l| l.label().map(str::to_string)),
        j.employment_type
            .map(|k| employment_label(k, lang).to_string()),
    ]
    .into_iter()
    .flatten()
    .map(|s| esc(&s))
    .collect();
    parts.join(" · ")
}

fn select(
    out: &mut String,
    name: &str,
    label: &str,
    all: &str,
    values: &BTreeSet<String>,
    chosen: Option<&str>,
) {
    let _ = write!(
        out,
        "<div><label for=\"{name}\">{label}</label><select id=\"{name}\" name=\"{name}\"><option value=\"\">{all}</option>"
    );
    for v in values {
        let sel = if chosen.is_some_and(|c| c.eq_ignore_ascii_case(v)) {
            " selected"
        } else {
            ""
        };
        let _ = write!(out, "<option value=\"{0}\"{sel}>{0}</option>", esc(v));
    }
    out.push_str("</select></div>");
}

/// `GET /boards/{board}`: the list with its filter form.
pub fn board_page(
    board: &Board,
    base: &str,
    lang: Lang,
    all: &[Arc<Entry>],
    shown: &[Arc<Entry>],
    f: &ListFilter,
) -> String {
    let t = texts(lang);
    let mut out = String::with_capacity(4096 + shown.len() * 300);
    let title = format!("{} – {} {}", board.config.name, shown.len(), t.open);
    head(&mut out, lang, &title, &title, &board.url(base));
    let _ = write!(
        out,
        "<link rel=\"alternate\" type=\"application/feed+json\" href=\"{}/feed.json\"></head>",
        esc(&board.path())
    );
    header(&mut out, board, t, true);
    let _ = write!(
        out,
        "<main id=\"main\"><form method=\"get\" action=\"{}\" role=\"search\" aria-label=\"{}\">\
<div><label for=\"q\">{}</label><input id=\"q\" name=\"q\" type=\"search\" value=\"{}\"></div>",
        esc(&board.path()),
        t.filters,
        t.search,
        esc(f.q.as_deref().unwrap_or(""))
    );
    let departments: BTreeSet<String> = all
        .iter()
        .filter_map(|e| e.job.department.clone())
        .collect();
    let locations: BTreeSet<String> = all
        .iter()
        .filter_map(|e| {
            e.job
                .location
                .as_ref()
                .and_then(|l| l.label().map(str::to_string))
        })
        .collect();
    select(
        &mut out,
        "department",
        t.department,
        t.all,
        &departments,
        f.department.as_deref(),
    );
    select(
        &mut out,
        "location",
        t.location,
        t.all,
        &locations,
        f.location.as_deref(),
    );
    let _ = write!(
        out,
        "<button type=\"submit\">{}</button></form><p role=\"status\">{} {}</p>",
        t.filter,
        shown.len(),
        t.open
    );
    if shown.is_empty() {
        let _ = write!(out, "<p>{}</p>", t.none);
    } else {
        out.push_str("<ul class=\"jobs\">");
        for e in shown {
            let j = &e.job;
            let _ = write!(
                out,
                "<li><h2><a href=\"{}\">{}</a></h2><p class=\"facts\">{}</p></li>",
                esc(&board.job_path(j)),
                esc(j.title.as_deref().unwrap_or("")),
                facts_line(j, lang)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</main></body></html>");
    out
}

fn money(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// `GET /boards/{board}/jobs/{id}` for browsers.
pub fn job_page(board: &Board, base: &str, lang: Lang, e: &Entry) -> String {
    let t = texts(lang);
    let j = &e.job;
    let title = j.title.clone().unwrap_or_default();
    let summary = j.description_text.clone().unwrap_or_else(|| title.clone());
    let summary: String = summary.chars().take(160).collect();
    let mut out = String::with_capacity(8192);
    head(
        &mut out,
        lang,
        &format!("{title} – {}", board.config.hiring_organization.name),
        &summary,
        &board.job_url(base, j),
    );
    let _ = write!(
        out,
        "<script type=\"application/ld+json\">{}</script></head>",
        jsonld::script_text(&jsonld::job_posting(board, base, e))
    );
    header(&mut out, board, t, false);
    let _ = write!(
        out,
        "<main id=\"main\"><article><h1>{}</h1><section aria-label=\"{}\"><dl>",
        esc(&title),
        t.facts
    );
    let mut fact = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            let _ = write!(out, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
        }
    };
    fact(t.department, j.department.clone());
    fact(
        t.location,
        j.location.as_ref().map(|l| {
            [l.name.clone(), l.city.clone(), l.country.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
        }),
    );
    fact(
        t.kind,
        j.employment_type
            .map(|k| employment_label(k, lang).to_string()),
    );
    fact(t.openings, Some(j.openings.to_string()));
    fact(t.start, j.estimated_start.clone());
    fact(
        t.posted,
        Some(e.posted_at.to_rfc3339_opts(SecondsFormat::Secs, true)[..10].to_string()),
    );
    if let (true, Some(p)) = (board.config.pay_transparency, j.pay) {
        let range = match (p.low, p.high) {
            (Some(l), Some(h)) => format!("{}–{}", money(l), money(h)),
            (Some(v), None) | (None, Some(v)) => money(v),
            (None, None) => String::new(),
        };
        fact(t.pay, Some(format!("{range} {}", board.config.currency)));
    }
    out.push_str("</dl></section>");
    if let Some(d) = &j.description_html {
        // Already reduced to the sanitiser's allow-list.
        let _ = write!(out, "<section>{d}</section>");
    }
    for (heading, items) in [(t.skills, &j.skills), (t.education, &j.education)] {
        if !items.is_empty() {
            let _ = write!(out, "<section><h2>{heading}</h2><ul>");
            for i in items {
                let _ = write!(out, "<li>{}</li>", esc(i));
            }
            out.push_str("</ul></section>");
        }
    }
    let _ = write!(
        out,
        "<a class=\"apply\" href=\"{}\">{}</a></article><p><a href=\"{}\">{}</a></p></main></body></html>",
        esc(&board.apply_url(j)),
        t.apply,
        esc(&board.path()),
        t.back
    );
    out
}

/// The page a closed (or unknown) job answers with 404.
pub fn gone_page(board: Option<&Board>, lang: Lang) -> String {
    let t = texts(lang);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\">\
<title>{}</title><style>{CSS}</style></head><body><main id=\"main\"><h1>{}</h1><p>{}</p>",
        html_lang(lang),
        t.gone_title,
        t.gone_title,
        t.gone_text
    );
    if let Some(b) = board {
        let _ = write!(out, "<p><a href=\"{}\">{}</a></p>", esc(&b.path()), t.back);
    }
    out.push_str("</main></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::boards::fields::project;

    #[test]
    fn the_meta_description_is_the_decoded_text_escaped_once() {
        let data = json!({
            "id": "000028a1-0000-0000-0000-000150000000",
            "status": {"key": "active"},
            "title": {"name": "Engineer"},
            "external_description": "<p>R&amp;D &lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p><p>&quot;Two&quot;</p>",
        });
        let job = project(&data, "usmf").expect("job");
        assert_eq!(
            job.description_text.as_deref(),
            Some("R&D </title><script>alert(1)</script> \"Two\"")
        );
        let board = Board::new(crate::boards::config::demo().remove(0));
        let e = Arc::new(Entry {
            job,
            posted_at: Utc::now(),
            updated_at: Utc::now(),
        });
        let page = job_page(&board, "https://jobs.example.com", Lang::EnUs, &e);
        assert!(
            page.contains(
                "<meta name=\"description\" content=\"R&amp;D &lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; &quot;Two&quot;\">"
            ),
            "{page}"
        );
        assert_eq!(page.matches("<script").count(), 1, "only the JSON-LD");
        assert_eq!(page.matches("</title>").count(), 1);
        assert!(!page.contains("&amp;amp;") && !page.contains("&amp;lt;"));
    }
}
