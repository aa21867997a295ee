//! The report as a text checklist (for people) or as JSON (`--json`, for scripts):
//! `{"ok": bool, "checks": [{"name", "ok", "detail", "fix"}]}`.

use std::fmt::Write as _;

use super::Report;

pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        // Plain strings and bools always serialise; keep the promised shape even so.
        format!(r#"{{"ok":false,"checks":[{{"name":"doctor","ok":false,"detail":"cannot write the report: {e}","fix":null}}]}}"#)
    })
}

/// Names longer than this (per-table checks) get their own line, so details stay aligned.
const NAME_COLUMN: usize = 10;

pub fn text(report: &Report) -> String {
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .filter(|&n| n <= NAME_COLUMN)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for c in &report.checks {
        let mark = if c.ok { "PASS" } else { "FAIL" };
        if c.name.len() > width {
            let _ = writeln!(out, "{mark}  {}", c.name);
            let _ = writeln!(out, "      {:width$}  {}", "", c.detail);
        } else {
            let _ = writeln!(out, "{mark}  {:width$}  {}", c.name, c.detail);
        }
        if let Some(fix) = &c.fix {
            let label = if c.ok { "note" } else { "fix" };
            let _ = writeln!(out, "      {:width$}  {label}: {fix}", "");
        }
    }
    if !report.skipped.is_empty() {
        let _ = writeln!(
            out,
            "SKIP  {:width$}  not run, they need what failed above: {}",
            "",
            report.skipped.join(", ")
        );
    }
    let failed = report.checks.iter().filter(|c| !c.ok).count();
    let _ = if failed == 0 {
        writeln!(out, "\nAll {} checks passed.", report.checks.len())
    } else {
        writeln!(out, "\n{failed} of {} checks failed.", report.checks.len())
    };
    out
}

#[cfg(test)]
mod tests {
    use super::super::Check;
    use super::*;

    #[test]
    fn json_has_the_promised_shape() {
        let r = Report {
            ok: false,
            checks: vec![
                Check::pass("config", "fine"),
                Check::fail("token", "bad", "do this"),
            ],
            skipped: vec!["whoami"],
        };
        let v: serde_json::Value = serde_json::from_str(&json(&r)).expect("json");
        assert_eq!(v["ok"], false);
        assert_eq!(v["checks"][0]["fix"], serde_json::Value::Null);
        assert_eq!(v["checks"][1]["fix"], "do this");
        assert_eq!(
            v.as_object().map(|o| o.len()),
            Some(2),
            "only ok and checks"
        );
        let t = text(&r);
        assert!(t.contains("FAIL  token   bad"), "{t}");
        assert!(t.contains("fix: do this"), "{t}");
        assert!(t.contains("1 of 2 checks failed."), "{t}");
    }
}
