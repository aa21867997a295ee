// Built by scripts/hire-client-check.sh: the hire body as a generated TypeScript client types it.
import type { components } from "./api";
type HireBody = components["schemas"]["HireBody"];

const full: HireBody = {
  recruiting_request: "USMF-000001", position: "000520",
  availability_date: "2027-02-01", willing_to_relocate: true, comments: "Accepted", status: "hired",
  person: {
    first_name: "Evelyn", last_name: "Chambers", gender: "female", birth_date: "1990-04-02",
    citizenship_country: "USA",
    contacts: [{ type: "email_address", locator: "evelyn@example.com", is_primary: true }],
    addresses: [{ street: "1 Main St", city: "Seattle", zip_code: "98052", country_region: "USA", roles: ["Home"], is_primary: true }],
    education: [{ education_level: "Bachelor", discipline: "Business Mgmt", institution: "Cottonwood Univ", start_date: "2008-09-01", end_date: "2012-06-01" }],
    experience: [{ employer: "Fabrikam", position: "Analyst", start_date: "2012-07-01", end_date: "2026-12-31" }],
    skills: [{ skill: "CustFocus", rating_level: "4", years_of_experience: 3 }],
    certificates: [{ certificate_type: "ITIL", start_date: "2020-05-01" }],
    screenings: [{ screening_type: "Background", status: "pass" }],
    identification_numbers: [{ identification_type: "SSN", number: "123-45-6789", issuing_agency: "SSA" }],
  },
};
const internal: HireBody = { recruiting_request: "USMF-000001", person: { party_number: "HR000001002" } };
// @ts-expect-error a new person needs last_name
const noLast: HireBody = { recruiting_request: "USMF-000001", person: { first_name: "A" } };
// @ts-expect-error a contact needs a locator
const noLocator: HireBody = { recruiting_request: "R", person: { first_name: "A", last_name: "B", contacts: [{ type: "phone" }] } };
export { full, internal, noLast, noLocator };
