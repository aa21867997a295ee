//! The allow-list: the only fields of a recruiting request a board may show, copied by name from
//! the partner representation (the change scanner's `data`, the cold read's rendering). Anything
//! not named here (hiring manager, recruiter, reports-to, internal `description` and `comments`,
//! the location's e-mail and telephone, candidates) never reaches a board.

use serde_json::Value;
use uuid::Uuid;

use super::sanitize;

/// The public facts of one recruiting request, plus what the snapshot needs to filter
/// (`company`, `status`), which no response shows.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicJob {
    pub id: Uuid,
    pub company: String,
    pub status: String,
    pub number: Option<String>,
    pub title: Option<String>,
    pub job: Option<String>,
    pub department: Option<String>,
    pub location: Option<Place>,
    pub employment_type: Option<EmploymentType>,
    pub openings: u32,
    pub estimated_start: Option<String>,
    /// `external_description`, sanitised.
    pub description_html: Option<String>,
    /// The same as plain text, references decoded (search, meta description): escape it on output.
    pub description_text: Option<String>,
    pub skills: Vec<String>,
    pub education: Vec<String>,
    pub pay: Option<Pay>,
}

/// The workplace: a location's name and postal address (never its e-mail or telephone).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Place {
    pub name: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl Place {
    /// One line for lists and filters: the city, else the location's name.
    pub fn label(&self) -> Option<&str> {
        self.city.as_deref().or(self.name.as_deref())
    }
}

/// schema.org's `employmentType` values the positions' types map onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmploymentType {
    FullTime,
    PartTime,
    Temporary,
    Contractor,
    Intern,
}

impl EmploymentType {
    pub fn schema_org(self) -> &'static str {
        match self {
            EmploymentType::FullTime => "FULL_TIME",
            EmploymentType::PartTime => "PART_TIME",
            EmploymentType::Temporary => "TEMPORARY",
            EmploymentType::Contractor => "CONTRACTOR",
            EmploymentType::Intern => "INTERN",
        }
    }

    /// From a position type's code or name (`Full-time`, `Part-time employee`).
    fn from_text(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        if s.contains("full") {
            Some(EmploymentType::FullTime)
        } else if s.contains("part") {
            Some(EmploymentType::PartTime)
        } else if s.contains("temp") || s.contains("season") {
            Some(EmploymentType::Temporary)
        } else if s.contains("contract") {
            Some(EmploymentType::Contractor)
        } else if s.contains("intern") {
            Some(EmploymentType::Intern)
        } else {
            None
        }
    }
}

/// The compensation thresholds HR set (shown only on boards with pay transparency).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pay {
    pub low: Option<f64>,
    pub high: Option<f64>,
}

fn text(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A lookup's display name, else its code.
fn lookup(v: &Value, ptr: &str) -> Option<String> {
    text(v, &format!("{ptr}/name")).or_else(|| text(v, &format!("{ptr}/code")))
}

fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The public projection of a partner representation (`None` without an id).
pub fn project(data: &Value, company: &str) -> Option<PublicJob> {
    let id = data
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())?;
    let positions = items(data, "positions");
    let department = positions.iter().find_map(|p| lookup(p, "/department"));
    let employment_type = positions
        .iter()
        .find_map(|p| {
            text(p, "/position_type/code")
                .and_then(|t| EmploymentType::from_text(&t))
                .or_else(|| {
                    text(p, "/position_type/name").and_then(|t| EmploymentType::from_text(&t))
                })
        })
        .or_else(|| {
            data.get("full_time_equivalent")
                .and_then(Value::as_f64)
                .map(|f| match f >= 1.0 {
                    true => EmploymentType::FullTime,
                    false => EmploymentType::PartTime,
                })
        });
    let open = positions
        .iter()
        .filter(|p| text(p, "/status/key").as_deref() == Some("open"))
        .count();
    // A request without open positions still advertises one opening.
    let openings = u32::try_from(open.max(1)).unwrap_or(u32::MAX);
    let location = data
        .get("location_detail")
        .filter(|l| l.is_object())
        .map(|l| Place {
            name: text(l, "/name"),
            street: text(l, "/street"),
            city: text(l, "/city"),
            region: text(l, "/state"),
            postal_code: text(l, "/zip_code"),
            country: text(l, "/country_region"),
        })
        .or_else(|| {
            lookup(data, "/location").map(|name| Place {
                name: Some(name),
                ..Place::default()
            })
        });
    let skills = items(data, "skills")
        .iter()
        .filter_map(|s| lookup(s, "/skill"))
        .collect();
    let education = items(data, "education")
        .iter()
        .filter_map(|e| {
            let level = lookup(e, "/education_level");
            let discipline = lookup(e, "/discipline");
            match (level, discipline) {
                (Some(l), Some(d)) => Some(format!("{l}, {d}")),
                (l, d) => l.or(d),
            }
        })
        .collect();
    let num = |p: &str| data.pointer(p).and_then(Value::as_f64);
    let pay = Some(Pay {
        low: num("/compensation/low"),
        high: num("/compensation/high"),
    })
    .filter(|p| p.low.is_some() || p.high.is_some());
    let external = text(data, "/external_description");
    let description_html = external
        .as_deref()
        .map(sanitize::clean)
        .filter(|d| !d.trim().is_empty());
    // From HR's HTML, not the cleaned one: the allow-list unwraps table cells and the blocks it
    // does not list (`<section>`, `<h1>`…), whose ends still separate words.
    let description_text = external
        .as_deref()
        .map(sanitize::plain)
        .filter(|d| !d.is_empty());
    let company = text(data, "/company/code").unwrap_or_else(|| company.to_string());
    Some(PublicJob {
        id,
        company: company.to_ascii_lowercase(),
        status: text(data, "/status/key").unwrap_or_default(),
        number: text(data, "/number"),
        title: lookup(data, "/title").or_else(|| lookup(data, "/job")),
        job: lookup(data, "/job"),
        department,
        location,
        employment_type,
        openings,
        estimated_start: text(data, "/estimated_start_date"),
        description_html,
        description_text,
        skills,
        education,
        pay,
    })
}

impl PublicJob {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_allow_listed_fields_survive() {
        let data = json!({
            "id": "000028a1-0000-0000-0000-000150000000",
            "number": "USMF-000001",
            "company": {"code": "USMF", "name": "Contoso"},
            "description": "internal text",
            "external_description": "<p onclick=\"x()\">Join <script>alert(1)</script>us</p>",
            "status": {"key": "active", "label": "Active"},
            "hiring_manager": {"name": "Victoria Brown"},
            "recruiter": {"name": "Lily Garcia"},
            "title": {"code": "QI", "name": "Quality Inspector"},
            "job": {"code": "QI", "name": "Quality Inspector"},
            "comments": "Budget approved",
            "full_time_equivalent": 0.5,
            "compensation": {"low": 1.0, "high": 2.0, "control_point": 1.5},
            "positions": [{"status": {"key": "open"}, "department": {"name": "Production"},
                           "reports_to_worker": {"name": "Logan Garcia"}}],
            "location_detail": {"name": "Chicago office", "city": "Chicago", "email": "r@contoso.com", "telephone": "555"}
        });
        let job = project(&data, "usmf").expect("projected");
        let shown = format!("{job:?}");
        for secret in [
            "Victoria",
            "Lily",
            "Logan",
            "internal text",
            "Budget",
            "r@contoso",
            "555",
            "<script",
            "onclick",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert_eq!(job.company, "usmf");
        assert_eq!(job.department.as_deref(), Some("Production"));
        assert_eq!(job.employment_type, Some(EmploymentType::PartTime));
        assert_eq!(job.description_html.as_deref(), Some("<p>Join us</p>"));
        assert!(job.is_active());
    }
}
