//! Recruiting requests with their positions, skills and educations, spread over every status and
//! company (number sequence per company: `USMF-000001`, `NOMF-000001`…).

use serde_json::Value;
use uuid::Uuid;

use super::names::Locale;
use super::reference::{
    comp_band, rating_level_description, skill_description, CompanyRefs, JobProfile, PositionRef,
    Refs, DISCIPLINES, EDUCATION_LEVELS,
};
use super::{days_from_today, set, set_date, set_ref, Seeder};

/// en-US status labels with their relative weights.
pub(crate) const STATUS_WEIGHTS: &[(&str, u64)] = &[
    ("Draft", 10),
    ("In Review", 8),
    ("Pending", 8),
    ("Canceled", 7),
    ("Denied", 5),
    ("Active", 35),
    ("Closed", 27),
];

/// A generated request, as the candidate generator sees it.
#[derive(Debug, Clone)]
pub(crate) struct RequestRef {
    pub id: Uuid,
    pub number: String,
    pub company: usize,
    pub status: &'static str,
    pub job: &'static JobProfile,
    pub positions: Vec<PositionRef>,
}

/// The documented POST example targets request `USMF-000141` with position `000601`; that request
/// is generated for the job of that position so the example is consistent.
const EXAMPLE_REQUEST: usize = 141;
const EXAMPLE_POSITION: &str = "000601";

pub(crate) fn seed_recruiting(s: &mut Seeder, refs: &Refs, scale: usize) -> Vec<RequestRef> {
    let weights: Vec<u64> = refs.companies.iter().map(|c| c.def.weight).collect();
    let status_weights: Vec<u64> = STATUS_WEIGHTS.iter().map(|(_, w)| *w).collect();
    let mut seq = vec![0usize; refs.companies.len()];
    let mut out = Vec::with_capacity(scale);
    for i in 0..scale {
        // Cycle through statuses and companies for the first requests so tiny scales still cover all.
        let ci = if i < refs.companies.len() {
            i
        } else {
            s.rng.weighted(&weights)
        };
        let si = if i < STATUS_WEIGHTS.len() {
            i
        } else {
            s.rng.weighted(&status_weights)
        };
        seq[ci] += 1;
        out.push(seed_request(
            s,
            &refs.companies[ci],
            ci,
            seq[ci],
            STATUS_WEIGHTS[si].0,
        ));
    }
    out
}

fn example_position(c: &CompanyRefs) -> Option<(&'static JobProfile, PositionRef)> {
    c.jobs.iter().find_map(|j| {
        c.positions
            .get(j.id)?
            .iter()
            .find(|p| p.number == EXAMPLE_POSITION)
            .map(|p| (*j, p.clone()))
    })
}

fn start_offset(s: &mut Seeder, status: &str) -> i64 {
    match status {
        "Closed" | "Canceled" | "Denied" => s.rng.range(-900, -30),
        "Active" => s.rng.range(-60, 120),
        _ => s.rng.range(14, 200),
    }
}

fn position_status(s: &mut Seeder, status: &str) -> &'static str {
    match status {
        "Closed" => {
            if s.rng.chance(85) {
                "Filled"
            } else {
                "Canceled"
            }
        }
        "Canceled" | "Denied" => "Canceled",
        "Active" if s.rng.chance(30) => "Filled",
        _ => "Open",
    }
}

fn external_description(job: &JobProfile, company: &str, locale: Locale, city: &str) -> String {
    match locale {
        Locale::No => format!(
            "{company} søker {} til vårt kontor i {city}. Vi tilbyr spennende oppgaver, gode kolleger og konkurransedyktige betingelser.",
            job.description().to_lowercase()
        ),
        _ => format!(
            "{company} is looking for a {} to join our team in {city}. We offer challenging work, great colleagues and competitive pay.",
            job.description()
        ),
    }
}

fn seed_request(
    s: &mut Seeder,
    c: &CompanyRefs,
    ci: usize,
    n: usize,
    status: &'static str,
) -> RequestRef {
    let code = c.def.code;
    let number = format!("{}-{n:06}", code.to_uppercase());
    let example = if code == "usmf" && n == EXAMPLE_REQUEST {
        example_position(c)
    } else {
        None
    };
    let job = match &example {
        Some((j, _)) => *j,
        None => *s.rng.pick(&c.jobs),
    };
    let (id, mut row) = s.row("mshr_hcmrecruitingrequestentity");
    set(&mut row, "mshr_recruitingrequestid", number.as_str());
    set(&mut row, "mshr_dataareaid", code);
    set_ref(&mut row, "_mshr_dataareaid_id_value", Some(c.id));
    let manager = s.rng.pick(&c.workers).clone();
    set(
        &mut row,
        "mshr_hiringmanagerpersonnelnumber",
        manager.number.as_str(),
    );
    set_ref(
        &mut row,
        "_mshr_fk_hiringmanager_id_value",
        Some(manager.base_id),
    );
    let recruiter = s.rng.pick(&c.recruiters).clone();
    set(
        &mut row,
        "mshr_recruiterpartynumber",
        recruiter.party.as_str(),
    );
    set_ref(&mut row, "_mshr_fk_recruiter_id_value", Some(recruiter.id));
    let st = s.opt("mshr_hcmrecruitingrequeststatus", status);
    set(&mut row, "mshr_status", st);
    set(&mut row, "mshr_description", job.description());
    let city = if s.rng.chance(88) {
        let loc = s.rng.pick(&c.locations).clone();
        set(
            &mut row,
            "mshr_recruitingrequestlocationid",
            loc.key.as_str(),
        );
        set_ref(
            &mut row,
            "_mshr_fk_recruitingrequestlocation_id_value",
            Some(loc.id),
        );
        s.store
            .table("mshr_hcmrecruitingrequestlocationentity")
            .and_then(|t| t.get(&loc.id))
            .and_then(|r| r.get_str("mshr_city"))
            .unwrap_or_default()
            .to_string()
    } else {
        String::new()
    };
    if s.rng.chance(30) {
        let comment = match c.def.locale {
            Locale::No => "Budsjett godkjent av avdelingsleder.",
            _ => *s.rng.pick(&[
                "Budget approved by department head.",
                "Backfill for a leaver.",
                "New headcount for next quarter.",
                "Urgent: customer project starting soon.",
            ]),
        };
        set(&mut row, "mshr_comments", comment);
    }
    set(&mut row, "mshr_jobid", job.id);
    set_ref(
        &mut row,
        "_mshr_fk_job_id_value",
        s.id_of("mshr_hcmjobentity", job.id),
    );
    set(&mut row, "mshr_titleid", job.description());
    set_ref(
        &mut row,
        "_mshr_fk_title_id_value",
        s.id_of("mshr_hcmtitleentity", job.description()),
    );
    set(&mut row, "mshr_jobfunctionid", job.function);
    let fte = if s.rng.chance(85) { 1.0 } else { 0.5 };
    set(&mut row, "mshr_defaultfulltimeequivalency", fte);
    let cat = s.opt("mshr_hcmregulatoryjobcategory", job.category);
    set(&mut row, "mshr_regulatoryjobcategory", cat);
    set(&mut row, "mshr_jobtypeid", job.job_type);
    set_ref(
        &mut row,
        "_mshr_fk_jobtype_id_value",
        s.id_of("mshr_hcmjobtypeentity", job.job_type),
    );
    let ex = s.opt("cdm_jobexemptstatus", job.exempt);
    set(&mut row, "mshr_exemptstatus", ex);
    let start = start_offset(s, status);
    set_date(&mut row, "mshr_estimatedstartdate", days_from_today(start));
    let city_text = if city.is_empty() {
        locale_city(c.def.locale)
    } else {
        city.as_str()
    };
    set(
        &mut row,
        "mshr_externaldescription",
        external_description(job, c.def.name, c.def.locale, city_text),
    );
    let level = *s.rng.pick(job.levels);
    if let Some((low, mid, high)) = comp_band(level, code) {
        set(&mut row, "mshr_compensationlowthreshold", low);
        set(&mut row, "mshr_compensationcontrolpoint", mid);
        set(&mut row, "mshr_compensationhighthreshold", high);
    }
    set(&mut row, "mshr_compensationlevelid", level);
    set_ref(
        &mut row,
        "_mshr_fk_compensationlevel_id_value",
        s.id_of(
            "mshr_hcmjobcompensationentity",
            &format!("{code}|{}|{level}", job.id),
        ),
    );
    s.put("mshr_hcmrecruitingrequestentity", row, Some(&number));

    let positions = seed_positions(s, c, id, &number, status, job, example.map(|(_, p)| p));
    seed_skills(s, c, id, &number, job);
    seed_educations(s, c, id, &number, job);
    RequestRef {
        id,
        number,
        company: ci,
        status,
        job,
        positions,
    }
}

fn locale_city(locale: Locale) -> &'static str {
    match locale {
        Locale::Us => "Seattle",
        Locale::Uk => "London",
        Locale::No => "Oslo",
    }
}

/// Common columns of a request child: the request keys and the company.
fn child_row(
    s: &mut Seeder,
    logical: &'static str,
    c: &CompanyRefs,
    rr: Uuid,
    number: &str,
) -> (Uuid, serde_json::Map<String, Value>) {
    let (id, mut row) = s.row(logical);
    set(&mut row, "mshr_recruitingrequestid", number);
    set_ref(&mut row, "_mshr_fk_recruitingrequest_id_value", Some(rr));
    set(&mut row, "mshr_dataareaid", c.def.code);
    set_ref(&mut row, "_mshr_dataareaid_id_value", Some(c.id));
    (id, row)
}

/// Distinct indexes into a list of `len` items, `count` of them (fewer if the list is short).
fn distinct(s: &mut Seeder, len: usize, count: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::with_capacity(count);
    let mut guard = 0;
    while out.len() < count.min(len) && guard < 64 {
        let i = s.rng.below(len);
        if !out.contains(&i) {
            out.push(i);
        }
        guard += 1;
    }
    out
}

// Seeding threads the generator state through every table; a struct would only rename the list.
#[allow(clippy::too_many_arguments)]
fn seed_positions(
    s: &mut Seeder,
    c: &CompanyRefs,
    rr: Uuid,
    number: &str,
    status: &str,
    job: &JobProfile,
    forced: Option<PositionRef>,
) -> Vec<PositionRef> {
    let pool: &[PositionRef] = c.positions.get(job.id).map_or(&[], Vec::as_slice);
    let count = s.rng.weighted(&[15, 50, 25, 10]);
    let mut chosen: Vec<PositionRef> = distinct(s, pool.len(), count)
        .into_iter()
        .map(|i| pool[i].clone())
        .collect();
    if let Some(p) = forced {
        chosen.retain(|x| x.number != p.number);
        chosen.insert(0, p);
    }
    for p in &chosen {
        let (_, mut row) = child_row(s, "mshr_hcmrecruitingrequestpositionentity", c, rr, number);
        set(&mut row, "mshr_positionid", p.number.as_str());
        set_ref(&mut row, "_mshr_fk_position_id_value", Some(p.id));
        set(&mut row, "mshr_description", p.description);
        set(&mut row, "mshr_positiontypeid", p.position_type);
        set_ref(
            &mut row,
            "_mshr_fk_positiontype_id_value",
            s.id_of("mshr_hcmpositiontypeentity", p.position_type),
        );
        let ps = position_status(s, status);
        let v = s.opt("mshr_hcmrecruitingrequestpositionstatus", ps);
        set(&mut row, "mshr_status", v);
        set(&mut row, "mshr_departmentnumber", p.department);
        set_ref(
            &mut row,
            "_mshr_fk_department_id_value",
            Some(p.department_id),
        );
        if let Some((hp, hw)) = c.heads.get(p.department) {
            set(&mut row, "mshr_reportstopositionid", hp.number.as_str());
            set_ref(&mut row, "_mshr_fk_reportstoposition_id_value", Some(hp.id));
            set(
                &mut row,
                "mshr_reportstopersonnelnumber",
                hw.number.as_str(),
            );
            set_ref(
                &mut row,
                "_mshr_fk_reportstoworker_id_value",
                Some(hw.base_id),
            );
        }
        set(&mut row, "mshr_financialdimension", p.cost_center.as_str());
        s.put("mshr_hcmrecruitingrequestpositionentity", row, None);
    }
    chosen
}

fn seed_skills(s: &mut Seeder, c: &CompanyRefs, rr: Uuid, number: &str, job: &JobProfile) {
    let count = 1 + s.rng.weighted(&[25, 40, 25, 10]);
    let model_id = s.id_of("mshr_hcmratingmodelentity", "Skills");
    for i in distinct(s, job.skills.len(), count) {
        let skill = job.skills[i];
        let (_, mut row) = child_row(s, "mshr_hcmrecruitingrequestskillentity", c, rr, number);
        set(&mut row, "mshr_skillid", skill);
        set_ref(
            &mut row,
            "_mshr_fk_skill_id_value",
            s.id_of("mshr_hcmskillentity", skill),
        );
        let level = s.rng.range(2, 5).to_string();
        set(&mut row, "mshr_ratinglevelid", level.as_str());
        set_ref(
            &mut row,
            "_mshr_fk_ratinglevel_id_value",
            s.id_of("mshr_hcmratinglevelentity", &format!("Skills|{level}")),
        );
        set(
            &mut row,
            "mshr_skilldescription",
            skill_description(skill).unwrap_or_default(),
        );
        set(
            &mut row,
            "mshr_ratingleveldescription",
            rating_level_description("Skills", &level).unwrap_or_default(),
        );
        set(&mut row, "mshr_ratingmodelid", "Skills");
        set_ref(&mut row, "_mshr_fk_ratingmodel_id_value", model_id);
        s.put("mshr_hcmrecruitingrequestskillentity", row, None);
    }
}

fn seed_educations(s: &mut Seeder, c: &CompanyRefs, rr: Uuid, number: &str, job: &JobProfile) {
    let count = s.rng.weighted(&[30, 50, 20]);
    for i in distinct(s, job.education.len(), count) {
        let (level, discipline) = job.education[i];
        let (_, mut row) = child_row(s, "mshr_hcmrecruitingrequesteducationentity", c, rr, number);
        set(&mut row, "mshr_educationlevelid", level);
        set_ref(
            &mut row,
            "_mshr_fk_educationlevel_id_value",
            s.id_of("mshr_hcmeducationlevelentity", level),
        );
        let ld = EDUCATION_LEVELS
            .iter()
            .find(|(l, _)| *l == level)
            .map_or("", |(_, d)| *d);
        set(&mut row, "mshr_educationleveldescription", ld);
        set(&mut row, "mshr_educationdisciplineid", discipline);
        set_ref(
            &mut row,
            "_mshr_fk_educationdiscipline_id_value",
            s.id_of("mshr_hcmeducationdisciplineentity", discipline),
        );
        let dd = DISCIPLINES
            .iter()
            .find(|(d, _)| *d == discipline)
            .map_or("", |(_, d)| *d);
        set(&mut row, "mshr_educationdisciplinedescription", dd);
        s.put("mshr_hcmrecruitingrequesteducationentity", row, None);
    }
}
