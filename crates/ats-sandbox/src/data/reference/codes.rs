//! The small code tables: departments, skills, ratings, education, countries, identification,
//! certificates, screenings and position types. Two-column tables are (id, description) pairs, the
//! shape of HR's code tables.

use crate::data::names::Locale;

pub(crate) struct Department {
    /// Operating unit number.
    pub number: &'static str,
    pub name: &'static str,
    /// Belongs to the Norwegian company's organisation.
    pub norwegian: bool,
}

#[rustfmt::skip]
pub(crate) const DEPARTMENTS: &[Department] = &[
    Department { number: "021", name: "Executive", norwegian: false },
    Department { number: "022", name: "Finance", norwegian: false },
    Department { number: "023", name: "Human Resources", norwegian: false },
    Department { number: "024", name: "Information Technology", norwegian: false },
    Department { number: "025", name: "Sales", norwegian: false },
    Department { number: "026", name: "Marketing", norwegian: false },
    Department { number: "027", name: "Operations", norwegian: false },
    Department { number: "028", name: "Project Management", norwegian: false },
    Department { number: "029", name: "Production", norwegian: false },
    Department { number: "030", name: "Warehouse", norwegian: false },
    Department { number: "031", name: "Customer Service", norwegian: false },
    Department { number: "051", name: "Ledelse", norwegian: true },
    Department { number: "052", name: "Økonomi", norwegian: true },
    Department { number: "053", name: "HR", norwegian: true },
    Department { number: "054", name: "IT-avdelingen", norwegian: true },
    Department { number: "055", name: "Salg", norwegian: true },
    Department { number: "056", name: "Drift", norwegian: true },
    Department { number: "057", name: "Lager", norwegian: true },
    Department { number: "058", name: "Kundeservice", norwegian: true },
];

pub(crate) const SKILLS: &[(&str, &str)] = &[
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

pub(crate) fn skill_description(id: &str) -> Option<&'static str> {
    SKILLS.iter().find(|(s, _)| *s == id).map(|(_, d)| *d)
}

pub(crate) struct RatingModel {
    pub id: &'static str,
    pub description: &'static str,
    /// (level id, description), lowest first.
    pub levels: &'static [(&'static str, &'static str)],
}

pub(crate) const RATING_MODELS: &[RatingModel] = &[
    RatingModel {
        id: "Skills",
        description: "Skill rating",
        levels: &[
            ("1", "Novice"),
            ("2", "Basic"),
            ("3", "Intermediate"),
            ("4", "Advanced"),
            ("5", "Expert"),
        ],
    },
    RatingModel {
        id: "Language",
        description: "Language proficiency",
        levels: &[
            ("1", "Elementary"),
            ("2", "Limited working"),
            ("3", "Professional working"),
            ("4", "Full professional"),
            ("5", "Native or bilingual"),
        ],
    },
];

pub(crate) fn rating_level_description(model: &str, level: &str) -> Option<&'static str> {
    RATING_MODELS
        .iter()
        .find(|m| m.id == model)?
        .levels
        .iter()
        .find(|(l, _)| *l == level)
        .map(|(_, d)| *d)
}

pub(crate) const EDUCATION_LEVELS: &[(&str, &str)] = &[
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

pub(crate) const DISCIPLINES: &[(&str, &str)] = &[
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

pub(crate) struct Institution {
    pub id: &'static str,
    pub name: &'static str,
    pub locale: Locale,
}

#[rustfmt::skip]
pub(crate) const INSTITUTIONS: &[Institution] = &[
    Institution { id: "Cottonwood Univ", name: "Cottonwood University", locale: Locale::Us },
    Institution { id: "Univ of Washington", name: "University of Washington", locale: Locale::Us },
    Institution { id: "Seattle Univ", name: "Seattle University", locale: Locale::Us },
    Institution { id: "Univ of Chicago", name: "University of Chicago", locale: Locale::Us },
    Institution { id: "Texas A&M", name: "Texas A&M University", locale: Locale::Us },
    Institution { id: "Bellevue College", name: "Bellevue College", locale: Locale::Us },
    Institution { id: "Univ of Oxford", name: "University of Oxford", locale: Locale::Uk },
    Institution { id: "Univ of Manchester", name: "The University of Manchester", locale: Locale::Uk },
    Institution { id: "Kings College", name: "King's College London", locale: Locale::Uk },
    Institution { id: "Univ of Leeds", name: "University of Leeds", locale: Locale::Uk },
    Institution { id: "UiO", name: "Universitetet i Oslo", locale: Locale::No },
    Institution { id: "NTNU", name: "Norges teknisk-naturvitenskapelige universitet", locale: Locale::No },
    Institution { id: "UiB", name: "Universitetet i Bergen", locale: Locale::No },
    Institution { id: "BI", name: "Handelshøyskolen BI", locale: Locale::No },
    Institution { id: "NHH", name: "Norges Handelshøyskole", locale: Locale::No },
];

pub(super) const COUNTRIES: &[(&str, &str)] = &[
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

pub(crate) const VETERAN_STATUSES: &[(&str, &str)] = &[
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

pub(crate) const REASON_CODES: &[(&str, &str)] = &[
    ("NoShow", "Did not show up"),
    ("Salary", "Salary expectations too high"),
    ("Background", "Failed background check"),
    ("Withdrew", "Candidate withdrew"),
    ("Reference", "Insufficient references"),
    ("Internal", "Position filled internally"),
];

pub(crate) struct IdType {
    pub id: &'static str,
    pub description: &'static str,
    /// Where the identification type is used.
    pub locale: Locale,
}

#[rustfmt::skip]
pub(crate) const ID_TYPES: &[IdType] = &[
    IdType { id: "SSN", description: "Social security number", locale: Locale::Us },
    IdType { id: "DriverLic", description: "Driver's license", locale: Locale::Us },
    IdType { id: "Passport", description: "Passport", locale: Locale::Us },
    IdType { id: "NINO", description: "National Insurance number", locale: Locale::Uk },
    IdType { id: "UKPassport", description: "UK passport", locale: Locale::Uk },
    IdType { id: "Fødselsnr", description: "Fødselsnummer", locale: Locale::No },
    IdType { id: "Pass", description: "Norsk pass", locale: Locale::No },
];

pub(crate) struct Agency {
    pub id: &'static str,
    pub description: &'static str,
    /// The identification type it issues.
    pub id_type: &'static str,
}

#[rustfmt::skip]
pub(crate) const AGENCIES: &[Agency] = &[
    Agency { id: "SSA", description: "Social Security Administration", id_type: "SSN" },
    Agency { id: "WA DOL", description: "Washington State Department of Licensing", id_type: "DriverLic" },
    Agency { id: "DOS", description: "U.S. Department of State", id_type: "Passport" },
    Agency { id: "HMRC", description: "HM Revenue & Customs", id_type: "NINO" },
    Agency { id: "HMPO", description: "HM Passport Office", id_type: "UKPassport" },
    Agency { id: "Skatteetaten", description: "Skatteetaten", id_type: "Fødselsnr" },
    Agency { id: "Politiet", description: "Politiet", id_type: "Pass" },
];

pub(crate) struct CertificateType {
    pub id: &'static str,
    pub description: &'static str,
    pub requires_renewal: bool,
}

#[rustfmt::skip]
pub(crate) const CERTIFICATE_TYPES: &[CertificateType] = &[
    CertificateType { id: "CPA", description: "Certified Public Accountant", requires_renewal: true },
    CertificateType { id: "PMP", description: "Project Management Professional", requires_renewal: true },
    CertificateType { id: "Forklift", description: "Forklift operator certificate", requires_renewal: true },
    CertificateType { id: "FirstAid", description: "First aid and CPR", requires_renewal: true },
    CertificateType { id: "CDL", description: "Commercial driver's license", requires_renewal: true },
    CertificateType { id: "ACCA", description: "Chartered Certified Accountant", requires_renewal: false },
    CertificateType { id: "ITIL", description: "ITIL Foundation", requires_renewal: false },
    CertificateType { id: "SHRM-CP", description: "SHRM Certified Professional", requires_renewal: true },
    CertificateType { id: "Fagbrev", description: "Fagbrev", requires_renewal: false },
    CertificateType { id: "Truckfører", description: "Truckførerbevis", requires_renewal: false },
];

pub(crate) struct ScreeningType {
    pub id: &'static str,
    pub description: &'static str,
    /// Label in `mshr_hcmfrequencyunit`.
    pub frequency_unit: &'static str,
    /// Label in `mshr_hcmfrequencygeneratefrom`.
    pub generate_from: &'static str,
    pub interval: i64,
}

pub(crate) const SCREENING_TYPES: &[ScreeningType] = &[
    ScreeningType {
        id: "Background",
        description: "Background check",
        frequency_unit: "One-time only",
        generate_from: "Not selected",
        interval: 0,
    },
    ScreeningType {
        id: "Reference",
        description: "Reference check",
        frequency_unit: "One-time only",
        generate_from: "Not selected",
        interval: 0,
    },
    ScreeningType {
        id: "Credit",
        description: "Credit check",
        frequency_unit: "One-time only",
        generate_from: "Not selected",
        interval: 0,
    },
    ScreeningType {
        id: "DrugTest",
        description: "Drug test",
        frequency_unit: "Yearly",
        generate_from: "Date completed",
        interval: 1,
    },
    ScreeningType {
        id: "Medical",
        description: "Medical examination",
        frequency_unit: "Yearly",
        generate_from: "Date required",
        interval: 2,
    },
    ScreeningType {
        id: "DBS",
        description: "DBS check",
        frequency_unit: "Yearly",
        generate_from: "Date completed",
        interval: 3,
    },
    ScreeningType {
        id: "Politiattest",
        description: "Politiattest",
        frequency_unit: "One-time only",
        generate_from: "Not selected",
        interval: 0,
    },
];

pub(super) const POSITION_TYPES: &[(&str, &str)] = &[
    ("Full-time", "Full-time employee"),
    ("Part-time", "Part-time employee"),
    ("Temporary", "Temporary employee"),
    ("Intern", "Intern"),
    ("Heltid", "Heltidsansatt"),
    ("Deltid", "Deltidsansatt"),
    ("Midlertidig", "Midlertidig ansatt"),
];
