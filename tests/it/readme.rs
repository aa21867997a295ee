//! Issue 19: the README said "three demo partners" above a table of four, and its Configuration
//! section named 3 of the 9 sections. The README's facts are checked against the code here.

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README")
}

/// The text from the heading `## {title}` to the next `## `.
fn section(text: &str, title: &str) -> String {
    let start = text
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README has no section {title}"));
    let rest = &text[start + 4..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    rest[..end].to_string()
}

#[test]
fn the_demo_partner_count_matches_the_table_and_the_code() {
    let text = readme();
    let partners = ats_gateway::demo::partners();
    let words = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    let said = format!("with {} demo partners", words[partners.len()]);
    assert!(text.contains(&said), "README should say {said:?}");
    for p in &partners {
        assert!(
            text.contains(&format!("| `{}` | `{}` |", p.config.id, p.secret)),
            "{} is in the partner table",
            p.config.id
        );
    }
}

#[test]
fn the_configuration_section_names_every_section() {
    let text = readme();
    let config = section(&text, "Configuration");
    let keys = serde_json::to_value(ats_gateway::config::Config::default()).expect("config");
    let keys: Vec<&String> = keys.as_object().expect("sections").keys().collect();
    assert_eq!(keys.len(), 12, "{keys:?}");
    for k in keys {
        assert!(
            config.contains(&format!("`[{k}]`")),
            "Configuration names [{k}]"
        );
    }
}

#[test]
fn a_production_quick_start_walks_from_the_example_config_to_serve() {
    let text = readme();
    let quick = section(&text, "Production quick start");
    for step in [
        "config.example.toml",
        "partner-secret",
        "doctor",
        "serve",
        "signing_key_file",
        "[state] path",
    ] {
        assert!(quick.contains(step), "the quick start mentions {step}");
    }
    // Every key it tells the operator to edit exists in the example config.
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"))
            .expect("example");
    for key in [
        "public_url",
        "ops_listen",
        "cursor_key",
        "client_secret_file",
        "client_secret_expires_at",
        "signing_key_file",
        "client_secret_hashes",
        "cors_origins",
    ] {
        assert!(quick.contains(key) && example.contains(key), "{key}");
    }
}
