//! Option-set catalog: labels and stable keys built at run time from the environment's metadata
//! (`GlobalOptionSetDefinitions(Name='…')`), never from hard-coded integers. Cached in moka with a TTL.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::lang::Lang;
use crate::upstream::client::DataverseClient;
use crate::upstream::error::UpstreamError;

/// What partners see for an option-set value.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct OptionValue {
    /// The environment's integer (differs between environments; do not program against it).
    pub code: i64,
    /// Stable English identifier, e.g. `in_review`.
    #[serde(serialize_with = "super::shared::text")]
    #[schema(value_type = String)]
    pub key: Arc<str>,
    /// Label in the caller's language (en-US fallback).
    #[serde(serialize_with = "super::shared::text")]
    #[schema(value_type = String)]
    pub label: Arc<str>,
}

#[derive(Debug, Clone)]
pub struct OptionInfo {
    pub code: i64,
    pub key: String,
    labels: HashMap<u32, String>,
    /// The value as each language shows it ([`Lang::index`]), built once with the set, and its
    /// JSON (pages written straight from rows copy it instead of serialising it again).
    shown: [OptionValue; 2],
    shown_json: [Box<str>; 2],
}

impl OptionInfo {
    fn new(code: i64, key: String, labels: HashMap<u32, String>) -> Self {
        let shared_key: Arc<str> = Arc::from(key.as_str());
        let shown = Lang::ALL.map(|lang| OptionValue {
            code,
            key: Arc::clone(&shared_key),
            label: Arc::from(label_in(&labels, &key, lang)),
        });
        let shown_json = shown.each_ref().map(|v| {
            serde_json::to_string(v)
                .unwrap_or_default()
                .into_boxed_str()
        });
        Self {
            code,
            key,
            labels,
            shown,
            shown_json,
        }
    }

    pub fn label(&self, lang: Lang) -> &str {
        label_in(&self.labels, &self.key, lang)
    }

    /// The partner-facing value (precomputed: a clone shares its text).
    pub fn value(&self, lang: Lang) -> OptionValue {
        self.shown[lang.index()].clone()
    }
}

/// The label in `lang`, else en-US, else the key.
fn label_in<'a>(labels: &'a HashMap<u32, String>, key: &'a str, lang: Lang) -> &'a str {
    labels
        .get(&lang.lcid())
        .or_else(|| labels.get(&1033))
        .map_or(key, String::as_str)
}

#[derive(Debug, Default)]
pub struct OptionSetInfo {
    pub name: String,
    pub options: Vec<OptionInfo>,
    /// Looked up for every option cell of every row: a fast hasher (the codes are Dataverse's).
    by_code: HashMap<i64, usize, rapidhash::fast::RandomState>,
    by_key: HashMap<String, usize>,
}

impl OptionSetInfo {
    pub fn by_code(&self, code: i64) -> Option<&OptionInfo> {
        self.by_code.get(&code).map(|&i| &self.options[i])
    }
    pub fn by_key(&self, key: &str) -> Option<&OptionInfo> {
        self.by_key.get(key).map(|&i| &self.options[i])
    }
    pub fn keys(&self) -> Vec<&str> {
        self.options.iter().map(|o| o.key.as_str()).collect()
    }
    /// A value partners can read even when the environment returns an integer its metadata lacks.
    pub fn value(&self, code: i64, lang: Lang) -> OptionValue {
        self.by_code(code).map_or_else(
            || OptionValue {
                code,
                key: format!("unknown_{code}").into(),
                label: code.to_string().into(),
            },
            |o| o.value(lang),
        )
    }

    /// [`OptionSetInfo::value`] written as JSON to `out` (a known value copies its stored JSON).
    pub fn write_value(&self, code: i64, lang: Lang, out: &mut Vec<u8>) {
        match self.by_code(code) {
            Some(o) => out.extend_from_slice(o.shown_json[lang.index()].as_bytes()),
            None => crate::resolve::shared::write_json(out, &self.value(code, lang)),
        }
    }
}

/// `In Review` / `InReview` / `Non-Specific` → `in_review` / `non_specific`.
pub fn stable_key(source: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for ch in source.chars() {
        if ch.is_ascii_alphanumeric() {
            if ch.is_ascii_uppercase() && prev_lower && !out.ends_with('_') {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
            prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    out.trim_end_matches('_').to_string()
}

/// Parses Dataverse's option-set metadata JSON (docs/dataverse-web-api.md#metadata-and-functions).
pub fn parse_option_set(name: &str, v: &Value) -> Result<OptionSetInfo, UpstreamError> {
    let options = v
        .get("Options")
        .and_then(Value::as_array)
        .ok_or_else(|| UpstreamError::BadResponse(format!("option set {name} has no Options")))?;
    let mut info = OptionSetInfo {
        name: name.to_string(),
        ..Default::default()
    };
    for o in options {
        let code = o
            .get("Value")
            .and_then(Value::as_i64)
            .ok_or_else(|| UpstreamError::BadResponse(format!("option in {name} without Value")))?;
        let mut labels = HashMap::new();
        for l in o
            .pointer("/Label/LocalizedLabels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(text), Some(lcid)) = (
                l.get("Label").and_then(Value::as_str),
                l.get("LanguageCode").and_then(Value::as_u64),
            ) {
                labels.insert(lcid as u32, text.to_string());
            }
        }
        // The key comes from the enum's external name when the environment has one, else the English label.
        let source = o
            .get("ExternalValue")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| labels.get(&1033).cloned())
            .unwrap_or_else(|| code.to_string());
        let mut key = stable_key(&source);
        if info.by_key.contains_key(&key) {
            key = format!("{key}_{code}");
        }
        let idx = info.options.len();
        info.by_code.insert(code, idx);
        info.by_key.insert(key.clone(), idx);
        info.options.push(OptionInfo::new(code, key, labels));
    }
    Ok(info)
}

pub struct OptionCatalog {
    client: Arc<DataverseClient>,
    cache: moka::future::Cache<String, Arc<OptionSetInfo>>,
}

impl OptionCatalog {
    pub fn new(client: Arc<DataverseClient>, ttl: Duration) -> Self {
        Self {
            client,
            cache: moka::future::Cache::builder()
                .max_capacity(256)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The option set's metadata, fetched once per TTL (concurrent callers share one fetch).
    pub async fn get(&self, name: &'static str) -> Result<Arc<OptionSetInfo>, UpstreamError> {
        let client = self.client.clone();
        self.cache
            .entry(name.to_string())
            .or_try_insert_with(async move {
                let path = format!("GlobalOptionSetDefinitions(Name='{name}')");
                let v = client.get_json(&path).await?;
                parse_option_set(name, &v).map(Arc::new)
            })
            .await
            .map(|e| crate::ops::metrics::cached("option_sets", e))
            .map_err(|e| (*e).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_snake_case() {
        assert_eq!(stable_key("InReview"), "in_review");
        assert_eq!(stable_key("In Review"), "in_review");
        assert_eq!(stable_key("NonExempt"), "non_exempt");
        assert_eq!(stable_key("Non-Specific"), "non_specific");
        assert_eq!(stable_key("One-time only"), "one_time_only");
        assert_eq!(stable_key("URL"), "url");
        assert_eq!(stable_key("LinkedIn"), "linked_in");
    }

    #[test]
    fn parses_metadata_and_falls_back() {
        let v = serde_json::json!({"Options": [
            {"Value": 7, "ExternalValue": "Active", "Label": {"LocalizedLabels": [{"Label": "Active", "LanguageCode": 1033}, {"Label": "Aktive", "LanguageCode": 1044}]}},
            {"Value": 8, "Label": {"LocalizedLabels": [{"Label": "Closed", "LanguageCode": 1033}]}}
        ]});
        let s = parse_option_set("x", &v).expect("parses");
        assert_eq!(
            s.value(7, Lang::NbNo),
            OptionValue {
                code: 7,
                key: "active".into(),
                label: "Aktive".into()
            }
        );
        assert_eq!(&*s.value(8, Lang::NbNo).label, "Closed");
        assert_eq!(s.by_key("closed").map(|o| o.code), Some(8));
        assert_eq!(&*s.value(9, Lang::EnUs).key, "unknown_9");
        assert!(parse_option_set("x", &serde_json::json!({})).is_err());
    }
}
