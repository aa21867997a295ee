//! The hire body (`POST /v1/candidates`) checked field by field against a table of specs: shape,
//! required fields, formats and unknown fields, every problem collected with its JSON pointer.
//! Codes (lookups, option keys) are only checked for shape here; `validate` looks them up.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::Issue;
use crate::model::candidate as cand;

/// What a field holds and how it is written upstream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Text {
        max: usize,
    },
    Date,
    /// A JSON bool written as a `mshr_noyes` option.
    YesNo,
    Number,
    /// An option-set key (`"hired"`), written as the environment's code.
    OptionKey(&'static str),
    /// A lookup by code (or id) in a reference table, written as its code.
    Lookup(&'static str),
    /// A non-empty list of role names, written `;`-separated.
    Roles,
}

/// Which upstream row a person field belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum On {
    Own,
    Candidate,
}

pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub column: &'static str,
    pub on: On,
}

const fn f(name: &'static str, kind: Kind, column: &'static str) -> Field {
    Field {
        name,
        kind,
        required: false,
        column,
        on: On::Own,
    }
}
const fn req(name: &'static str, kind: Kind, column: &'static str) -> Field {
    Field {
        name,
        kind,
        required: true,
        column,
        on: On::Own,
    }
}
const fn on_candidate(mut x: Field) -> Field {
    x.on = On::Candidate;
    x
}

const TEXT_MAX: usize = 255;
const TEXT: Kind = Kind::Text { max: TEXT_MAX };
/// Free text (comments, notes): the only fields where line breaks and tabs are kept.
const LONG_TEXT: Kind = Kind::Text { max: 4000 };

/// The dates a hire accepts (see `docs/hire-rules.md`): wide enough for any birth date and
/// any plan, narrow enough that a typo like 0001-01-01 or 9999-12-31 is caught.
pub const MIN_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => panic!("valid date"),
};
pub const MAX_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2100, 12, 31) {
    Some(d) => d,
    None => panic!("valid date"),
};

/// The first character a person's record must not hold: control characters (line breaks and
/// tabs only in free text), bidirectional overrides and isolates (they make a name display as
/// something else) and zero-width characters (they make two equal-looking names differ).
pub fn unsafe_char(s: &str, free_text: bool) -> Option<char> {
    s.chars().find(|&c| {
        let allowed_space = free_text && matches!(c, '\n' | '\r' | '\t');
        (c.is_control() && !allowed_space)
            || matches!(c,
                '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
                | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
    })
}

pub const COUNTRY: &str = "mshr_logisticsaddresscountryregionentity";

/// Candidate columns (besides `recruiting_request` and `position`, resolved with the request).
pub const CANDIDATE_FIELDS: &[Field] = &[
    f("availability_date", Kind::Date, "mshr_availabilitydate"),
    f(
        "willing_to_relocate",
        Kind::YesNo,
        "mshr_iswillingtorelocate",
    ),
    f("comments", LONG_TEXT, "mshr_comments"),
    f(
        "status",
        Kind::OptionKey(cand::OS_RESULT),
        "mshr_applicantintegrationresult",
    ),
];

/// An external candidate's personal data: person columns, and the candidate's own personal columns.
pub const PERSON_FIELDS: &[Field] = &[
    req("first_name", TEXT, "mshr_firstname"),
    f("middle_name", TEXT, "mshr_middlename"),
    f("last_name_prefix", TEXT, "mshr_lastnameprefix"),
    req("last_name", TEXT, "mshr_lastname"),
    f("known_as", TEXT, "mshr_knownas"),
    f("gender", Kind::OptionKey(cand::OS_GENDER), "mshr_gender"),
    f(
        "marital_status",
        Kind::OptionKey(cand::OS_MARITAL),
        "mshr_maritalstatus",
    ),
    on_candidate(f("birth_date", Kind::Date, "mshr_birthdate")),
    on_candidate(f(
        "citizenship_country",
        Kind::Lookup(COUNTRY),
        "mshr_citizenshipcountrycode",
    )),
];

/// A person child collection: its JSON name, its fields and where it goes upstream.
pub struct Collection {
    pub name: &'static str,
    pub fields: &'static [Field],
    pub set: &'static str,
    pub pk: &'static str,
    /// Navigation property from the person, for the deep insert (skills, education only).
    pub deep_nav: Option<&'static str>,
    /// Columns that, with the person, find a row this plan wrote when a call's outcome is unknown.
    pub match_columns: &'static [&'static str],
    /// At most this many rows per hire (see `docs/hire-rules.md`): HR's own forms hold a handful
    /// of contacts and addresses and tens of the others, and every row is one upstream write.
    pub max_items: usize,
}

pub const SKILLS: Collection = Collection {
    name: "skills",
    fields: &[
        req("skill", Kind::Lookup("mshr_hcmskillentity"), "mshr_skillid"),
        req(
            "rating_level",
            Kind::Lookup("mshr_hcmratinglevelentity"),
            "mshr_levelid",
        ),
        f(
            "years_of_experience",
            Kind::Number,
            "mshr_yearsofexperience",
        ),
        f(
            "level_type",
            Kind::OptionKey(cand::OS_SKILL_LEVEL_TYPE),
            "mshr_leveltype",
        ),
        f("level_date", Kind::Date, "mshr_leveldate"),
        f("verified", Kind::YesNo, "mshr_verified"),
    ],
    set: "mshr_hcmpersonskillentities",
    pk: "mshr_hcmpersonskillentityid",
    deep_nav: Some(cand::NAV_SKILLS),
    match_columns: &["mshr_skillid", "mshr_levelid"],
    max_items: 50,
};

pub const EDUCATION: Collection = Collection {
    name: "education",
    fields: &[
        f(
            "education_level",
            Kind::Lookup("mshr_hcmeducationdegreeentity"),
            "mshr_educationlevelid",
        ),
        req(
            "discipline",
            Kind::Lookup("mshr_hcmeducationdisciplineentity"),
            "mshr_educationdisciplineid",
        ),
        f(
            "institution",
            Kind::Lookup("mshr_hcmeducationinstitutionentity"),
            "mshr_educationinstitutionid",
        ),
        f("description", TEXT, "mshr_description"),
        f("secondary_emphasis", TEXT, "mshr_secondaryemphasis"),
        f(
            "credit_basis",
            Kind::OptionKey(cand::OS_CREDIT_BASIS),
            "mshr_creditbasis",
        ),
        f("credits_earned", Kind::Number, "mshr_creditsearned"),
        f("start_date", Kind::Date, "mshr_startdate"),
        f("end_date", Kind::Date, "mshr_enddate"),
        f(
            "grade_point_average",
            Kind::Number,
            "mshr_gradepointaverage",
        ),
        f("grade_scale", TEXT, "mshr_gradescale"),
        f("notes", LONG_TEXT, "mshr_notes"),
    ],
    set: "mshr_hcmpersoneducationentities",
    pk: "mshr_hcmpersoneducationentityid",
    deep_nav: Some(cand::NAV_EDUCATION),
    match_columns: &["mshr_educationdisciplineid"],
    max_items: 20,
};

pub const ADDRESSES: Collection = Collection {
    name: "addresses",
    fields: &[
        f("description", TEXT, "mshr_description"),
        req("roles", Kind::Roles, "mshr_roles"),
        f("street", TEXT, "mshr_street"),
        f("city", TEXT, "mshr_city"),
        f("state", TEXT, "mshr_state"),
        f("county", TEXT, "mshr_county"),
        f("zip_code", Kind::Text { max: 10 }, "mshr_zipcode"),
        f(
            "country_region",
            Kind::Lookup(COUNTRY),
            "mshr_countryregionid",
        ),
        f("is_primary", Kind::YesNo, "mshr_isprimary"),
        f("is_private", Kind::YesNo, "mshr_isprivate"),
    ],
    set: "mshr_hcmpersonaddressentities",
    pk: "mshr_hcmpersonaddressentityid",
    deep_nav: None,
    match_columns: &["mshr_description", "mshr_roles"],
    max_items: 10,
};

pub const CONTACTS: Collection = Collection {
    name: "contacts",
    fields: &[
        req("type", Kind::OptionKey(cand::OS_CONTACT_TYPE), "mshr_type"),
        req("locator", TEXT, "mshr_locator"),
        f("extension", Kind::Text { max: 10 }, "mshr_locatorextension"),
        f("description", TEXT, "mshr_description"),
        f("purpose", TEXT, "mshr_purpose"),
        f("is_primary", Kind::YesNo, "mshr_isprimary"),
        f("is_mobile", Kind::YesNo, "mshr_ismobilephone"),
        f("is_private", Kind::YesNo, "mshr_isprivate"),
    ],
    set: "mshr_dirpartycontactentities",
    pk: "mshr_dirpartycontactentityid",
    deep_nav: None,
    match_columns: &["mshr_locator"],
    max_items: 20,
};

pub const EXPERIENCE: Collection = Collection {
    name: "experience",
    fields: &[
        req("employer", TEXT, "mshr_employername"),
        req("position", TEXT, "mshr_employerposition"),
        f("location", Kind::Text { max: 60 }, "mshr_employerlocation"),
        f("url", TEXT, "mshr_url"),
        req("start_date", Kind::Date, "mshr_startdate"),
        f("end_date", Kind::Date, "mshr_enddate"),
        f(
            "allow_contact_employer",
            Kind::OptionKey(cand::OS_BLANK_YES_NO),
            "mshr_allowcontactemployer",
        ),
        f("notes", LONG_TEXT, "mshr_note"),
    ],
    set: "mshr_hcmpersonprofessionalexperienceentities",
    pk: "mshr_hcmpersonprofessionalexperienceentityid",
    deep_nav: None,
    match_columns: &["mshr_employername", "mshr_employerposition"],
    max_items: 30,
};

pub const CERTIFICATES: Collection = Collection {
    name: "certificates",
    fields: &[
        req(
            "certificate_type",
            Kind::Lookup("mshr_hcmcertificatetypeentity"),
            "mshr_certificatetypeid",
        ),
        req("start_date", Kind::Date, "mshr_startdate"),
        f("end_date", Kind::Date, "mshr_enddate"),
        f("notes", LONG_TEXT, "mshr_notes"),
    ],
    set: "mshr_hcmpersoncertificateentities",
    pk: "mshr_hcmpersoncertificateentityid",
    deep_nav: None,
    match_columns: &["mshr_certificatetypeid"],
    max_items: 30,
};

pub const SCREENINGS: Collection = Collection {
    name: "screenings",
    fields: &[
        req(
            "screening_type",
            Kind::Lookup("mshr_hcmscreeningtypeentity"),
            "mshr_screeningtypeid",
        ),
        f(
            "status",
            Kind::OptionKey(cand::OS_COMPLETION),
            "mshr_status",
        ),
        f("required_by", Kind::Date, "mshr_requiredby"),
        f("completed_date", Kind::Date, "mshr_completeddate"),
        f("notes", LONG_TEXT, "mshr_note"),
    ],
    set: "mshr_hcmpersonscreeningentities",
    pk: "mshr_hcmpersonscreeningentityid",
    deep_nav: None,
    match_columns: &["mshr_screeningtypeid"],
    max_items: 30,
};

pub const IDENTIFICATION_NUMBERS: Collection = Collection {
    name: "identification_numbers",
    fields: &[
        req(
            "identification_type",
            Kind::Lookup("mshr_hcmidentificationtypeentity"),
            "mshr_identificationtypeid",
        ),
        req("number", TEXT, "mshr_identificationnumber"),
        f(
            "issuing_agency",
            Kind::Lookup("mshr_hcmissuingagencyentity"),
            "mshr_issuingagencyid",
        ),
        f("issue_date", Kind::Date, "mshr_issueddate"),
        f("expiration_date", Kind::Date, "mshr_expirationdate"),
        f("is_primary", Kind::YesNo, "mshr_isprimary"),
        f("description", TEXT, "mshr_description"),
    ],
    set: "mshr_hcmpersonidentificationnumberentities",
    pk: "mshr_hcmpersonidentificationnumberentityid",
    deep_nav: None,
    match_columns: &["mshr_identificationnumber"],
    max_items: 10,
};

/// In the order they are written: the deep insert's collections, then one call per row of the others.
pub const COLLECTIONS: &[&Collection] = &[
    &SKILLS,
    &EDUCATION,
    &ADDRESSES,
    &CONTACTS,
    &EXPERIENCE,
    &CERTIFICATES,
    &SCREENINGS,
    &IDENTIFICATION_NUMBERS,
];

pub fn collection(name: &str) -> Option<&'static Collection> {
    COLLECTIONS.iter().copied().find(|c| c.name == name)
}

/// A value that still needs a reference check before it can be written.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Ready(Value),
    Option { set: &'static str, key: String },
    Lookup { table: &'static str, code: String },
}

/// One field as parsed: where it goes and its (pending) value.
#[derive(Debug, Clone)]
pub struct Cell {
    pub pointer: String,
    pub column: &'static str,
    pub on: On,
    pub value: Pending,
}

/// One child row of a collection.
#[derive(Debug, Clone)]
pub struct ChildRow {
    pub collection: &'static str,
    pub pointer: String,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone)]
pub enum PersonIn {
    /// A new person: their cells.
    External(Vec<Cell>),
    /// An existing person (internal candidate), by party number.
    Internal { party_number: String },
}

/// The hire body after the shape checks: whatever could be read, even when other parts failed, so
/// the reference checks can still report their own problems in the same answer.
#[derive(Debug, Clone, Default)]
pub struct HireRequest {
    /// `None` when missing or malformed (an issue says why).
    pub recruiting_request: Option<String>,
    pub position: Option<String>,
    pub candidate: Vec<Cell>,
    /// `None` when missing or malformed (an issue says why).
    pub person: Option<PersonIn>,
    pub children: Vec<ChildRow>,
}

const TOP_FIELDS: &[&str] = &["recruiting_request", "position", "person"];

/// Checks the body's shape: what could be read and every problem found, each with its pointer.
pub fn parse(body: &Value) -> (HireRequest, Vec<Issue>) {
    let mut issues = Vec::new();
    let Some(obj) = body.as_object() else {
        return (
            HireRequest::default(),
            vec![Issue::new("", "the body must be a JSON object")],
        );
    };
    for k in obj.keys() {
        let known =
            TOP_FIELDS.contains(&k.as_str()) || CANDIDATE_FIELDS.iter().any(|f| f.name == k);
        if !known {
            issues.push(Issue::new(&format!("/{}", escape(k)), "unknown field"));
        }
    }
    let recruiting_request = required_code(obj, "recruiting_request", "", &mut issues);
    let position = match obj.get("position") {
        None | Some(Value::Null) => None,
        Some(_) => required_code(obj, "position", "", &mut issues),
    };
    let candidate = cells(obj, CANDIDATE_FIELDS, "", &mut issues);
    let (person, children) = match obj.get("person") {
        Some(Value::Object(p)) => parse_person(p, &mut issues),
        Some(_) => {
            issues.push(Issue::new("/person", "must be an object"));
            (None, Vec::new())
        }
        None => {
            issues.push(Issue::new(
                "/person",
                "is required: the new person's data, or `party_number` of an existing person",
            ));
            (None, Vec::new())
        }
    };
    let req = HireRequest {
        recruiting_request,
        position,
        candidate,
        person,
        children,
    };
    (req, issues)
}

fn parse_person(
    p: &Map<String, Value>,
    issues: &mut Vec<Issue>,
) -> (Option<PersonIn>, Vec<ChildRow>) {
    for k in p.keys() {
        let known = k == "party_number"
            || PERSON_FIELDS.iter().any(|f| f.name == k)
            || collection(k).is_some();
        if !known {
            issues.push(Issue::new(
                &format!("/person/{}", escape(k)),
                "unknown field",
            ));
        }
    }
    if p.contains_key("party_number") {
        // An internal hire names a person HR already has; an ATS does not edit HR's people
        // through a hire, so nothing else about the person may come with it.
        for k in p.keys().filter(|k| *k != "party_number") {
            if PERSON_FIELDS.iter().any(|f| f.name == k) || collection(k).is_some() {
                issues.push(Issue::new(
                    &format!("/person/{}", escape(k)),
                    "not allowed with `party_number`: an internal candidate's person is kept in HR, a hire names it and nothing else",
                ));
            }
        }
        let person = required_code(p, "party_number", "/person", issues)
            .map(|party_number| PersonIn::Internal { party_number });
        return (person, Vec::new());
    }
    let mut children = Vec::new();
    for c in COLLECTIONS {
        let pointer = format!("/person/{}", c.name);
        match p.get(c.name) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                if items.len() > c.max_items {
                    issues.push(Issue::new(
                        &format!("{pointer}/{}", c.max_items),
                        format!("at most {} {} per hire", c.max_items, c.name),
                    ));
                }
                // Rows past the cap are not read: the answer is a 422 anyway.
                for (i, item) in items.iter().take(c.max_items).enumerate() {
                    let at = format!("{pointer}/{i}");
                    match item.as_object() {
                        Some(o) => {
                            unknown_fields(o, c.fields, &at, issues);
                            children.push(ChildRow {
                                collection: c.name,
                                pointer: at.clone(),
                                cells: cells(o, c.fields, &at, issues),
                            });
                        }
                        None => issues.push(Issue::new(&at, "must be an object")),
                    }
                }
            }
            Some(_) => issues.push(Issue::new(&pointer, "must be an array")),
        }
    }
    let person = PersonIn::External(cells(p, PERSON_FIELDS, "/person", issues));
    (Some(person), children)
}

fn unknown_fields(o: &Map<String, Value>, fields: &[Field], at: &str, issues: &mut Vec<Issue>) {
    for k in o.keys() {
        if !fields.iter().any(|f| f.name == k) {
            issues.push(Issue::new(&format!("{at}/{}", escape(k)), "unknown field"));
        }
    }
}

/// RFC 6901 escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn required_code(
    o: &Map<String, Value>,
    name: &str,
    at: &str,
    issues: &mut Vec<Issue>,
) -> Option<String> {
    let pointer = format!("{at}/{name}");
    match o.get(name) {
        Some(Value::String(s))
            if !s.trim().is_empty() && s.len() <= 100 && unsafe_char(s, false).is_none() =>
        {
            Some(s.trim().to_string())
        }
        Some(Value::String(_)) => {
            issues.push(Issue::new(
                &pointer,
                "must be a non-empty code of at most 100 characters, without control characters",
            ));
            None
        }
        None | Some(Value::Null) => {
            issues.push(Issue::new(&pointer, "is required"));
            None
        }
        Some(_) => {
            issues.push(Issue::new(&pointer, "must be a string"));
            None
        }
    }
}

/// The cells of `fields` present in `o`, with format checks; missing required fields are issues.
fn cells(o: &Map<String, Value>, fields: &[Field], at: &str, issues: &mut Vec<Issue>) -> Vec<Cell> {
    let mut out = Vec::new();
    for field in fields {
        let pointer = format!("{at}/{}", field.name);
        let v = match o.get(field.name) {
            None | Some(Value::Null) => {
                if field.required {
                    issues.push(Issue::new(&pointer, "is required"));
                }
                continue;
            }
            Some(v) => v,
        };
        match check(field.kind, v) {
            Ok(value) => out.push(Cell {
                pointer,
                column: field.column,
                on: field.on,
                value,
            }),
            Err(why) => issues.push(Issue::new(&pointer, why)),
        }
    }
    // A contact's locator must fit its type (the common ones only).
    let kind = o.get("type").and_then(Value::as_str);
    if let (Some(kind), Some(locator)) = (kind, o.get("locator").and_then(Value::as_str)) {
        if kind == "email_address" && !plausible_email(locator) {
            issues.push(Issue::new(
                &format!("{at}/locator"),
                "must be an email address (name@domain)",
            ));
        }
    }
    out
}

fn plausible_email(s: &str) -> bool {
    let mut parts = s.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !s.contains(char::is_whitespace))
}

fn check(kind: Kind, v: &Value) -> Result<Pending, String> {
    match kind {
        Kind::Text { max } => match v.as_str() {
            Some(s) if s.chars().count() > max => Err(format!("must be at most {max} characters")),
            Some(s) if s.trim().is_empty() => Err("must not be empty".into()),
            Some(s) => match unsafe_char(s, max > TEXT_MAX) {
                Some(c) => Err(format!(
                    "must not contain control, bidirectional-override or zero-width characters (U+{:04X})",
                    u32::from(c)
                )),
                None => Ok(Pending::Ready(Value::String(s.to_string()))),
            },
            None => Err("must be a string".into()),
        },
        Kind::Date => match v.as_str() {
            Some(s) if s.len() == 10 => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) if (MIN_DATE..=MAX_DATE).contains(&d) => {
                    Ok(Pending::Ready(Value::String(s.to_string())))
                }
                Ok(_) => Err(format!("must be between {MIN_DATE} and {MAX_DATE}")),
                Err(_) => Err("must be a date YYYY-MM-DD".into()),
            },
            _ => Err("must be a date YYYY-MM-DD".into()),
        },
        Kind::YesNo => match v.as_bool() {
            Some(b) => Ok(Pending::Option {
                set: cand::OS_NOYES,
                key: if b { "yes" } else { "no" }.into(),
            }),
            None => Err("must be true or false".into()),
        },
        Kind::Number => match v.as_f64() {
            Some(n) if (0.0..1e9).contains(&n) => Ok(Pending::Ready(v.clone())),
            _ => Err("must be a number ≥ 0 and < 1000000000".into()),
        },
        Kind::OptionKey(set) => match v.as_str() {
            Some(s) if !s.is_empty() => Ok(Pending::Option {
                set,
                key: s.to_string(),
            }),
            _ => Err("must be an option key (see /v1/option-sets)".into()),
        },
        Kind::Lookup(table) => match v.as_str() {
            Some(s) if !s.trim().is_empty() && s.len() <= 100 && unsafe_char(s, false).is_none() => Ok(Pending::Lookup {
                table,
                code: s.trim().to_string(),
            }),
            _ => Err("must be a code (or id) from /v1/reference".into()),
        },
        Kind::Roles => match v.as_array() {
            Some(items) if !items.is_empty() => {
                let roles: Option<Vec<&str>> = items
                    .iter()
                    .map(|r| {
                        r.as_str().filter(|s| {
                            !s.trim().is_empty()
                                && !s.contains(';')
                                && s.chars().count() <= TEXT_MAX
                                && unsafe_char(s, false).is_none()
                        })
                    })
                    .collect();
                roles
                    .map(|r| Pending::Ready(Value::String(r.join(";"))))
                    .ok_or_else(|| "must be role names (non-empty, without `;`)".into())
            }
            _ => Err("must be a non-empty array of role names, e.g. [\"Home\"]".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pointers(body: Value) -> Vec<String> {
        parse(&body).1.into_iter().map(|i| i.pointer).collect()
    }

    #[test]
    fn every_problem_is_reported_with_its_pointer() {
        let p = pointers(json!({
            "recruiting_request": "", "colour": "red", "availability_date": "2027-13-01",
            "person": {"first_name": "E", "birth_date": "02/04/1990",
                "skills": [{"skill": "CustFocus"}, 3],
                "contacts": [{"type": "email_address", "locator": "not-an-email"}],
                "addresses": [{"roles": []}], "pets": []}
        }));
        for want in [
            "/recruiting_request",
            "/colour",
            "/availability_date",
            "/person/birth_date",
            "/person/skills/0/rating_level",
            "/person/skills/1",
            "/person/contacts/0/locator",
            "/person/addresses/0/roles",
            "/person/pets",
        ] {
            assert!(p.contains(&want.to_string()), "{want} in {p:?}");
        }
    }

    #[test]
    fn a_number_out_of_range_is_told_its_bounds() {
        for n in [json!(1e20), json!(-1), json!(1e9)] {
            let (_, issues) = parse(&json!({"recruiting_request": "USMF-000001",
                "person": {"first_name": "E", "last_name": "V",
                    "skills": [{"skill": "CustFocus", "rating_level": "4", "years_of_experience": n}]}}));
            let issue = issues
                .iter()
                .find(|i| i.pointer == "/person/skills/0/years_of_experience")
                .unwrap_or_else(|| panic!("{n}: {issues:?}"));
            assert_eq!(issue.detail, "must be a number ≥ 0 and < 1000000000", "{n}");
        }
    }

    #[test]
    fn internal_candidates_carry_no_personal_data() {
        let p = pointers(
            json!({"recruiting_request": "USMF-000001", "person": {"party_number": "HR1", "first_name": "X"}}),
        );
        assert_eq!(p, vec!["/person/first_name".to_string()]);
        let p = pointers(
            json!({"recruiting_request": "USMF-000001", "person": {"party_number": "HR1", "contacts": [], "addresses": []}}),
        );
        assert_eq!(p, vec!["/person/contacts", "/person/addresses"]);
        let (ok, issues) =
            parse(&json!({"recruiting_request": "USMF-000001", "person": {"party_number": "HR1"}}));
        assert!(issues.is_empty(), "{issues:?}");
        assert!(
            matches!(ok.person, Some(PersonIn::Internal { ref party_number }) if party_number == "HR1")
        );
    }

    #[test]
    fn text_rejects_controls_bidi_overrides_and_zero_width_characters() {
        for bad in [
            "Eve\u{0}",
            "Eve\u{202E}lyn",
            "Eve\u{200B}",
            "\u{FEFF}Eve",
            "Eve\nlyn",
            "Eve\u{2067}",
        ] {
            assert!(unsafe_char(bad, false).is_some(), "{bad:?}");
        }
        assert!(unsafe_char("Ærøskøbing Ōno O'Brien-Smith", false).is_none());
        assert!(unsafe_char("line one\nline two\ttab", true).is_none());
        assert!(unsafe_char("nul\u{0}", true).is_some());
    }

    #[test]
    fn dates_are_bounded_and_collections_capped() {
        let p = pointers(
            json!({"recruiting_request": "R", "availability_date": "9999-12-31",
            "person": {"first_name": "A", "last_name": "B", "birth_date": "0001-01-01",
                "contacts": vec![json!({"type": "phone", "locator": "1"}); CONTACTS.max_items + 1]}}),
        );
        assert_eq!(
            p,
            vec![
                "/availability_date".to_string(),
                format!("/person/contacts/{}", CONTACTS.max_items),
                "/person/birth_date".to_string(),
            ]
        );
        assert!(pointers(
            json!({"recruiting_request": "R", "availability_date": "2100-12-31",
            "person": {"first_name": "A", "last_name": "B", "birth_date": "1900-01-01"}})
        )
        .is_empty());
    }
}
