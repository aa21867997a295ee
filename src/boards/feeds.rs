//! For crawlers and aggregators: the sitemap (each job's URL and `lastmod`) and a JSON Feed 1.1.

use std::sync::Arc;

use chrono::SecondsFormat;
use serde_json::json;

use super::html::esc;
use super::snapshot::Entry;
use super::Board;

pub fn sitemap(board: &Board, base: &str, jobs: &[Arc<Entry>]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    let newest = jobs.iter().map(|e| e.updated_at).max();
    out.push_str(&format!("<url><loc>{}</loc>", esc(&board.url(base))));
    if let Some(t) = newest {
        out.push_str(&format!(
            "<lastmod>{}</lastmod>",
            t.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }
    out.push_str("</url>\n");
    for e in jobs {
        out.push_str(&format!(
            "<url><loc>{}</loc><lastmod>{}</lastmod></url>\n",
            esc(&board.job_url(base, &e.job)),
            e.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }
    out.push_str("</urlset>\n");
    out
}

pub fn json_feed(board: &Board, base: &str, jobs: &[Arc<Entry>]) -> serde_json::Value {
    let items: Vec<_> = jobs
        .iter()
        .map(|e| {
            let j = &e.job;
            json!({
                "id": j.id,
                "url": board.job_url(base, j),
                "title": j.title,
                "content_html": j.description_html.clone().unwrap_or_default(),
                "date_published": e.posted_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                "date_modified": e.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                "external_url": board.apply_url(j),
            })
        })
        .collect();
    json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": board.config.name,
        "home_page_url": board.url(base),
        "feed_url": format!("{}/feed.json", board.url(base)),
        "language": board.default_lang().tag(),
        "items": items,
    })
}
