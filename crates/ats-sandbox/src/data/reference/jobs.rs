//! The job catalog: what HR copies from a job onto a recruiting request, and the job code tables.

/// What HR copies from a job onto a recruiting request.
#[derive(Debug)]
pub(crate) struct JobProfile {
    pub id: &'static str,
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

impl JobProfile {
    /// The job's description, also its title id: HR jobs here have a title of the same name.
    pub(crate) const fn description(&self) -> &'static str {
        self.id
    }
}

/// The defaults the table below starts from: a job of the non-Norwegian companies, not a head.
const JOB: JobProfile = JobProfile {
    id: "",
    function: "",
    job_type: "",
    category: "",
    exempt: "",
    department: "",
    levels: &[],
    skills: &[],
    education: &[],
    norwegian: false,
    head: false,
};

const BA: &[(&str, &str)] = &[
    ("Bachelor", "Business Admin"),
    ("Bachelor", "Business Mgmt"),
];
const HS: &[(&str, &str)] = &[
    ("HighSchool", "Business Admin"),
    ("Vocational", "Logistics"),
];
const OK: &[(&str, &str)] = &[("Bachelorgrad", "Økonomi"), ("Mastergrad", "Økonomi")];

pub(crate) const JOBS: &[JobProfile] = &[
    JobProfile {
        id: "Project Manager",
        function: "0100",
        job_type: "Managers",
        category: "Manager",
        exempt: "NonExempt",
        department: "028",
        levels: &["G05", "G06", "G07"],
        skills: &[
            "Present",
            "ProjectMgmt",
            "Leadership",
            "Teamwork",
            "Negotiation",
        ],
        education: &[
            ("Bachelor", "Business Admin"),
            ("Bachelor", "Business Mgmt"),
            ("Master", "Business Admin"),
        ],
        ..JOB
    },
    JobProfile {
        id: "Software Developer",
        function: "0300",
        job_type: "Professionals",
        category: "Professional",
        exempt: "Exempt",
        department: "024",
        levels: &["G04", "G05", "G06"],
        skills: &["CSharp", "Rust", "SQL", "Cloud", "ProblemSolv", "Teamwork"],
        education: &[("Bachelor", "Computer Sci"), ("Master", "Computer Sci")],
        ..JOB
    },
    JobProfile {
        id: "Accountant",
        function: "0200",
        job_type: "Professionals",
        category: "Professional",
        exempt: "Exempt",
        department: "022",
        levels: &["G03", "G04", "G05"],
        skills: &["Accounting", "Excel", "CashFlow", "Analytics"],
        education: &[("Bachelor", "Accounting"), ("Bachelor", "Finance")],
        ..JOB
    },
    JobProfile {
        id: "Financial Controller",
        function: "0200",
        job_type: "Managers",
        category: "Manager",
        exempt: "Exempt",
        department: "022",
        levels: &["G06", "G07", "G08"],
        skills: &["Accounting", "CashFlow", "Excel", "Leadership", "Analytics"],
        education: &[("Master", "Finance"), ("Bachelor", "Accounting")],
        ..JOB
    },
    JobProfile {
        id: "HR Generalist",
        function: "0600",
        job_type: "Professionals",
        category: "Professional",
        exempt: "Exempt",
        department: "023",
        levels: &["G03", "G04"],
        skills: &["Recruiting", "Payroll", "Writing", "Teamwork"],
        education: &[("Bachelor", "HR Mgmt"), ("Bachelor", "Psychology")],
        ..JOB
    },
    JobProfile {
        id: "Recruiter",
        function: "0600",
        job_type: "Professionals",
        category: "Professional",
        exempt: "Exempt",
        department: "023",
        levels: &["G03", "G04", "G05"],
        skills: &["Recruiting", "Negotiation", "CRM", "Writing"],
        education: &[("Bachelor", "HR Mgmt"), ("Bachelor", "Psychology")],
        ..JOB
    },
    JobProfile {
        id: "Payroll Specialist",
        function: "0600",
        job_type: "Administrative",
        category: "Administrative",
        exempt: "NonExempt",
        department: "023",
        levels: &["G02", "G03"],
        skills: &["Payroll", "Excel", "Accounting", "ProblemSolv"],
        education: &[("Associate", "Accounting")],
        ..JOB
    },
    JobProfile {
        id: "Sales Representative",
        function: "0400",
        job_type: "Sales",
        category: "SalesWorker",
        exempt: "NonExempt",
        department: "025",
        levels: &["G02", "G03", "G04"],
        skills: &["Sales", "CRM", "Negotiation", "CustFocus", "Spanish"],
        education: &[("Bachelor", "Marketing"), ("Bachelor", "Business Admin")],
        ..JOB
    },
    JobProfile {
        id: "Account Manager",
        function: "0400",
        job_type: "Sales",
        category: "SalesWorker",
        exempt: "Exempt",
        department: "025",
        levels: &["G04", "G05"],
        skills: &["Sales", "CRM", "CustFocus", "Negotiation", "Present"],
        education: BA,
        ..JOB
    },
    JobProfile {
        id: "Marketing Specialist",
        function: "0500",
        job_type: "Professionals",
        category: "Professional",
        exempt: "Exempt",
        department: "026",
        levels: &["G03", "G04"],
        skills: &["Marketing", "Writing", "Analytics", "Present"],
        education: &[("Bachelor", "Marketing"), ("Bachelor", "Business Mgmt")],
        ..JOB
    },
    JobProfile {
        id: "Data Analyst",
        function: "0300",
        job_type: "Professionals",
        category: "Professional",
        exempt: "Exempt",
        department: "024",
        levels: &["G04", "G05"],
        skills: &["SQL", "Analytics", "Excel", "Present", "ProblemSolv"],
        education: &[("Bachelor", "Economics"), ("Master", "Computer Sci")],
        ..JOB
    },
    JobProfile {
        id: "Network Administrator",
        function: "0300",
        job_type: "Technicians",
        category: "Technician",
        exempt: "NonExempt",
        department: "024",
        levels: &["G03", "G04"],
        skills: &["Networking", "Cloud", "ProblemSolv", "Safety"],
        education: &[("Associate", "Computer Sci")],
        ..JOB
    },
    JobProfile {
        id: "IT Support Technician",
        function: "0300",
        job_type: "Technicians",
        category: "Technician",
        exempt: "NonExempt",
        department: "024",
        levels: &["G02", "G03"],
        skills: &["Networking", "CustFocus", "ProblemSolv", "Writing"],
        education: &[("Associate", "Computer Sci")],
        ..JOB
    },
    JobProfile {
        id: "Customer Service Rep",
        function: "1000",
        job_type: "Service",
        category: "ServiceWorker",
        exempt: "NonExempt",
        department: "031",
        levels: &["G01", "G02"],
        skills: &["CustFocus", "CRM", "Spanish", "Teamwork"],
        education: HS,
        ..JOB
    },
    JobProfile {
        id: "Warehouse Worker",
        function: "0900",
        job_type: "Laborers",
        category: "Laborer",
        exempt: "NonExempt",
        department: "030",
        levels: &["G01", "G02"],
        skills: &["Forklift", "Inventory", "Safety", "Teamwork"],
        education: HS,
        ..JOB
    },
    JobProfile {
        id: "Forklift Operator",
        function: "0900",
        job_type: "Operators",
        category: "Operative",
        exempt: "NonExempt",
        department: "030",
        levels: &["G01", "G02"],
        skills: &["Forklift", "Safety", "Inventory", "Teamwork"],
        education: HS,
        ..JOB
    },
    JobProfile {
        id: "Production Supervisor",
        function: "0800",
        job_type: "Managers",
        category: "Manager",
        exempt: "Exempt",
        department: "029",
        levels: &["G04", "G05"],
        skills: &["Leadership", "Quality", "Safety", "ProblemSolv"],
        education: &[("Bachelor", "Mech Eng")],
        ..JOB
    },
    JobProfile {
        id: "Machine Operator",
        function: "0800",
        job_type: "Operators",
        category: "Operative",
        exempt: "NonExempt",
        department: "029",
        levels: &["G01", "G02"],
        skills: &["Safety", "Quality", "Welding", "Teamwork"],
        education: HS,
        ..JOB
    },
    JobProfile {
        id: "Electrician",
        function: "0800",
        job_type: "Technicians",
        category: "CraftWorker",
        exempt: "NonExempt",
        department: "029",
        levels: &["G02", "G03"],
        skills: &["Electrical", "Safety", "ProblemSolv", "Teamwork"],
        education: &[("Vocational", "Elec Eng")],
        ..JOB
    },
    JobProfile {
        id: "Quality Inspector",
        function: "0800",
        job_type: "Technicians",
        category: "Technician",
        exempt: "NonExempt",
        department: "029",
        levels: &["G02", "G03"],
        skills: &["Quality", "Safety", "Writing", "Analytics"],
        education: &[("Associate", "Mech Eng")],
        ..JOB
    },
    JobProfile {
        id: "Truck Driver",
        function: "0900",
        job_type: "Operators",
        category: "Operative",
        exempt: "NonExempt",
        department: "030",
        levels: &["G01", "G02", "G03"],
        skills: &["Driving", "Safety", "CustFocus", "Inventory"],
        education: HS,
        ..JOB
    },
    JobProfile {
        id: "Office Administrator",
        function: "0700",
        job_type: "Administrative",
        category: "Administrative",
        exempt: "NonExempt",
        department: "027",
        levels: &["G01", "G02"],
        skills: &["Excel", "Writing", "CustFocus", "Teamwork"],
        education: BA,
        ..JOB
    },
    JobProfile {
        id: "Department Manager",
        function: "0100",
        job_type: "Managers",
        category: "Executive",
        exempt: "Exempt",
        department: "021",
        levels: &["G07", "G08", "G09"],
        skills: &["Leadership", "Present", "ProjectMgmt", "Negotiation"],
        education: &[("Master", "Business Admin")],
        head: true,
        ..JOB
    },
    JobProfile {
        id: "Utvikler",
        function: "0300",
        job_type: "Professionals",
        category: "Professional",
        exempt: "Exempt",
        department: "054",
        levels: &["G04", "G05", "G06"],
        skills: &["Programmering", "Analyse", "Samarbeid", "Norsk", "Cloud"],
        education: &[
            ("Bachelorgrad", "Informatikk"),
            ("Mastergrad", "Informatikk"),
        ],
        norwegian: true,
        ..JOB
    },
    JobProfile {
        id: "Prosjektleder",
        function: "0100",
        job_type: "Managers",
        category: "Manager",
        exempt: "NonExempt",
        department: "051",
        levels: &["G05", "G06"],
        skills: &["Ledelse", "ProjectMgmt", "Samarbeid", "Norsk"],
        education: OK,
        norwegian: true,
        ..JOB
    },
    JobProfile {
        id: "Regnskapsfører",
        function: "0200",
        job_type: "Professionals",
        category: "Professional",
        exempt: "Exempt",
        department: "052",
        levels: &["G03", "G04"],
        skills: &["Regnskap", "Excel", "Analyse", "Norsk"],
        education: OK,
        norwegian: true,
        ..JOB
    },
    JobProfile {
        id: "Økonomisjef",
        function: "0200",
        job_type: "Managers",
        category: "Manager",
        exempt: "Exempt",
        department: "052",
        levels: &["G07", "G08"],
        skills: &["Regnskap", "Ledelse", "Analyse", "Norsk"],
        education: OK,
        norwegian: true,
        ..JOB
    },
    JobProfile {
        id: "HR-rådgiver",
        function: "0600",
        job_type: "Professionals",
        category: "Professional",
        exempt: "Exempt",
        department: "053",
        levels: &["G03", "G04"],
        skills: &["Samarbeid", "Norsk", "Recruiting", "Ledelse"],
        education: OK,
        norwegian: true,
        ..JOB
    },
    JobProfile {
        id: "Selger",
        function: "0400",
        job_type: "Sales",
        category: "SalesWorker",
        exempt: "NonExempt",
        department: "055",
        levels: &["G02", "G03"],
        skills: &["Salg", "Kundeservice", "Samarbeid", "Norsk"],
        education: OK,
        norwegian: true,
        ..JOB
    },
    JobProfile {
        id: "Kundebehandler",
        function: "1000",
        job_type: "Service",
        category: "ServiceWorker",
        exempt: "NonExempt",
        department: "058",
        levels: &["G01", "G02"],
        skills: &["Kundeservice", "Norsk", "Samarbeid", "Salg"],
        education: &[("Fagbrev", "Økonomi")],
        norwegian: true,
        ..JOB
    },
    JobProfile {
        id: "Lagermedarbeider",
        function: "0900",
        job_type: "Laborers",
        category: "Laborer",
        exempt: "NonExempt",
        department: "057",
        levels: &["G01", "G02"],
        skills: &["Truck", "Samarbeid", "Norsk", "Inventory"],
        education: &[("Fagbrev", "Logistics")],
        norwegian: true,
        ..JOB
    },
    JobProfile {
        id: "Sjåfør",
        function: "0900",
        job_type: "Operators",
        category: "Operative",
        exempt: "NonExempt",
        department: "057",
        levels: &["G01", "G02"],
        skills: &["Truck", "Driving", "Norsk", "Samarbeid"],
        education: &[("Fagbrev", "Logistics")],
        norwegian: true,
        ..JOB
    },
    JobProfile {
        id: "Elektriker",
        function: "0800",
        job_type: "Technicians",
        category: "CraftWorker",
        exempt: "NonExempt",
        department: "056",
        levels: &["G02", "G03"],
        skills: &["Elektro", "Samarbeid", "Norsk", "Safety"],
        education: &[("Fagbrev", "Elektrofag")],
        norwegian: true,
        ..JOB
    },
    JobProfile {
        id: "Dataanalytiker",
        function: "0300",
        job_type: "Professionals",
        category: "Professional",
        exempt: "Exempt",
        department: "054",
        levels: &["G04", "G05"],
        skills: &["Analyse", "Programmering", "Norsk", "Samarbeid"],
        education: &[("Mastergrad", "Informatikk"), ("Bachelorgrad", "Økonomi")],
        norwegian: true,
        ..JOB
    },
    JobProfile {
        id: "Avdelingsleder",
        function: "0100",
        job_type: "Managers",
        category: "Executive",
        exempt: "Exempt",
        department: "051",
        levels: &["G07", "G08"],
        skills: &["Ledelse", "Samarbeid", "Norsk", "Analyse"],
        education: OK,
        norwegian: true,
        head: true,
    },
];

pub(crate) fn job_profile(id: &str) -> Option<&'static JobProfile> {
    JOBS.iter().find(|j| j.id == id)
}

pub(super) const JOB_FUNCTIONS: &[(&str, &str)] = &[
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

pub(super) const JOB_TYPES: &[(&str, &str)] = &[
    ("Managers", "Managers and officials"),
    ("Professionals", "Professionals"),
    ("Technicians", "Technicians"),
    ("Sales", "Sales workers"),
    ("Administrative", "Administrative support"),
    ("Operators", "Operatives"),
    ("Laborers", "Laborers and helpers"),
    ("Service", "Service workers"),
];
