//! Candidates to hire (every `mshr_applicantintegrationresult` value), each with a person and person
//! children of all eight kinds.

use chrono::NaiveDate;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::names::{ascii_slug, locale_data, Locale};
use super::recruiting::RequestRef;
use super::reference::{
    person_row, random_name, rating_level_description, Agency, CompanyRefs, Refs, AGENCIES,
    CERTIFICATE_TYPES, ID_TYPES, INSTITUTIONS,
};
use super::{birth_parts, days_from_today, set, set_date, set_ref, Seeder};

pub(crate) const CANDIDATES: usize = 60;
const RESULTS: &[&str] = &["Not processed", "Hired", "Not hired", "Dismissed"];

const EMPLOYERS_US: &[&str] = &[
    "Fabrikam, Inc.",
    "Litware, Inc.",
    "Adventure Works",
    "Tailspin Toys",
    "Northwind Traders",
    "Wide World Importers",
];
const EMPLOYERS_UK: &[&str] = &[
    "Fourth Coffee Ltd",
    "Woodgrove Bank plc",
    "Proseware Ltd",
    "Alpine Ski House UK",
];
const EMPLOYERS_NO: &[&str] = &[
    "Nordlys Data AS",
    "Fjordkraft Tjenester AS",
    "Bergen Logistikk AS",
    "Trondheim Elektro AS",
    "Vestland Regnskap AS",
];

/// The first candidate's surname (see `seed_candidate`).
pub(crate) const APOSTROPHE_SURNAME: &str = "O'Bryan";

/// Running numbers of the person children's readable location ids.
struct Counters {
    location: u32,
}

pub(crate) fn seed_candidates(s: &mut Seeder, refs: &Refs, requests: &[RequestRef]) {
    let eligible: Vec<&RequestRef> = requests
        .iter()
        .filter(|r| r.status == "Active" || r.status == "Closed")
        .collect();
    let mut counters = Counters { location: 5001 };
    for j in 0..CANDIDATES {
        let request = if eligible.is_empty() {
            None
        } else {
            Some(eligible[s.rng.below(eligible.len())])
        };
        let ci = request.map_or(j % refs.companies.len(), |r| r.company);
        let party = format!("HR{:09}", refs.next_party as usize + j);
        seed_candidate(s, &refs.companies[ci], request, &party, j, &mut counters);
    }
}

fn seed_candidate(
    s: &mut Seeder,
    c: &CompanyRefs,
    request: Option<&RequestRef>,
    party: &str,
    j: usize,
    k: &mut Counters,
) {
    let locale = c.def.locale;
    let l = locale_data(locale);
    let (first, last, female) = random_name(s, locale);
    // One fixed surname with an apostrophe, so doubled-quote literals (`'O''Bryan'`) have exactly one row
    // to match; the random draw above still happens, keeping the rest of the seed unchanged.
    let last = if j == 0 { APOSTROPHE_SURNAME } else { last };
    let birth = NaiveDate::from_ymd_opt(
        s.rng.range(1965, 2002) as i32,
        s.rng.range(1, 12) as u32,
        s.rng.range(1, 28) as u32,
    )
    .unwrap_or_default();
    let city = s.rng.pick(l.cities);
    let street = *s.rng.pick(l.streets);

    let (person_id, mut p) = person_row(s, party, first, last, female, locale);
    let (day, month, year) = birth_parts(birth);
    set(&mut p, "mshr_birthday", day);
    let bm = s.base + i64::from(month);
    set(&mut p, "mshr_birthmonth", bm);
    set(&mut p, "mshr_birthyear", year);
    let ms = *s.rng.pick(&["Single", "Married", "Divorced", "None"]);
    let v = s.opt("mshr_dirpersonmaritalstatus", ms);
    set(&mut p, "mshr_maritalstatus", v);
    let full = format!(
        "{street}\n{} {} {}\n{}",
        city.zip, city.name, city.state, l.country
    );
    set(&mut p, "mshr_fullprimaryaddress", full.replace("  ", " "));
    set(&mut p, "mshr_addressstreet", street);
    set(&mut p, "mshr_addresscity", city.name);
    set(&mut p, "mshr_addressstate", city.state);
    set(&mut p, "mshr_addresscounty", city.county);
    set(&mut p, "mshr_addresszipcode", city.zip);
    set(&mut p, "mshr_addresscountryregionid", l.country);
    set(&mut p, "mshr_addresscountryregionisocode", &l.country[..2]);
    set(&mut p, "mshr_addresslocationroles", "Home");
    set(
        &mut p,
        "mshr_addressdescription",
        if locale == Locale::No { "Hjem" } else { "Home" },
    );
    set_date(
        &mut p,
        "mshr_addressvalidfrom",
        days_from_today(-s.rng.range(100, 3000)),
    );
    let linkedin = format!(
        "https://www.linkedin.com/in/{}-{}",
        ascii_slug(first),
        ascii_slug(last)
    );
    set(&mut p, "mshr_primarycontactlinkedin", linkedin.as_str());
    s.put("mshr_dirpersonentity", p, Some(party));

    let (_, mut row) = s.row("mshr_hcmcandidatetohireentity");
    set(&mut row, "mshr_candidateid", format!("CAND-{:06}", j + 1));
    set(&mut row, "mshr_partynumber", party);
    set_ref(&mut row, "_mshr_fk_person_id_value", Some(person_id));
    set(&mut row, "mshr_partytype", "Person");
    if let Some(r) = request {
        set(&mut row, "mshr_recruitingrequestid", r.number.as_str());
        set_ref(&mut row, "_mshr_fk_recruitingrequest_id_value", Some(r.id));
        if let Some(pos) = r.positions.first() {
            set(&mut row, "mshr_positionid", pos.number.as_str());
            set_ref(&mut row, "_mshr_fk_position_id_value", Some(pos.id));
        }
    }
    set(&mut row, "mshr_firstname", first);
    set(&mut row, "mshr_lastname", last);
    let g = s.opt(
        "mshr_hcmpersongender",
        if female { "Female" } else { "Male" },
    );
    set(&mut row, "mshr_gender", g);
    set_date(&mut row, "mshr_birthdate", birth);
    set(&mut row, "mshr_citizenshipcountrycode", l.country);
    let veteran = locale == Locale::Us && s.rng.chance(25);
    let no = s.opt("mshr_noyes", "No");
    let yes = s.opt("mshr_noyes", "Yes");
    if locale == Locale::Us {
        let vs = if veteran {
            *s.rng
                .pick(&["ProtVet", "DisabledVet", "RecentSep", "ArmedForces"])
        } else {
            "NotProt"
        };
        set(&mut row, "mshr_veteranstatusid", vs);
        set_ref(
            &mut row,
            "_mshr_fk_veteranstatus_id_value",
            s.id_of("mshr_hcmveteranstatusentity", vs),
        );
        set(
            &mut row,
            "mshr_isdisabledveteran",
            if vs == "DisabledVet" {
                yes.clone()
            } else {
                no.clone()
            },
        );
        if veteran {
            let end = days_from_today(-s.rng.range(200, 4000));
            set_date(&mut row, "mshr_militaryserviceenddate", end);
            set_date(
                &mut row,
                "mshr_militaryservicestartdate",
                end - chrono::Duration::days(s.rng.range(700, 3000)),
            );
        }
    }
    set_date(
        &mut row,
        "mshr_availabilitydate",
        days_from_today(s.rng.range(-30, 90)),
    );
    set(
        &mut row,
        "mshr_iswillingtorelocate",
        if s.rng.chance(40) {
            yes.clone()
        } else {
            no.clone()
        },
    );
    if s.rng.chance(50) {
        let comment = match locale {
            Locale::No => "Sterk kandidat etter andre intervju.",
            _ => *s.rng.pick(&[
                "Strong candidate after second interview.",
                "Referred by an employee.",
                "Needs relocation support.",
            ]),
        };
        set(&mut row, "mshr_comments", comment);
    }
    let result = RESULTS[j % RESULTS.len()];
    let rv = s.opt("mshr_hcmapplicantintegrationresult", result);
    set(&mut row, "mshr_applicantintegrationresult", rv);
    if result == "Not hired" {
        let reasons = super::reference::REASON_CODES;
        let code = reasons[s.rng.below(reasons.len())].0;
        set(&mut row, "mshr_donothirereasoncodeid", code);
        set_ref(
            &mut row,
            "_mshr_fk_reasoncode_id_value",
            s.id_of("mshr_hcmreasoncodeentity", code),
        );
    }
    set(&mut row, "mshr_dataareaid", c.def.code);
    set_ref(&mut row, "_mshr_dataareaid_id_value", Some(c.id));
    s.put("mshr_hcmcandidatetohireentity", row, None);

    let job = request.map(|r| r.job);
    let ctx = PersonCtx {
        id: person_id,
        party,
        locale,
        c,
        hired: result == "Hired",
    };
    seed_person_skills(
        s,
        &ctx,
        job.map_or(&["Teamwork", "ProblemSolv"][..], |j| j.skills),
    );
    seed_person_education(
        s,
        &ctx,
        job.map_or(&[("Bachelor", "Business Admin")][..], |j| j.education),
        birth,
    );
    seed_experience(s, &ctx, job.map_or("Assistant", |j| j.description()), birth);
    seed_address(s, &ctx, k, street, city);
    seed_contacts(s, &ctx, k, first, last);
    seed_certificate(s, &ctx);
    seed_screening(s, &ctx);
    seed_identification(s, &ctx, birth);
}

struct PersonCtx<'a> {
    id: Uuid,
    party: &'a str,
    locale: Locale,
    c: &'a CompanyRefs,
    hired: bool,
}

fn person_child(s: &mut Seeder, logical: &'static str, ctx: &PersonCtx) -> Map<String, Value> {
    let (_, mut row) = s.row(logical);
    set(&mut row, "mshr_partynumber", ctx.party);
    set_ref(&mut row, "_mshr_fk_person_id_value", Some(ctx.id));
    row
}

fn seed_person_skills(s: &mut Seeder, ctx: &PersonCtx, skills: &[&'static str]) {
    let count = 1 + s.rng.below(3);
    let actual = s.opt("mshr_hrmskillleveltype", "Actual");
    for skill in skills.iter().take(count) {
        let mut row = person_child(s, "mshr_hcmpersonskillentity", ctx);
        if s.rng.chance(30) {
            let w = s.rng.pick(&ctx.c.workers).clone();
            set(&mut row, "mshr_certifier", w.number.as_str());
            set_ref(&mut row, "_mshr_fk_certifier_id_value", Some(w.worker_id));
            set(&mut row, "mshr_ratinglevelexaminer", w.number.as_str());
            set_ref(
                &mut row,
                "_mshr_fk_ratinglevelexaminer_id_value",
                Some(w.worker_id),
            );
        }
        set(&mut row, "mshr_skillid", *skill);
        set_ref(
            &mut row,
            "_mshr_fk_skill_id_value",
            s.id_of("mshr_hcmskillentity", skill),
        );
        set(&mut row, "mshr_yearsofexperience", s.rng.range(0, 15));
        set(&mut row, "mshr_ratingid", "Skills");
        set(&mut row, "mshr_leveltype", actual.clone());
        let level = s.rng.range(1, 5).to_string();
        debug_assert!(rating_level_description("Skills", &level).is_some());
        set(&mut row, "mshr_levelid", level.as_str());
        set_ref(
            &mut row,
            "_mshr_fk_ratinglevel_id_value",
            s.id_of("mshr_hcmratinglevelentity", &format!("Skills|{level}")),
        );
        set_date(
            &mut row,
            "mshr_leveldate",
            days_from_today(-s.rng.range(30, 2000)),
        );
        let yn = if s.rng.chance(50) { "Yes" } else { "No" };
        let verified = s.opt("mshr_noyes", yn);
        set(&mut row, "mshr_verified", verified);
        s.put("mshr_hcmpersonskillentity", row, None);
    }
}

fn seed_person_education(
    s: &mut Seeder,
    ctx: &PersonCtx,
    education: &[(&'static str, &'static str)],
    birth: NaiveDate,
) {
    let institutions: Vec<&str> = INSTITUTIONS
        .iter()
        .filter(|i| i.locale == ctx.locale)
        .map(|i| i.id)
        .collect();
    let count = 1 + s.rng.below(2);
    for (i, (level, discipline)) in education.iter().take(count).enumerate() {
        let mut row = person_child(s, "mshr_hcmpersoneducationentity", ctx);
        let basis = s.opt("mshr_hcmeducationcreditbasis", "Semester");
        set(&mut row, "mshr_creditbasis", basis);
        set(&mut row, "mshr_creditscompleted", 120);
        set(&mut row, "mshr_creditsearned", 120);
        set(&mut row, "mshr_creditsneeded", 120);
        set(
            &mut row,
            "mshr_description",
            format!("{level} in {discipline}"),
        );
        set(&mut row, "mshr_educationlevelid", *level);
        set_ref(
            &mut row,
            "_mshr_fk_educationlevel_id_value",
            s.id_of("mshr_hcmeducationdegreeentity", level),
        );
        set(&mut row, "mshr_educationdisciplineid", *discipline);
        set_ref(
            &mut row,
            "_mshr_fk_educationdiscipline_id_value",
            s.id_of("mshr_hcmeducationdisciplineentity", discipline),
        );
        let inst = *s.rng.pick(&institutions);
        set(&mut row, "mshr_educationinstitutionid", inst);
        set_ref(
            &mut row,
            "_mshr_fk_educationinstitution_id_value",
            s.id_of("mshr_hcmeducationinstitutionentity", inst),
        );
        let start = NaiveDate::from_ymd_opt(birth.year_ce().1 as i32 + 19 + 4 * i as i32, 8, 20)
            .unwrap_or_default();
        let end = NaiveDate::from_ymd_opt(birth.year_ce().1 as i32 + 23 + 4 * i as i32, 6, 15)
            .unwrap_or_default();
        set_date(&mut row, "mshr_startdate", start);
        set_date(&mut row, "mshr_enddate", end);
        set(&mut row, "mshr_duration", 4);
        let years = s.opt("mshr_periodunit", "Years");
        set(&mut row, "mshr_durationunit", years);
        if ctx.locale == Locale::Us {
            set(
                &mut row,
                "mshr_gradepointaverage",
                (s.rng.range(28, 40) as f64) / 10.0,
            );
            set(&mut row, "mshr_gradescale", "4.0");
        }
        s.put("mshr_hcmpersoneducationentity", row, None);
    }
}

use chrono::Datelike;

fn seed_experience(s: &mut Seeder, ctx: &PersonCtx, position: &str, birth: NaiveDate) {
    let l = locale_data(ctx.locale);
    let employers = match ctx.locale {
        Locale::Us => EMPLOYERS_US,
        Locale::Uk => EMPLOYERS_UK,
        Locale::No => EMPLOYERS_NO,
    };
    let count = 1 + s.rng.below(2);
    let mut end: Option<NaiveDate> = None;
    for _ in 0..count {
        let mut row = person_child(s, "mshr_hcmpersonprofessionalexperienceentity", ctx);
        let employer = *s.rng.pick(employers);
        set(&mut row, "mshr_employerposition", position);
        set(&mut row, "mshr_employername", employer);
        set(&mut row, "mshr_employerlocation", s.rng.pick(l.cities).name);
        let phone = format!("{} {}", l.phone_prefix, s.rng.range(20_000_000, 99_999_999));
        set(&mut row, "mshr_phone", phone);
        let site: String = ascii_slug(employer).chars().take(16).collect();
        set(&mut row, "mshr_url", format!("https://www.{site}.com"));
        let stop = end.unwrap_or_else(|| days_from_today(-s.rng.range(0, 200)));
        let min_start = NaiveDate::from_ymd_opt(birth.year() + 22, 1, 1).unwrap_or_default();
        let start = (stop - chrono::Duration::days(s.rng.range(365, 2500))).max(min_start);
        set_date(&mut row, "mshr_startdate", start);
        if end.is_some() || s.rng.chance(60) {
            set_date(&mut row, "mshr_enddate", stop);
        }
        let yn = if s.rng.chance(70) { "Yes" } else { "No" };
        let allow = s.opt("mshr_hrmblankyesno", yn);
        set(&mut row, "mshr_allowcontactemployer", allow);
        s.put("mshr_hcmpersonprofessionalexperienceentity", row, None);
        end = Some(start - chrono::Duration::days(s.rng.range(10, 120)));
    }
}

fn seed_address(
    s: &mut Seeder,
    ctx: &PersonCtx,
    k: &mut Counters,
    street: &str,
    city: &super::names::City,
) {
    let l = locale_data(ctx.locale);
    let mut row = person_child(s, "mshr_hcmpersonaddressentity", ctx);
    set(&mut row, "mshr_locationid", format!("{:09}", k.location));
    k.location += 1;
    set(
        &mut row,
        "mshr_description",
        if ctx.locale == Locale::No {
            "Hjem"
        } else {
            "Home"
        },
    );
    set(&mut row, "mshr_roles", "Home");
    set(&mut row, "mshr_street", street);
    set(&mut row, "mshr_city", city.name);
    set(&mut row, "mshr_state", city.state);
    set(&mut row, "mshr_county", city.county);
    set(&mut row, "mshr_zipcode", city.zip);
    set(&mut row, "mshr_countryregionid", l.country);
    set_ref(
        &mut row,
        "_mshr_fk_countryregion_id_value",
        s.id_of("mshr_logisticsaddresscountryregionentity", l.country),
    );
    let yes = s.opt("mshr_noyes", "Yes");
    set(&mut row, "mshr_isprimary", yes.clone());
    set(&mut row, "mshr_isprivate", yes);
    s.put("mshr_hcmpersonaddressentity", row, None);
}

fn seed_contacts(s: &mut Seeder, ctx: &PersonCtx, k: &mut Counters, first: &str, last: &str) {
    let l = locale_data(ctx.locale);
    let nor = ctx.locale == Locale::No;
    let email = format!(
        "{}.{}@{}",
        ascii_slug(first),
        ascii_slug(last),
        "outlook.com"
    );
    let phone = format!("{} {}", l.phone_prefix, s.rng.range(20_000_000, 99_999_999));
    let contacts = [
        (
            "Email address",
            if nor {
                "Privat e-post"
            } else {
                "Personal email"
            },
            email,
            false,
        ),
        ("Phone", if nor { "Mobil" } else { "Mobile" }, phone, true),
    ];
    let yes = s.opt("mshr_noyes", "Yes");
    let no = s.opt("mshr_noyes", "No");
    for (ty, desc, locator, mobile) in contacts {
        let mut row = person_child(s, "mshr_dirpartycontactentity", ctx);
        set(&mut row, "mshr_locationid", format!("{:09}", k.location));
        k.location += 1;
        set(&mut row, "mshr_description", desc);
        let t = s.opt("mshr_logisticselectronicaddressmethodtype", ty);
        set(&mut row, "mshr_type", t);
        if mobile {
            set(&mut row, "mshr_countryregioncode", l.country);
        }
        set(&mut row, "mshr_locator", locator);
        set(
            &mut row,
            "mshr_ismobilephone",
            if mobile { yes.clone() } else { no.clone() },
        );
        set(&mut row, "mshr_isinstantmessage", no.clone());
        set(&mut row, "mshr_isprimary", yes.clone());
        set(&mut row, "mshr_isprivate", yes.clone());
        set(&mut row, "mshr_purpose", "Personal");
        s.put("mshr_dirpartycontactentity", row, None);
    }
}

fn seed_certificate(s: &mut Seeder, ctx: &PersonCtx) {
    let pool: &[&str] = match ctx.locale {
        Locale::No => &["Fagbrev", "Truckfører", "FirstAid"],
        Locale::Uk => &["ACCA", "FirstAid", "ITIL", "PMP"],
        Locale::Us => &[
            "CPA", "PMP", "Forklift", "FirstAid", "CDL", "SHRM-CP", "ITIL",
        ],
    };
    let ty = *s.rng.pick(pool);
    let renew = CERTIFICATE_TYPES
        .iter()
        .any(|c| c.id == ty && c.requires_renewal);
    let mut row = person_child(s, "mshr_hcmpersoncertificateentity", ctx);
    set(&mut row, "mshr_certificatetypeid", ty);
    set_ref(
        &mut row,
        "_mshr_fk_certificatetype_id_value",
        s.id_of("mshr_hcmcertificatetypeentity", ty),
    );
    let start = days_from_today(-s.rng.range(60, 2500));
    set_date(&mut row, "mshr_startdate", start);
    if renew {
        set_date(
            &mut row,
            "mshr_enddate",
            start + chrono::Duration::days(3 * 365),
        );
    }
    s.put("mshr_hcmpersoncertificateentity", row, None);
}

fn seed_screening(s: &mut Seeder, ctx: &PersonCtx) {
    let ty = match ctx.locale {
        Locale::No => "Politiattest",
        Locale::Uk => *s.rng.pick(&["DBS", "Reference"]),
        Locale::Us => *s
            .rng
            .pick(&["Background", "DrugTest", "Reference", "Credit"]),
    };
    let mut row = person_child(s, "mshr_hcmpersonscreeningentity", ctx);
    set(&mut row, "mshr_screeningtypeid", ty);
    set_ref(
        &mut row,
        "_mshr_fk_screeningtype_id_value",
        s.id_of("mshr_hcmscreeningtypeentity", ty),
    );
    let required = days_from_today(s.rng.range(-60, 30));
    set_date(&mut row, "mshr_requiredby", required);
    let status = if ctx.hired {
        "Pass"
    } else {
        *s.rng.pick(&["Not Complete", "Pass", "Fail"])
    };
    let v = s.opt("mshr_hcmcompletionstatus", status);
    set(&mut row, "mshr_status", v);
    if status != "Not Complete" {
        set_date(
            &mut row,
            "mshr_completeddate",
            required - chrono::Duration::days(s.rng.range(1, 20)),
        );
    }
    s.put("mshr_hcmpersonscreeningentity", row, None);
}

fn seed_identification(s: &mut Seeder, ctx: &PersonCtx, birth: NaiveDate) {
    let types: Vec<&str> = ID_TYPES
        .iter()
        .filter(|t| t.locale == ctx.locale)
        .map(|t| t.id)
        .collect();
    let ty = types.first().copied().unwrap_or("Passport");
    let number = match ctx.locale {
        Locale::Us => format!(
            "{:03}-{:02}-{:04}",
            s.rng.range(100, 899),
            s.rng.range(10, 99),
            s.rng.range(1000, 9999)
        ),
        Locale::Uk => format!(
            "{}{}{:06}{}",
            char::from(b'A' + s.rng.below(20) as u8),
            char::from(b'A' + s.rng.below(20) as u8),
            s.rng.range(0, 999_999),
            char::from(b'A' + s.rng.below(4) as u8)
        ),
        Locale::No => format!(
            "{}{:05}",
            birth.format("%d%m%y"),
            s.rng.range(10_000, 99_999)
        ),
    };
    let mut row = person_child(s, "mshr_hcmpersonidentificationnumberentity", ctx);
    set(&mut row, "mshr_entrytype", "Manual");
    let desc = ID_TYPES
        .iter()
        .find(|t| t.id == ty)
        .map_or("", |t| t.description);
    set(&mut row, "mshr_description", desc);
    let yes = s.opt("mshr_noyes", "Yes");
    set(&mut row, "mshr_isprimary", yes);
    set(&mut row, "mshr_identificationnumber", number);
    set(&mut row, "mshr_identificationtypeid", ty);
    set_ref(
        &mut row,
        "_mshr_fk_identificationtype_id_value",
        s.id_of("mshr_hcmidentificationtypeentity", ty),
    );
    if let Some(Agency { id: agency, .. }) = AGENCIES.iter().find(|a| a.id_type == ty) {
        set(&mut row, "mshr_issuingagencyid", *agency);
        set_ref(
            &mut row,
            "_mshr_fk_issuingagency_id_value",
            s.id_of("mshr_hcmissuingagencyentity", agency),
        );
    }
    set_date(
        &mut row,
        "mshr_issueddate",
        NaiveDate::from_ymd_opt(birth.year() + 18, birth.month(), 1).unwrap_or_default(),
    );
    s.put("mshr_hcmpersonidentificationnumberentity", row, None);
}
