//! Reference (lookup target) tables: companies, workers, recruiters, jobs and their satellites,
//! positions, departments, skills, education, countries and the small code tables. The catalogs are
//! public so that writes can derive the values HR copies from a job onto a recruiting request.

use std::collections::HashMap;

use serde_json::Value;
use uuid::Uuid;

use super::names::{ascii_slug, locale_data, Locale};
use super::{set, set_ref, Seeder};

pub struct CompanyDef {
    pub code: &'static str,
    pub name: &'static str,
    pub guid: &'static str,
    pub locale: Locale,
    /// Multiplier from the USD salary bands to the company's currency.
    pub currency_factor: f64,
    /// Share of recruiting requests (relative weight).
    pub weight: u64,
}

pub const COMPANIES: &[CompanyDef] = &[
    CompanyDef {
        code: "usmf",
        name: "Contoso Entertainment System USA",
        // The documented sample's `_mshr_dataareaid_id_value` for usmf.
        guid: "e13a8e22-f278-ea11-a811-000d3a17b4eb",
        locale: Locale::Us,
        currency_factor: 1.0,
        weight: 50,
    },
    CompanyDef {
        code: "gbsi",
        name: "Contoso UK",
        guid: "e53a8e22-f278-ea11-a811-000d3a17b4eb",
        locale: Locale::Uk,
        currency_factor: 0.8,
        weight: 25,
    },
    CompanyDef {
        code: "nomf",
        name: "Contoso Norge AS",
        guid: "f13a8e22-f278-ea11-a811-000d3a17b4eb",
        locale: Locale::No,
        currency_factor: 10.5,
        weight: 25,
    },
];

pub fn company(code: &str) -> Option<&'static CompanyDef> {
    COMPANIES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

/// What HR copies from a job onto a recruiting request.
#[derive(Debug)]
pub struct JobProfile {
    pub id: &'static str,
    /// Also the title id: HR jobs here have a title of the same name.
    pub description: &'static str,
    pub function: &'static str,
    pub job_type: &'static str,
    /// en-US label in `mshr_hcmregulatoryjobcategory`.
    pub category: &'static str,
    /// en-US label in `cdm_jobexemptstatus`.
    pub exempt: &'static str,
    pub department: &'static str,
    pub levels: &'static [&'static str],
    pub skills: &'static [&'static str],
    /// (education level id, discipline id)
    pub education: &'static [(&'static str, &'static str)],
    pub norwegian: bool,
    /// Department head job: positions are the reports-to targets, not recruited for.
    pub head: bool,
}

#[allow(clippy::too_many_arguments)]
const fn job(
    id: &'static str,
    function: &'static str,
    job_type: &'static str,
    category: &'static str,
    exempt: &'static str,
    department: &'static str,
    levels: &'static [&'static str],
    skills: &'static [&'static str],
    education: &'static [(&'static str, &'static str)],
) -> JobProfile {
    JobProfile {
        id,
        description: id,
        function,
        job_type,
        category,
        exempt,
        department,
        levels,
        skills,
        education,
        norwegian: false,
        head: false,
    }
}

const fn no(mut j: JobProfile) -> JobProfile {
    j.norwegian = true;
    j
}

const fn head(mut j: JobProfile) -> JobProfile {
    j.head = true;
    j
}

const BA: &[(&str, &str)] = &[
    ("Bachelor", "Business Admin"),
    ("Bachelor", "Business Mgmt"),
];
const HS: &[(&str, &str)] = &[
    ("HighSchool", "Business Admin"),
    ("Vocational", "Logistics"),
];
const OK: &[(&str, &str)] = &[("Bachelorgrad", "Økonomi"), ("Mastergrad", "Økonomi")];

pub const JOBS: &[JobProfile] = &[
    job(
        "Project Manager",
        "0100",
        "Managers",
        "Manager",
        "NonExempt",
        "028",
        &["G05", "G06", "G07"],
        &[
            "Present",
            "ProjectMgmt",
            "Leadership",
            "Teamwork",
            "Negotiation",
        ],
        &[
            ("Bachelor", "Business Admin"),
            ("Bachelor", "Business Mgmt"),
            ("Master", "Business Admin"),
        ],
    ),
    job(
        "Software Developer",
        "0300",
        "Professionals",
        "Professional",
        "Exempt",
        "024",
        &["G04", "G05", "G06"],
        &["CSharp", "Rust", "SQL", "Cloud", "ProblemSolv", "Teamwork"],
        &[("Bachelor", "Computer Sci"), ("Master", "Computer Sci")],
    ),
    job(
        "Accountant",
        "0200",
        "Professionals",
        "Professional",
        "Exempt",
        "022",
        &["G03", "G04", "G05"],
        &["Accounting", "Excel", "CashFlow", "Analytics"],
        &[("Bachelor", "Accounting"), ("Bachelor", "Finance")],
    ),
    job(
        "Financial Controller",
        "0200",
        "Managers",
        "Manager",
        "Exempt",
        "022",
        &["G06", "G07", "G08"],
        &["Accounting", "CashFlow", "Excel", "Leadership", "Analytics"],
        &[("Master", "Finance"), ("Bachelor", "Accounting")],
    ),
    job(
        "HR Generalist",
        "0600",
        "Professionals",
        "Professional",
        "Exempt",
        "023",
        &["G03", "G04"],
        &["Recruiting", "Payroll", "Writing", "Teamwork"],
        &[("Bachelor", "HR Mgmt"), ("Bachelor", "Psychology")],
    ),
    job(
        "Recruiter",
        "0600",
        "Professionals",
        "Professional",
        "Exempt",
        "023",
        &["G03", "G04", "G05"],
        &["Recruiting", "Negotiation", "CRM", "Writing"],
        &[("Bachelor", "HR Mgmt"), ("Bachelor", "Psychology")],
    ),
    job(
        "Payroll Specialist",
        "0600",
        "Administrative",
        "Administrative",
        "NonExempt",
        "023",
        &["G02", "G03"],
        &["Payroll", "Excel", "Accounting", "ProblemSolv"],
        &[("Associate", "Accounting")],
    ),
    job(
        "Sales Representative",
        "0400",
        "Sales",
        "SalesWorker",
        "NonExempt",
        "025",
        &["G02", "G03", "G04"],
        &["Sales", "CRM", "Negotiation", "CustFocus", "Spanish"],
        &[("Bachelor", "Marketing"), ("Bachelor", "Business Admin")],
    ),
    job(
        "Account Manager",
        "0400",
        "Sales",
        "SalesWorker",
        "Exempt",
        "025",
        &["G04", "G05"],
        &["Sales", "CRM", "CustFocus", "Negotiation", "Present"],
        BA,
    ),
    job(
        "Marketing Specialist",
        "0500",
        "Professionals",
        "Professional",
        "Exempt",
        "026",
        &["G03", "G04"],
        &["Marketing", "Writing", "Analytics", "Present"],
        &[("Bachelor", "Marketing"), ("Bachelor", "Business Mgmt")],
    ),
    job(
        "Data Analyst",
        "0300",
        "Professionals",
        "Professional",
        "Exempt",
        "024",
        &["G04", "G05"],
        &["SQL", "Analytics", "Excel", "Present", "ProblemSolv"],
        &[("Bachelor", "Economics"), ("Master", "Computer Sci")],
    ),
    job(
        "Network Administrator",
        "0300",
        "Technicians",
        "Technician",
        "NonExempt",
        "024",
        &["G03", "G04"],
        &["Networking", "Cloud", "ProblemSolv", "Safety"],
        &[("Associate", "Computer Sci")],
    ),
    job(
        "IT Support Technician",
        "0300",
        "Technicians",
        "Technician",
        "NonExempt",
        "024",
        &["G02", "G03"],
        &["Networking", "CustFocus", "ProblemSolv", "Writing"],
        &[("Associate", "Computer Sci")],
    ),
    job(
        "Customer Service Rep",
        "1000",
        "Service",
        "ServiceWorker",
        "NonExempt",
        "031",
        &["G01", "G02"],
        &["CustFocus", "CRM", "Spanish", "Teamwork"],
        HS,
    ),
    job(
        "Warehouse Worker",
        "0900",
        "Laborers",
        "Laborer",
        "NonExempt",
        "030",
        &["G01", "G02"],
        &["Forklift", "Inventory", "Safety", "Teamwork"],
        HS,
    ),
    job(
        "Forklift Operator",
        "0900",
        "Operators",
        "Operative",
        "NonExempt",
        "030",
        &["G01", "G02"],
        &["Forklift", "Safety", "Inventory", "Teamwork"],
        HS,
    ),
    job(
        "Production Supervisor",
        "0800",
        "Managers",
        "Manager",
        "Exempt",
        "029",
        &["G04", "G05"],
        &["Leadership", "Quality", "Safety", "ProblemSolv"],
        &[("Bachelor", "Mech Eng")],
    ),
    job(
        "Machine Operator",
        "0800",
        "Operators",
        "Operative",
        "NonExempt",
        "029",
        &["G01", "G02"],
        &["Safety", "Quality", "Welding", "Teamwork"],
        HS,
    ),
    job(
        "Electrician",
        "0800",
        "Technicians",
        "CraftWorker",
        "NonExempt",
        "029",
        &["G02", "G03"],
        &["Electrical", "Safety", "ProblemSolv", "Teamwork"],
        &[("Vocational", "Elec Eng")],
    ),
    job(
        "Quality Inspector",
        "0800",
        "Technicians",
        "Technician",
        "NonExempt",
        "029",
        &["G02", "G03"],
        &["Quality", "Safety", "Writing", "Analytics"],
        &[("Associate", "Mech Eng")],
    ),
    job(
        "Truck Driver",
        "0900",
        "Operators",
        "Operative",
        "NonExempt",
        "030",
        &["G01", "G02", "G03"],
        &["Driving", "Safety", "CustFocus", "Inventory"],
        HS,
    ),
    job(
        "Office Administrator",
        "0700",
        "Administrative",
        "Administrative",
        "NonExempt",
        "027",
        &["G01", "G02"],
        &["Excel", "Writing", "CustFocus", "Teamwork"],
        BA,
    ),
    head(job(
        "Department Manager",
        "0100",
        "Managers",
        "Executive",
        "Exempt",
        "021",
        &["G07", "G08", "G09"],
        &["Leadership", "Present", "ProjectMgmt", "Negotiation"],
        &[("Master", "Business Admin")],
    )),
    no(job(
        "Utvikler",
        "0300",
        "Professionals",
        "Professional",
        "Exempt",
        "054",
        &["G04", "G05", "G06"],
        &["Programmering", "Analyse", "Samarbeid", "Norsk", "Cloud"],
        &[
            ("Bachelorgrad", "Informatikk"),
            ("Mastergrad", "Informatikk"),
        ],
    )),
    no(job(
        "Prosjektleder",
        "0100",
        "Managers",
        "Manager",
        "NonExempt",
        "051",
        &["G05", "G06"],
        &["Ledelse", "ProjectMgmt", "Samarbeid", "Norsk"],
        OK,
    )),
    no(job(
        "Regnskapsfører",
        "0200",
        "Professionals",
        "Professional",
        "Exempt",
        "052",
        &["G03", "G04"],
        &["Regnskap", "Excel", "Analyse", "Norsk"],
        OK,
    )),
    no(job(
        "Økonomisjef",
        "0200",
        "Managers",
        "Manager",
        "Exempt",
        "052",
        &["G07", "G08"],
        &["Regnskap", "Ledelse", "Analyse", "Norsk"],
        OK,
    )),
    no(job(
        "HR-rådgiver",
        "0600",
        "Professionals",
        "Professional",
        "Exempt",
        "053",
        &["G03", "G04"],
        &["Samarbeid", "Norsk", "Recruiting", "Ledelse"],
        OK,
    )),
    no(job(
        "Selger",
        "0400",
        "Sales",
        "SalesWorker",
        "NonExempt",
        "055",
        &["G02", "G03"],
        &["Salg", "Kundeservice", "Samarbeid", "Norsk"],
        OK,
    )),
    no(job(
        "Kundebehandler",
        "1000",
        "Service",
        "ServiceWorker",
        "NonExempt",
        "058",
        &["G01", "G02"],
        &["Kundeservice", "Norsk", "Samarbeid", "Salg"],
        &[("Fagbrev", "Økonomi")],
    )),
    no(job(
        "Lagermedarbeider",
        "0900",
        "Laborers",
        "Laborer",
        "NonExempt",
        "057",
        &["G01", "G02"],
        &["Truck", "Samarbeid", "Norsk", "Inventory"],
        &[("Fagbrev", "Logistics")],
    )),
    no(job(
        "Sjåfør",
        "0900",
        "Operators",
        "Operative",
        "NonExempt",
        "057",
        &["G01", "G02"],
        &["Truck", "Driving", "Norsk", "Samarbeid"],
        &[("Fagbrev", "Logistics")],
    )),
    no(job(
        "Elektriker",
        "0800",
        "Technicians",
        "CraftWorker",
        "NonExempt",
        "056",
        &["G02", "G03"],
        &["Elektro", "Samarbeid", "Norsk", "Safety"],
        &[("Fagbrev", "Elektrofag")],
    )),
    no(job(
        "Dataanalytiker",
        "0300",
        "Professionals",
        "Professional",
        "Exempt",
        "054",
        &["G04", "G05"],
        &["Analyse", "Programmering", "Norsk", "Samarbeid"],
        &[("Mastergrad", "Informatikk"), ("Bachelorgrad", "Økonomi")],
    )),
    no(head(job(
        "Avdelingsleder",
        "0100",
        "Managers",
        "Executive",
        "Exempt",
        "051",
        &["G07", "G08"],
        &["Ledelse", "Samarbeid", "Norsk", "Analyse"],
        OK,
    ))),
];

pub fn job_profile(id: &str) -> Option<&'static JobProfile> {
    JOBS.iter().find(|j| j.id == id)
}

/// (compensation level, low threshold in USD); control point and high threshold follow the
/// proportions of the documented G05 sample (70000 / 80000 / 92500).
const BANDS: &[(&str, f64)] = &[
    ("G01", 28_000.0),
    ("G02", 35_000.0),
    ("G03", 45_000.0),
    ("G04", 56_000.0),
    ("G05", 70_000.0),
    ("G06", 84_000.0),
    ("G07", 100_000.0),
    ("G08", 122_000.0),
    ("G09", 150_000.0),
    ("G10", 185_000.0),
];

/// (low, control point, high) for a compensation level in a company's currency.
pub fn comp_band(level: &str, company_code: &str) -> Option<(f64, f64, f64)> {
    let low_usd = BANDS.iter().find(|(l, _)| *l == level)?.1;
    let factor = company(company_code).map_or(1.0, |c| c.currency_factor);
    let round = |x: f64| (x / 500.0).round() * 500.0;
    let low = round(low_usd * factor);
    Some((low, round(low * 80.0 / 70.0), round(low * 92.5 / 70.0)))
}

const JOB_FUNCTIONS: &[(&str, &str)] = &[
    ("0100", "Management"),
    ("0200", "Finance and accounting"),
    ("0300", "Information technology"),
    ("0400", "Sales"),
    ("0500", "Marketing"),
    ("0600", "Human resources"),
    ("0700", "Administration"),
    ("0800", "Production"),
    ("0900", "Logistics"),
    ("1000", "Customer service"),
];

const JOB_TYPES: &[(&str, &str)] = &[
    ("Managers", "Managers and officials"),
    ("Professionals", "Professionals"),
    ("Technicians", "Technicians"),
    ("Sales", "Sales workers"),
    ("Administrative", "Administrative support"),
    ("Operators", "Operatives"),
    ("Laborers", "Laborers and helpers"),
    ("Service", "Service workers"),
];

/// (operating unit number, name, Norwegian?)
pub const DEPARTMENTS: &[(&str, &str, bool)] = &[
    ("021", "Executive", false),
    ("022", "Finance", false),
    ("023", "Human Resources", false),
    ("024", "Information Technology", false),
    ("025", "Sales", false),
    ("026", "Marketing", false),
    ("027", "Operations", false),
    ("028", "Project Management", false),
    ("029", "Production", false),
    ("030", "Warehouse", false),
    ("031", "Customer Service", false),
    ("051", "Ledelse", true),
    ("052", "Økonomi", true),
    ("053", "HR", true),
    ("054", "IT-avdelingen", true),
    ("055", "Salg", true),
    ("056", "Drift", true),
    ("057", "Lager", true),
    ("058", "Kundeservice", true),
];

pub const SKILLS: &[(&str, &str)] = &[
    ("Present", "Organize and present ideas"),
    ("ProjectMgmt", "Project management"),
    ("CustFocus", "Customer focus"),
    ("CashFlow", "Cash flow management"),
    ("Teamwork", "Teamwork"),
    ("Leadership", "Leadership"),
    ("Negotiation", "Negotiation"),
    ("Excel", "Microsoft Excel"),
    ("SQL", "SQL databases"),
    ("CSharp", "C# programming"),
    ("Rust", "Rust programming"),
    ("Cloud", "Cloud infrastructure"),
    ("Networking", "Network administration"),
    ("Accounting", "Financial accounting"),
    ("Payroll", "Payroll processing"),
    ("Recruiting", "Recruiting and interviewing"),
    ("Sales", "Consultative selling"),
    ("CRM", "CRM systems"),
    ("Marketing", "Digital marketing"),
    ("Writing", "Business writing"),
    ("Forklift", "Forklift operation"),
    ("Inventory", "Inventory control"),
    ("Safety", "Workplace safety"),
    ("Quality", "Quality assurance"),
    ("Electrical", "Electrical installation"),
    ("Welding", "Welding"),
    ("Driving", "Commercial driving"),
    ("Spanish", "Spanish language"),
    ("Analytics", "Data analysis"),
    ("ProblemSolv", "Problem solving"),
    ("Samarbeid", "Samarbeidsevne"),
    ("Kundeservice", "Kundebehandling"),
    ("Norsk", "Norsk skriftlig og muntlig"),
    ("Regnskap", "Regnskapsføring"),
    ("Programmering", "Programmering"),
    ("Ledelse", "Personalledelse"),
    ("Truck", "Truckkjøring"),
    ("Salg", "Salg og rådgivning"),
    ("Analyse", "Dataanalyse"),
    ("Elektro", "Elektroinstallasjon"),
];

pub fn skill_description(id: &str) -> Option<&'static str> {
    SKILLS.iter().find(|(s, _)| *s == id).map(|(_, d)| *d)
}

/// (rating model, description, levels (id, description))
pub type RatingModel = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

pub const RATING_MODELS: &[RatingModel] = &[
    (
        "Skills",
        "Skill rating",
        &[
            ("1", "Novice"),
            ("2", "Basic"),
            ("3", "Intermediate"),
            ("4", "Advanced"),
            ("5", "Expert"),
        ],
    ),
    (
        "Language",
        "Language proficiency",
        &[
            ("1", "Elementary"),
            ("2", "Limited working"),
            ("3", "Professional working"),
            ("4", "Full professional"),
            ("5", "Native or bilingual"),
        ],
    ),
];

pub fn rating_level_description(model: &str, level: &str) -> Option<&'static str> {
    RATING_MODELS
        .iter()
        .find(|(m, _, _)| *m == model)?
        .2
        .iter()
        .find(|(l, _)| *l == level)
        .map(|(_, d)| *d)
}

pub const EDUCATION_LEVELS: &[(&str, &str)] = &[
    ("HighSchool", "High school diploma"),
    ("Vocational", "Vocational certificate"),
    ("Associate", "Associate degree"),
    ("Bachelor", "Bachelor's degree"),
    ("Master", "Master's degree"),
    ("Doctorate", "Doctoral degree"),
    ("Fagbrev", "Fagbrev"),
    ("Bachelorgrad", "Bachelorgrad"),
    ("Mastergrad", "Mastergrad"),
];

pub const DISCIPLINES: &[(&str, &str)] = &[
    ("Business Admin", "Business Administration"),
    ("Business Mgmt", "Business Management"),
    ("Computer Sci", "Computer Science"),
    ("Accounting", "Accounting"),
    ("Finance", "Finance"),
    ("Marketing", "Marketing"),
    ("HR Mgmt", "Human Resources Management"),
    ("Psychology", "Psychology"),
    ("Economics", "Economics"),
    ("Mech Eng", "Mechanical Engineering"),
    ("Elec Eng", "Electrical Engineering"),
    ("Logistics", "Logistics and Supply Chain"),
    ("Informatikk", "Informatikk"),
    ("Økonomi", "Økonomi og administrasjon"),
    ("Elektrofag", "Elektrofag"),
];

/// (institution id, name, locale)
pub const INSTITUTIONS: &[(&str, &str, Locale)] = &[
    ("Cottonwood Univ", "Cottonwood University", Locale::Us),
    ("Univ of Washington", "University of Washington", Locale::Us),
    ("Seattle Univ", "Seattle University", Locale::Us),
    ("Univ of Chicago", "University of Chicago", Locale::Us),
    ("Texas A&M", "Texas A&M University", Locale::Us),
    ("Bellevue College", "Bellevue College", Locale::Us),
    ("Univ of Oxford", "University of Oxford", Locale::Uk),
    (
        "Univ of Manchester",
        "The University of Manchester",
        Locale::Uk,
    ),
    ("Kings College", "King's College London", Locale::Uk),
    ("Univ of Leeds", "University of Leeds", Locale::Uk),
    ("UiO", "Universitetet i Oslo", Locale::No),
    (
        "NTNU",
        "Norges teknisk-naturvitenskapelige universitet",
        Locale::No,
    ),
    ("UiB", "Universitetet i Bergen", Locale::No),
    ("BI", "Handelshøyskolen BI", Locale::No),
    ("NHH", "Norges Handelshøyskole", Locale::No),
];

const COUNTRIES: &[(&str, &str)] = &[
    ("USA", "United States"),
    ("GBR", "United Kingdom"),
    ("NOR", "Norway"),
    ("SWE", "Sweden"),
    ("DNK", "Denmark"),
    ("FIN", "Finland"),
    ("DEU", "Germany"),
    ("FRA", "France"),
    ("NLD", "Netherlands"),
    ("IRL", "Ireland"),
    ("ESP", "Spain"),
    ("ITA", "Italy"),
    ("POL", "Poland"),
    ("CAN", "Canada"),
    ("MEX", "Mexico"),
    ("IND", "India"),
];

pub const VETERAN_STATUSES: &[(&str, &str)] = &[
    ("NotProt", "Not a protected veteran"),
    ("ProtVet", "Protected veteran"),
    ("DisabledVet", "Disabled veteran"),
    ("RecentSep", "Recently separated veteran"),
    (
        "ActiveDuty",
        "Active duty wartime or campaign badge veteran",
    ),
    ("ArmedForces", "Armed forces service medal veteran"),
];

pub const REASON_CODES: &[(&str, &str)] = &[
    ("NoShow", "Did not show up"),
    ("Salary", "Salary expectations too high"),
    ("Background", "Failed background check"),
    ("Withdrew", "Candidate withdrew"),
    ("Reference", "Insufficient references"),
    ("Internal", "Position filled internally"),
];

/// (identification type, description, locale where it is used)
pub const ID_TYPES: &[(&str, &str, Locale)] = &[
    ("SSN", "Social security number", Locale::Us),
    ("DriverLic", "Driver's license", Locale::Us),
    ("Passport", "Passport", Locale::Us),
    ("NINO", "National Insurance number", Locale::Uk),
    ("UKPassport", "UK passport", Locale::Uk),
    ("Fødselsnr", "Fødselsnummer", Locale::No),
    ("Pass", "Norsk pass", Locale::No),
];

/// (issuing agency, description, identification type it issues)
pub const AGENCIES: &[(&str, &str, &str)] = &[
    ("SSA", "Social Security Administration", "SSN"),
    (
        "WA DOL",
        "Washington State Department of Licensing",
        "DriverLic",
    ),
    ("DOS", "U.S. Department of State", "Passport"),
    ("HMRC", "HM Revenue & Customs", "NINO"),
    ("HMPO", "HM Passport Office", "UKPassport"),
    ("Skatteetaten", "Skatteetaten", "Fødselsnr"),
    ("Politiet", "Politiet", "Pass"),
];

/// (certificate type, description, requires renewal)
pub const CERTIFICATE_TYPES: &[(&str, &str, bool)] = &[
    ("CPA", "Certified Public Accountant", true),
    ("PMP", "Project Management Professional", true),
    ("Forklift", "Forklift operator certificate", true),
    ("FirstAid", "First aid and CPR", true),
    ("CDL", "Commercial driver's license", true),
    ("ACCA", "Chartered Certified Accountant", false),
    ("ITIL", "ITIL Foundation", false),
    ("SHRM-CP", "SHRM Certified Professional", true),
    ("Fagbrev", "Fagbrev", false),
    ("Truckfører", "Truckførerbevis", false),
];

/// (screening type, description, frequency unit label, generate-from label, interval)
pub const SCREENING_TYPES: &[(&str, &str, &str, &str, i64)] = &[
    (
        "Background",
        "Background check",
        "One-time only",
        "Not selected",
        0,
    ),
    (
        "Reference",
        "Reference check",
        "One-time only",
        "Not selected",
        0,
    ),
    ("Credit", "Credit check", "One-time only", "Not selected", 0),
    ("DrugTest", "Drug test", "Yearly", "Date completed", 1),
    (
        "Medical",
        "Medical examination",
        "Yearly",
        "Date required",
        2,
    ),
    ("DBS", "DBS check", "Yearly", "Date completed", 3),
    (
        "Politiattest",
        "Politiattest",
        "One-time only",
        "Not selected",
        0,
    ),
];

const POSITION_TYPES: &[(&str, &str)] = &[
    ("Full-time", "Full-time employee"),
    ("Part-time", "Part-time employee"),
    ("Temporary", "Temporary employee"),
    ("Intern", "Intern"),
    ("Heltid", "Heltidsansatt"),
    ("Deltid", "Deltidsansatt"),
    ("Midlertidig", "Midlertidig ansatt"),
];

/// First position number; chosen so usmf holds position `000601` of the documented POST example.
const FIRST_POSITION: u32 = 520;
const POSITIONS_PER_JOB: usize = 5;
const WORKERS_PER_COMPANY: usize = 30;
const RECRUITERS_PER_COMPANY: usize = 3;

#[derive(Debug, Clone)]
pub struct WorkerRef {
    pub number: String,
    pub base_id: Uuid,
    pub worker_id: Uuid,
}

#[derive(Debug, Clone)]
pub struct PersonRef {
    pub party: String,
    pub id: Uuid,
}

#[derive(Debug, Clone)]
pub struct PositionRef {
    pub number: String,
    pub id: Uuid,
    pub description: &'static str,
    pub department: &'static str,
    pub department_id: Uuid,
    pub position_type: &'static str,
    pub cost_center: String,
}

#[derive(Debug, Clone)]
pub struct LocationRef {
    pub id: Uuid,
    pub key: String,
}

/// What the request and candidate generators need from the reference data of one company.
pub struct CompanyRefs {
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

pub struct Refs {
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
    let inst: Vec<(&str, &str)> = INSTITUTIONS.iter().map(|(i, n, _)| (*i, *n)).collect();
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
    let ids: Vec<(&str, &str)> = ID_TYPES.iter().map(|(i, d, _)| (*i, *d)).collect();
    simple_table(
        s,
        "mshr_hcmidentificationtypeentity",
        ["mshr_identificationtypeid", desc],
        &ids,
    );
    let ags: Vec<(&str, &str)> = AGENCIES.iter().map(|(i, d, _)| (*i, *d)).collect();
    simple_table(
        s,
        "mshr_hcmissuingagencyentity",
        ["mshr_issuingagencyid", desc],
        &ags,
    );
    let deps: Vec<(&str, &str)> = DEPARTMENTS.iter().map(|(n, d, _)| (*n, *d)).collect();
    simple_table(
        s,
        "mshr_omdepartmententity",
        ["mshr_operatingunitnumber", "mshr_name"],
        &deps,
    );
    let jobs: Vec<(&str, &str)> = JOBS.iter().map(|j| (j.id, j.description)).collect();
    simple_table(s, "mshr_hcmjobentity", ["mshr_jobid", desc], &jobs);
    for j in JOBS {
        let (_, mut row) = s.row("mshr_hcmtitleentity");
        set(&mut row, "mshr_titleid", j.description);
        s.put("mshr_hcmtitleentity", row, Some(j.description));
    }
    seed_ratings(s);
    seed_certificates_and_screenings(s);
}

fn seed_ratings(s: &mut Seeder) {
    for (model, desc, levels) in RATING_MODELS {
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
    for (ty, desc, renew) in CERTIFICATE_TYPES {
        let (_, mut row) = s.row("mshr_hcmcertificatetypeentity");
        set(&mut row, "mshr_certificatetype", *ty);
        set(&mut row, "mshr_description", *desc);
        let v = s.opt("mshr_noyes", if *renew { "Yes" } else { "No" });
        set(&mut row, "mshr_requirerenewal", v);
        s.put("mshr_hcmcertificatetypeentity", row, Some(ty));
    }
    for (ty, desc, unit, from, interval) in SCREENING_TYPES {
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
pub fn random_name(s: &mut Seeder, locale: Locale) -> (&'static str, &'static str, bool) {
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
pub fn person_row(
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
    set(&mut row, "mshr_description", job.description);
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
        description: job.description,
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
    let departments = DEPARTMENTS.iter().filter(|d| d.2 == norwegian);
    for (i, (dep, _, _)) in departments.enumerate() {
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
pub fn seed_reference(s: &mut Seeder) -> Refs {
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
