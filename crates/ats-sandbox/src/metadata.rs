//! Option-set metadata in Dataverse's metadata JSON shape (docs/dataverse-web-api.md#metadata-and-functions):
//! global option set definitions and picklist attribute metadata, with localized labels for 1033 and 1044.
//! `ExternalValue` carries the F&O enum symbol (our inference, docs/dataverse-web-api.md#virtual-tables:
//! enums map to global option sets by external name); it is what a client should key on, since integers
//! differ between environments.

use serde_json::{json, Value};
use uuid::Uuid;

use super::annotations::Lcid;
use super::error::DvError;
use super::schema::{option_sets::OPTION_SETS, ColType, EntityDef};

const NS: Uuid = Uuid::from_u128(0x6d657461_6461_7461_0000_000000000001);

fn metadata_id(parts: &[&str]) -> String {
    Uuid::new_v5(&NS, parts.join("/").as_bytes()).to_string()
}

/// Enum symbol for an English label: `In Review` → `InReview`, `Non-Specific` → `NonSpecific`.
pub(crate) fn external_value(en_label: &str) -> String {
    en_label
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            cs.next()
                .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn label(text: &str, lcid: u32, id: &str) -> Value {
    json!({"Label": text, "LanguageCode": lcid, "IsManaged": true, "MetadataId": id, "HasChanged": null})
}

/// `Label` object with one localized label per provisioned language, filtered by `languages` when given.
fn localized(en: &str, nb: &str, user_lang: Lcid, languages: Option<&[u32]>, key: &str) -> Value {
    let all = [(1033u32, en), (1044u32, nb)];
    let labels: Vec<Value> = all
        .iter()
        .filter(|(l, _)| languages.is_none_or(|ls| ls.contains(l)))
        .map(|(l, t)| label(t, *l, &metadata_id(&[key, &l.to_string()])))
        .collect();
    let user = all
        .iter()
        .find(|(l, _)| *l == user_lang as u32)
        .map(|(l, t)| label(t, *l, &metadata_id(&[key, &l.to_string()])));
    json!({"LocalizedLabels": labels, "UserLocalizedLabel": user})
}

fn options_json(
    set: &str,
    option_base: i64,
    user_lang: Lcid,
    languages: Option<&[u32]>,
) -> Option<Value> {
    let (_, _, options) = OPTION_SETS.iter().find(|(n, _, _)| *n == set)?;
    let list: Vec<Value> = options
        .iter()
        .enumerate()
        .map(|(i, (_, en, nb))| {
            let value = option_base + i as i64;
            let key = format!("{set}/{value}");
            json!({
                "Value": value, "Color": null, "IsManaged": true, "ExternalValue": external_value(en),
                "ParentValues": [], "Tag": null, "IsHidden": false, "MetadataId": null, "HasChanged": null,
                "Label": localized(en, nb, user_lang, languages, &key),
                "Description": {"LocalizedLabels": [], "UserLocalizedLabel": null}
            })
        })
        .collect();
    Some(Value::Array(list))
}

/// `GlobalOptionSetDefinitions(Name='x')`.
pub(crate) fn global_option_set(
    org: &str,
    name: &str,
    option_base: i64,
    lang: Lcid,
    languages: Option<&[u32]>,
) -> Result<Value, DvError> {
    let (_, display, _) = OPTION_SETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| {
            DvError::new(
                axum::http::StatusCode::NOT_FOUND,
                "0x80040217",
                format!("Could not find optionset with name {name}"),
            )
        })?;
    let mut v = option_set_body(name, display, option_base, lang, languages);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "@odata.context".into(),
            json!(format!(
                "{org}/api/data/v9.2/$metadata#GlobalOptionSetDefinitions/$entity"
            )),
        );
    }
    Ok(v)
}

fn option_set_body(
    name: &str,
    display: &str,
    option_base: i64,
    lang: Lcid,
    languages: Option<&[u32]>,
) -> Value {
    json!({
        "@odata.type": "#Microsoft.Dynamics.CRM.OptionSetMetadata",
        "MetadataId": metadata_id(&[name]),
        "Name": name,
        "IsGlobal": true,
        "OptionSetType": "Picklist",
        "DisplayName": localized(display, display, lang, languages, &format!("{name}/display")),
        "Options": options_json(name, option_base, lang, languages).unwrap_or(Value::Array(vec![])),
    })
}

/// `GlobalOptionSetDefinitions` (all of them, never paged, like every metadata query).
pub(crate) fn all_global_option_sets(
    org: &str,
    option_base: i64,
    lang: Lcid,
    languages: Option<&[u32]>,
) -> Value {
    let value: Vec<Value> = OPTION_SETS
        .iter()
        .map(|(n, d, _)| option_set_body(n, d, option_base, lang, languages))
        .collect();
    json!({"@odata.context": format!("{org}/api/data/v9.2/$metadata#GlobalOptionSetDefinitions"), "value": value})
}

fn picklist_attribute(
    entity: &EntityDef,
    column: &str,
    set: &str,
    option_base: i64,
    lang: Lcid,
    languages: Option<&[u32]>,
    expand: bool,
) -> Value {
    let mut v = json!({
        "MetadataId": metadata_id(&[entity.logical_name, column]),
        "LogicalName": column,
    });
    if expand {
        let os = json!({
            "MetadataId": metadata_id(&[set]),
            "Name": set,
            "Options": options_json(set, option_base, lang, languages).unwrap_or(Value::Array(vec![])),
        });
        if let Some(obj) = v.as_object_mut() {
            obj.insert("OptionSet".into(), os.clone());
            obj.insert("GlobalOptionSet".into(), os);
        }
    }
    v
}

/// `EntityDefinitions(LogicalName='t')/Attributes[(LogicalName='c')]/Microsoft.Dynamics.CRM.PicklistAttributeMetadata`.
pub(crate) fn picklist_attributes(
    org: &str,
    entity: &EntityDef,
    column: Option<&str>,
    option_base: i64,
    lang: Lcid,
    languages: Option<&[u32]>,
    expand: bool,
) -> Result<Value, DvError> {
    let picklists = entity.columns.iter().filter_map(|c| match c.ty {
        ColType::OptionSet(set) => Some((c.name, set)),
        _ => None,
    });
    let ctx = format!("{org}/api/data/v9.2/$metadata#EntityDefinitions('{}')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata", entity.logical_name);
    match column {
        Some(col) => {
            let (name, set) = picklists.into_iter().find(|(n, _)| *n == col).ok_or_else(|| {
                DvError::new(
                    axum::http::StatusCode::NOT_FOUND,
                    "0x80040217",
                    format!("Could not find attribute with name {col} of type PicklistAttributeMetadata on entity {}", entity.logical_name),
                )
            })?;
            let mut v = picklist_attribute(entity, name, set, option_base, lang, languages, expand);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("@odata.context".into(), json!(format!("{ctx}/$entity")));
            }
            Ok(v)
        }
        None => {
            let value: Vec<Value> = picklists
                .map(|(n, s)| {
                    picklist_attribute(entity, n, s, option_base, lang, languages, expand)
                })
                .collect();
            Ok(json!({"@odata.context": ctx, "value": value}))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_values_are_enum_symbols() {
        assert_eq!(external_value("In Review"), "InReview");
        assert_eq!(external_value("Non-Specific"), "NonSpecific");
        assert_eq!(external_value("Does Not Apply"), "DoesNotApply");
    }

    #[test]
    fn global_option_set_has_both_languages() {
        let v = global_option_set(
            "http://x",
            "mshr_hcmrecruitingrequeststatus",
            200_000_000,
            Lcid::NbNo,
            None,
        )
        .expect("exists");
        let first = &v["Options"][0];
        assert_eq!(first["Value"], 200_000_000);
        assert_eq!(
            first["Label"]["LocalizedLabels"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(first["Label"]["UserLocalizedLabel"]["Label"], "Utkast");
        let only_en = global_option_set(
            "http://x",
            "mshr_hcmrecruitingrequeststatus",
            5,
            Lcid::EnUs,
            Some(&[1033]),
        )
        .expect("exists");
        assert_eq!(
            only_en["Options"][0]["Label"]["LocalizedLabels"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert_eq!(only_en["Options"][0]["Value"], 5);
    }
}
