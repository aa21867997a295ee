//! Reference (lookup target) tables: companies, workers, recruiters, jobs and their satellites,
//! positions, departments, skills, education, countries and the small code tables. The catalogs are
//! public so that writes can derive the values HR copies from a job onto a recruiting request.

use std::collections::HashMap;

use serde_json::Value;
use uuid::Uuid;

use super::names::{ascii_slug, locale_data, Locale};
use super::{set, set_ref, Seeder};

mod codes;
mod companies;
mod jobs;

use codes::{COUNTRIES, POSITION_TYPES};
use jobs::{JOB_FUNCTIONS, JOB_TYPES};

pub(crate) use codes::{
    rating_level_description, skill_description, Agency, CertificateType, Department, RatingModel,
    ScreeningType, AGENCIES, CERTIFICATE_TYPES, DEPARTMENTS, DISCIPLINES, EDUCATION_LEVELS,
    ID_TYPES, INSTITUTIONS, RATING_MODELS, REASON_CODES, SCREENING_TYPES, SKILLS, VETERAN_STATUSES,
};
pub(crate) use companies::{comp_band, CompanyDef, COMPANIES};
pub(crate) use jobs::{job_profile, JobProfile, JOBS};

/// First position number; chosen so usmf holds position `000601` of the documented POST example.
const FIRST_POSITION: u32 = 520;
const POSITIONS_PER_JOB: usize = 5;
const WORKERS_PER_COMPANY: usize = 30;
const RECRUITERS_PER_COMPANY: usize = 3;

#[derive(Debug, Clone)]
pub(crate) struct WorkerRef {
    pub number: String,
    pub base_id: Uuid,
    pub worker_id: Uuid,
}

#[derive(Debug, Clone)]
pub(crate) struct PersonRef {
    pub party: String,
    pub id: Uuid,
}

#[derive(Debug, Clone)]
pub(crate) struct PositionRef {
    pub number: String,
    pub id: Uuid,
    pub description: &'static str,
    pub department: &'static str,
    pub department_id: Uuid,
    pub position_type: &'static str,
    pub cost_center: String,
}

#[derive(Debug, Clone)]
pub(crate) struct LocationRef {
    pub id: Uuid,
    pub key: String,
}

/// What the request and candidate generators need from the reference data of one company.
pub(crate) struct CompanyRefs {
    pub def: &'static CompanyDef,
    pub id: Uuid,
    pub workers: Vec<WorkerRef>,
    pub recruiters: Vec<PersonRef>,
    pub locations: Vec<LocationRef>,
    pub jobs: Vec<&'static JobProfile>,
    pub positions: HashMap<&'static str, Vec<PositionRef>>,
    /// Department number → (head position, head worker).
    pub heads: HashMap<&'static str, (PositionRef, WorkerRef)>,
}

pub(crate) struct Refs {
    pub companies: Vec<CompanyRefs>,
    /// Next free party number (candidates continue the recruiters' sequence).
    pub next_party: u32,
}

fn simple_table(s: &mut Seeder, logical: &'static str, cols: [&str; 2], rows: &[(&str, &str)]) {
    for (id, desc) in rows {
        let (_, mut row) = s.row(logical);
        set(&mut row, cols[0], *id);
        set(&mut row, cols[1], *desc);
        s.put(logical, row, Some(id));
    }
}

fn seed_companies(s: &mut Seeder) {
    for c in COMPANIES {
        let (_, mut row) = s.row("cdm_company");
        set(&mut row, "cdm_companyid", c.guid);
        set(&mut row, "cdm_companycode", c.code);
        set(&mut row, "cdm_name", c.name);
        s.put("cdm_company", row, Some(c.code));
    }
}

fn seed_code_tables(s: &mut Seeder) {
    let desc = "mshr_description";
    simple_table(
        s,
        "mshr_hcmjobfunctionentity",
        ["mshr_jobfunctionid", desc],
        JOB_FUNCTIONS,
    );
    simple_table(
        s,
        "mshr_hcmjobtypeentity",
        ["mshr_jobtypeid", desc],
        JOB_TYPES,
    );
    simple_table(
        s,
        "mshr_hcmpositiontypeentity",
        ["mshr_positiontypeid", desc],
        POSITION_TYPES,
    );
    simple_table(s, "mshr_hcmskillentity", ["mshr_skillid", desc], SKILLS);
    simple_table(
        s,
        "mshr_hcmeducationlevelentity",
        ["mshr_educationlevelid", desc],
        EDUCATION_LEVELS,
    );
    simple_table(
        s,
        "mshr_hcmeducationdegreeentity",
        ["mshr_educationlevelid", desc],
        EDUCATION_LEVELS,
    );
    simple_table(
        s,
        "mshr_hcmeducationdisciplineentity",
        ["mshr_educationdisciplineid", desc],
        DISCIPLINES,
    );
    let inst: Vec<(&str, &str)> = INSTITUTIONS.iter().map(|i| (i.id, i.name)).collect();
    simple_table(
        s,
        "mshr_hcmeducationinstitutionentity",
        ["mshr_educationinstitutionid", "mshr_name"],
        &inst,
    );
    simple_table(
        s,
        "mshr_logisticsaddresscountryregionentity",
        ["mshr_countryregionid", "mshr_shortname"],
        COUNTRIES,
    );
    simple_table(
        s,
        "mshr_hcmveteranstatusentity",
        ["mshr_veteranstatusid", desc],
        VETERAN_STATUSES,
    );
    simple_table(
        s,
        "mshr_hcmreasoncodeentity",
        ["mshr_reasoncodeid", desc],
        REASON_CODES,
    );
    let ids: Vec<(&str, &str)> = ID_TYPES.iter().map(|t| (t.id, t.description)).collect();
    simple_table(
        s,
        "mshr_hcmidentificationtypeentity",
        ["mshr_identificationtypeid", desc],
        &ids,
    );
    let ags: Vec<(&str, &str)> = AGENCIES.iter().map(|a| (a.id, a.description)).collect();
    simple_table(
        s,
        "mshr_hcmissuingagencyentity",
        ["mshr_issuingagencyid", desc],
        &ags,
    );
    let deps: Vec<(&str, &str)> = DEPARTMENTS.iter().map(|d| (d.number, d.name)).collect();
    simple_table(
        s,
        "mshr_omdepartmententity",
        ["mshr_operatingunitnumber", "mshr_name"],
        &deps,
    );
    let jobs: Vec<(&str, &str)> = JOBS.iter().map(|j| (j.id, j.description())).collect();
    simple_table(s, "mshr_hcmjobentity", ["mshr_jobid", desc], &jobs);
    for j in JOBS {
        let (_, mut row) = s.row("mshr_hcmtitleentity");
        set(&mut row, "mshr_titleid", j.description());
        s.put("mshr_hcmtitleentity", row, Some(j.description()));
    }
    seed_ratings(s);
    seed_certificates_and_screenings(s);
}

fn seed_ratings(s: &mut Seeder) {
    for RatingModel {
        id: model,
        description: desc,
        levels,
    } in RATING_MODELS
    {
        let (model_id, mut row) = s.row("mshr_hcmratingmodelentity");
        set(&mut row, "mshr_ratingmodelid", *model);
        set(&mut row, "mshr_description", *desc);
        s.put("mshr_hcmratingmodelentity", row, Some(model));
        for (i, (level, ldesc)) in levels.iter().enumerate() {
            let (_, mut row) = s.row("mshr_hcmratinglevelentity");
            set(&mut row, "mshr_ratinglevelid", *level);
            set(&mut row, "mshr_ratingmodelid", *model);
            set_ref(
                &mut row,
                "_mshr_fk_ratingmodelentity_id_value",
                Some(model_id),
            );
            set(&mut row, "mshr_description", *ldesc);
            set(&mut row, "mshr_factor", (i as i64 + 1) * 2 - 1);
            set(&mut row, "mshr_note", Value::Null);
            s.put(
                "mshr_hcmratinglevelentity",
                row,
                Some(&format!("{model}|{level}")),
            );
        }
    }
}

fn seed_certificates_and_screenings(s: &mut Seeder) {
    for CertificateType {
        id: ty,
        description: desc,
        requires_renewal: renew,
    } in CERTIFICATE_TYPES
    {
        let (_, mut row) = s.row("mshr_hcmcertificatetypeentity");
        set(&mut row, "mshr_certificatetype", *ty);
        set(&mut row, "mshr_description", *desc);
        let v = s.opt("mshr_noyes", if *renew { "Yes" } else { "No" });
        set(&mut row, "mshr_requirerenewal", v);
        s.put("mshr_hcmcertificatetypeentity", row, Some(ty));
    }
    for ScreeningType {
        id: ty,
        description: desc,
        frequency_unit: unit,
        generate_from: from,
        interval,
    } in SCREENING_TYPES
    {
        let (_, mut row) = s.row("mshr_hcmscreeningtypeentity");
        set(&mut row, "mshr_screeningtypeid", *ty);
        set(&mut row, "mshr_description", *desc);
        let u = s.opt("mshr_hcmfrequencyunit", unit);
        let g = s.opt("mshr_hcmfrequencygeneratefrom", from);
        set(&mut row, "mshr_frequencyunit", u);
        set(&mut row, "mshr_generatefrom", g);
        set(&mut row, "mshr_frequencyinterval", *interval);
        s.put("mshr_hcmscreeningtypeentity", row, Some(ty));
    }
}

/// A worker in both worker tables (base worker for hiring managers, worker for skill certifiers).
fn seed_worker(s: &mut Seeder, number: String, name: &str) -> WorkerRef {
    let (base_id, mut row) = s.row("mshr_hcmworkerbaseentity");
    set(&mut row, "mshr_personnelnumber", number.as_str());
    set(&mut row, "mshr_name", name);
    s.put("mshr_hcmworkerbaseentity", row, Some(&number));
    let (worker_id, mut row) = s.row("mshr_hcmworkerentity");
    set(&mut row, "mshr_personnelnumber", number.as_str());
    set(&mut row, "mshr_name", name);
    s.put("mshr_hcmworkerentity", row, Some(&number));
    WorkerRef {
        number,
        base_id,
        worker_id,
    }
}

/// A random (first, last, female?) for a locale.
pub(crate) fn random_name(s: &mut Seeder, locale: Locale) -> (&'static str, &'static str, bool) {
    let l = locale_data(locale);
    let female = s.rng.chance(50);
    let first = if female {
        *s.rng.pick(l.female)
    } else {
        *s.rng.pick(l.male)
    };
    (first, *s.rng.pick(l.last), female)
}

/// A person row with the name, contact and address columns a directory person carries.
pub(crate) fn person_row(
    s: &mut Seeder,
    party: &str,
    first: &str,
    last: &str,
    female: bool,
    locale: Locale,
) -> (Uuid, serde_json::Map<String, Value>) {
    let l = locale_data(locale);
    let (id, mut row) = s.row("mshr_dirpersonentity");
    set(&mut row, "mshr_partynumber", party);
    set(&mut row, "mshr_firstname", first);
    set(&mut row, "mshr_lastname", last);
    set(&mut row, "mshr_namesequencedisplayas", "FirstMiddleLast");
    set(&mut row, "mshr_name", format!("{first} {last}"));
    set(&mut row, "mshr_namealias", format!("{first} {last}"));
    set(&mut row, "mshr_knownas", first);
    set(
        &mut row,
        "mshr_initials",
        format!(
            "{}{}",
            first.chars().next().unwrap_or('X'),
            last.chars().next().unwrap_or('X')
        ),
    );
    set(&mut row, "mshr_languageid", l.language);
    set(&mut row, "mshr_partytype", "Person");
    set(&mut row, "mshr_addressbooks", "Applicants");
    let g = s.opt(
        "mshr_hcmpersongender",
        if female { "Female" } else { "Male" },
    );
    set(&mut row, "mshr_gender", g);
    let email = format!(
        "{}.{}@{}",
        ascii_slug(first),
        ascii_slug(last),
        l.email_domain
    );
    set(&mut row, "mshr_primarycontactemail", email);
    set(&mut row, "mshr_primarycontactemaildescription", "Email");
    set(&mut row, "mshr_primarycontactemailpurpose", "Business");
    let no = s.opt("mshr_noyes", "No");
    set(&mut row, "mshr_primarycontactemailisim", no.clone());
    let phone = format!("{} {}", l.phone_prefix, s.rng.range(20_000_000, 99_999_999));
    set(&mut row, "mshr_primarycontactphone", phone);
    set(&mut row, "mshr_primarycontactphonedescription", "Mobile");
    set(&mut row, "mshr_primarycontactphonepurpose", "Business");
    let yes = s.opt("mshr_noyes", "Yes");
    set(&mut row, "mshr_primarycontactphoneismobile", yes);
    for flag in [
        "mshr_primarycontactfacebookisprivate",
        "mshr_primarycontactlinkedinisprivate",
        "mshr_primarycontacttwitterisprivate",
        "mshr_addressisprivate",
    ] {
        set(&mut row, flag, no.clone());
    }
    (id, row)
}

fn seed_company_people(
    s: &mut Seeder,
    c: &'static CompanyDef,
    next_worker: &mut u32,
    next_party: &mut u32,
) -> (Vec<WorkerRef>, Vec<PersonRef>) {
    let mut workers = Vec::new();
    for _ in 0..WORKERS_PER_COMPANY {
        let (first, last, _) = random_name(s, c.locale);
        let number = format!("{:06}", *next_worker);
        *next_worker += 1;
        workers.push(seed_worker(s, number, &format!("{first} {last}")));
    }
    let mut recruiters = Vec::new();
    for _ in 0..RECRUITERS_PER_COMPANY {
        let (first, last, female) = random_name(s, c.locale);
        let party = format!("HR{:09}", *next_party);
        *next_party += 1;
        let (id, mut row) = person_row(s, &party, first, last, female, c.locale);
        set(&mut row, "mshr_addressbooks", "Recruiters");
        set(
            &mut row,
            "mshr_professionaltitle",
            if c.locale == Locale::No {
                "Rekrutterer"
            } else {
                "Recruiter"
            },
        );
        s.put("mshr_dirpersonentity", row, Some(&party));
        recruiters.push(PersonRef { party, id });
    }
    (workers, recruiters)
}

fn seed_locations(
    s: &mut Seeder,
    c: &'static CompanyDef,
    company_id: Uuid,
    next_loc: &mut u32,
) -> Vec<LocationRef> {
    let l = locale_data(c.locale);
    let mut out = Vec::new();
    for city in l.cities {
        let slug: String = ascii_slug(city.name)
            .to_uppercase()
            .chars()
            .take(4)
            .collect();
        let key = format!("{}-{slug}", c.code.to_uppercase());
        let (id, mut row) = s.row("mshr_hcmrecruitingrequestlocationentity");
        set(&mut row, "mshr_recruitingrequestlocationid", key.as_str());
        set(&mut row, "mshr_locationid", format!("{:09}", *next_loc));
        *next_loc += 1;
        let desc = match c.locale {
            Locale::No => format!("{} kontor", city.name),
            _ => format!("{} office", city.name),
        };
        set(&mut row, "mshr_description", desc);
        set(&mut row, "mshr_countryregionid", l.country);
        set_ref(
            &mut row,
            "_mshr_fk_countryregion_id_value",
            s.id_of("mshr_logisticsaddresscountryregionentity", l.country),
        );
        set(&mut row, "mshr_zipcode", city.zip);
        let street = *s.rng.pick(l.streets);
        set(&mut row, "mshr_street", street);
        set(&mut row, "mshr_city", city.name);
        set(&mut row, "mshr_state", city.state);
        set(&mut row, "mshr_county", city.county);
        let phone = format!("{} {}", l.phone_prefix, s.rng.range(20_000_000, 99_999_999));
        set(&mut row, "mshr_telephone", phone);
        set(
            &mut row,
            "mshr_email",
            format!("recruiting@{}", l.email_domain),
        );
        set(
            &mut row,
            "mshr_internetaddress",
            format!("https://www.{}/careers", l.email_domain),
        );
        set(&mut row, "mshr_dataareaid", c.code);
        set_ref(&mut row, "_mshr_dataareaid_id_value", Some(company_id));
        s.put("mshr_hcmrecruitingrequestlocationentity", row, Some(&key));
        out.push(LocationRef { id, key });
    }
    out
}

fn seed_position(
    s: &mut Seeder,
    c: &CompanyDef,
    company_id: Uuid,
    job: &'static JobProfile,
    number: String,
) -> PositionRef {
    let department_id = s
        .id_of("mshr_omdepartmententity", job.department)
        .unwrap_or_default();
    let (id, mut row) = s.row("mshr_hcmpositionv2entity");
    set(&mut row, "mshr_positionid", number.as_str());
    set(&mut row, "mshr_description", job.description());
    set(&mut row, "mshr_dataareaid", c.code);
    set_ref(&mut row, "_mshr_dataareaid_id_value", Some(company_id));
    set_ref(
        &mut row,
        "_mshr_fk_job_id_value",
        s.id_of("mshr_hcmjobentity", job.id),
    );
    set_ref(
        &mut row,
        "_mshr_fk_department_id_value",
        Some(department_id),
    );
    s.put("mshr_hcmpositionv2entity", row, Some(&number));
    let types: &[&'static str] = if c.locale == Locale::No {
        &["Heltid", "Heltid", "Heltid", "Deltid", "Midlertidig"]
    } else {
        &[
            "Full-time",
            "Full-time",
            "Full-time",
            "Full-time",
            "Part-time",
            "Temporary",
            "Intern",
        ]
    };
    PositionRef {
        number,
        id,
        description: job.description(),
        department: job.department,
        department_id,
        position_type: types[s.rng.below(types.len())],
        cost_center: format!("0{}", &job.department[1..]),
    }
}

fn seed_company_jobs(s: &mut Seeder, cr: &mut CompanyRefs, next_position: &mut u32) {
    let c = cr.def;
    let norwegian = c.locale == Locale::No;
    let jobs: Vec<&'static JobProfile> = JOBS.iter().filter(|j| j.norwegian == norwegian).collect();
    for j in &jobs {
        for level in j.levels {
            let (_, mut row) = s.row("mshr_hcmjobcompensationentity");
            set(&mut row, "mshr_jobid", j.id);
            set(&mut row, "mshr_compensationlevelid", *level);
            set(&mut row, "mshr_dataareaid", c.code);
            s.put(
                "mshr_hcmjobcompensationentity",
                row,
                Some(&format!("{}|{}|{level}", c.code, j.id)),
            );
        }
    }
    let head_job = jobs.iter().find(|j| j.head).copied();
    let departments = DEPARTMENTS.iter().filter(|d| d.norwegian == norwegian);
    for (i, Department { number: dep, .. }) in departments.enumerate() {
        let Some(hj) = head_job else { break };
        let mut p = seed_position(s, c, cr.id, hj, format!("{:06}", *next_position));
        *next_position += 1;
        p.department = dep;
        p.department_id = s.id_of("mshr_omdepartmententity", dep).unwrap_or_default();
        let w = cr.workers[i % cr.workers.len()].clone();
        cr.heads.insert(dep, (p, w));
    }
    for j in jobs.iter().filter(|j| !j.head) {
        let mut list = Vec::new();
        for _ in 0..POSITIONS_PER_JOB {
            list.push(seed_position(
                s,
                c,
                cr.id,
                j,
                format!("{:06}", *next_position),
            ));
            *next_position += 1;
        }
        cr.positions.insert(j.id, list);
        cr.jobs.push(j);
    }
}

/// Seeds every reference table and returns what the transactional generators need.
pub(crate) fn seed_reference(s: &mut Seeder) -> Refs {
    seed_companies(s);
    seed_code_tables(s);
    let mut next_worker = 301;
    let mut next_party = 501;
    let mut next_loc = 3201;
    let mut next_position = FIRST_POSITION;
    let mut companies = Vec::new();
    for c in COMPANIES {
        let id = s.id_of("cdm_company", c.code).unwrap_or_default();
        let (workers, recruiters) = seed_company_people(s, c, &mut next_worker, &mut next_party);
        let locations = seed_locations(s, c, id, &mut next_loc);
        let mut cr = CompanyRefs {
            def: c,
            id,
            workers,
            recruiters,
            locations,
            jobs: Vec::new(),
            positions: HashMap::new(),
            heads: HashMap::new(),
        };
        seed_company_jobs(s, &mut cr, &mut next_position);
        companies.push(cr);
    }
    Refs {
        companies,
        next_party: 1001,
    }
}
