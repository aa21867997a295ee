//! Localised name and address material for the generated people and places.

/// The locale of a company's people and places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locale {
    Us,
    Uk,
    No,
}

pub(crate) struct City {
    pub name: &'static str,
    pub state: &'static str,
    pub county: &'static str,
    pub zip: &'static str,
}

pub(crate) struct LocaleData {
    pub country: &'static str,
    pub phone_prefix: &'static str,
    pub language: &'static str,
    pub female: &'static [&'static str],
    pub male: &'static [&'static str],
    pub last: &'static [&'static str],
    pub streets: &'static [&'static str],
    pub cities: &'static [City],
    pub email_domain: &'static str,
}

const fn city(
    name: &'static str,
    state: &'static str,
    county: &'static str,
    zip: &'static str,
) -> City {
    City {
        name,
        state,
        county,
        zip,
    }
}

pub(crate) const US: LocaleData = LocaleData {
    country: "USA",
    phone_prefix: "+1",
    language: "en-us",
    female: &[
        "Evelyn",
        "Olivia",
        "Emma",
        "Sophia",
        "Ava",
        "Mia",
        "Harper",
        "Abigail",
        "Emily",
        "Elizabeth",
        "Sofia",
        "Madison",
        "Avery",
        "Ella",
        "Scarlett",
        "Grace",
        "Chloe",
        "Victoria",
        "Riley",
        "Aria",
        "Lily",
        "Zoey",
        "Hannah",
        "Nora",
        "Julia",
        "Claire",
    ],
    male: &[
        "Liam",
        "Noah",
        "William",
        "James",
        "Logan",
        "Benjamin",
        "Mason",
        "Elijah",
        "Oliver",
        "Jacob",
        "Lucas",
        "Michael",
        "Alexander",
        "Ethan",
        "Daniel",
        "Matthew",
        "Aiden",
        "Henry",
        "Joseph",
        "Jackson",
        "Samuel",
        "Sebastian",
        "David",
        "Carter",
        "Wyatt",
        "Owen",
    ],
    last: &[
        "Smith",
        "Johnson",
        "Williams",
        "Brown",
        "Jones",
        "Garcia",
        "Miller",
        "Davis",
        "Rodriguez",
        "Martinez",
        "Hernandez",
        "Lopez",
        "Wilson",
        "Anderson",
        "Thomas",
        "Taylor",
        "Moore",
        "Jackson",
        "Martin",
        "Lee",
        "Thompson",
        "White",
        "Harris",
        "Clark",
        "Lewis",
        "Robinson",
        "Walker",
        "Young",
        "Allen",
        "King",
        "Wright",
        "Scott",
        "Chambers",
        "Nguyen",
        "Hill",
        "Flores",
        "Green",
        "Adams",
    ],
    streets: &[
        "123 Main St",
        "456 Oak Ave",
        "789 Pine Rd",
        "1010 Maple Dr",
        "22 Cedar Ln",
        "350 Elm St",
        "4100 Lake Washington Blvd",
        "15 Commerce Way",
        "900 1st Ave",
        "77 Market St",
    ],
    cities: &[
        city("Seattle", "WA", "KING", "98101"),
        city("Redmond", "WA", "KING", "98052"),
        city("Bellevue", "WA", "KING", "98004"),
        city("Chicago", "IL", "COOK", "60601"),
        city("New York", "NY", "NEW YORK", "10001"),
        city("Dallas", "TX", "DALLAS", "75201"),
        city("Atlanta", "GA", "FULTON", "30303"),
        city("Denver", "CO", "DENVER", "80202"),
    ],
    email_domain: "contoso.com",
};

pub(crate) const UK: LocaleData = LocaleData {
    country: "GBR",
    phone_prefix: "+44",
    language: "en-gb",
    female: &[
        "Amelia",
        "Isla",
        "Olivia",
        "Ava",
        "Emily",
        "Poppy",
        "Isabella",
        "Jessica",
        "Lily",
        "Sophie",
        "Charlotte",
        "Freya",
        "Ruby",
        "Evie",
        "Daisy",
        "Alice",
        "Imogen",
        "Eleanor",
    ],
    male: &[
        "Oliver",
        "Harry",
        "George",
        "Jack",
        "Charlie",
        "Thomas",
        "Oscar",
        "Alfie",
        "James",
        "Henry",
        "William",
        "Leo",
        "Archie",
        "Joshua",
        "Alexander",
        "Edward",
        "Freddie",
        "Arthur",
    ],
    last: &[
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
        "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood",
        "Jackson", "Clarke", "Patel", "Hughes", "Edwards", "Turner", "Cooper", "Harris",
    ],
    streets: &[
        "10 High Street",
        "42 Station Road",
        "7 Church Lane",
        "118 Victoria Road",
        "3 Mill Lane",
        "55 Park Road",
        "21 Queen's Road",
        "9 King Street",
    ],
    cities: &[
        city("London", "", "Greater London", "EC1A 1BB"),
        city("Manchester", "", "Greater Manchester", "M1 1AE"),
        city("Birmingham", "", "West Midlands", "B1 1AA"),
        city("Leeds", "", "West Yorkshire", "LS1 4AP"),
        city("Bristol", "", "Bristol", "BS1 4DJ"),
        city("Reading", "", "Berkshire", "RG1 1AA"),
    ],
    email_domain: "contoso.co.uk",
};

pub(crate) const NO: LocaleData = LocaleData {
    country: "NOR",
    phone_prefix: "+47",
    language: "nb-no",
    female: &[
        "Ingrid", "Nora", "Emma", "Sofie", "Maja", "Ingeborg", "Astrid", "Sara", "Thea", "Ida",
        "Kari", "Anne", "Marit", "Solveig", "Hanne", "Silje", "Tone", "Ragnhild",
    ],
    male: &[
        "Lars", "Ole", "Jakob", "Emil", "Henrik", "Magnus", "Sindre", "Knut", "Per", "Bjørn",
        "Eirik", "Håkon", "Sigurd", "Anders", "Torstein", "Kristian", "Jon", "Øyvind",
    ],
    last: &[
        "Hansen",
        "Johansen",
        "Olsen",
        "Larsen",
        "Andersen",
        "Pedersen",
        "Nilsen",
        "Kristiansen",
        "Jensen",
        "Karlsen",
        "Johnsen",
        "Pettersen",
        "Eriksen",
        "Berg",
        "Haugen",
        "Hagen",
        "Johannessen",
        "Andreassen",
        "Jacobsen",
        "Dahl",
        "Jørgensen",
        "Halvorsen",
        "Lund",
        "Solberg",
        "Bakken",
    ],
    streets: &[
        "Karl Johans gate 12",
        "Storgata 5",
        "Bryggen 3",
        "Kongens gate 20",
        "Dronningens gate 8",
        "Nedre Slottsgate 4",
        "Torgallmenningen 1",
        "Olav Tryggvasons gate 15",
    ],
    cities: &[
        city("Oslo", "", "Oslo", "0150"),
        city("Bergen", "", "Vestland", "5003"),
        city("Trondheim", "", "Trøndelag", "7011"),
        city("Stavanger", "", "Rogaland", "4006"),
        city("Tromsø", "", "Troms", "9008"),
    ],
    email_domain: "contoso.no",
};

pub(crate) fn locale_data(locale: Locale) -> &'static LocaleData {
    match locale {
        Locale::Us => &US,
        Locale::Uk => &UK,
        Locale::No => &NO,
    }
}

/// Lower-case ASCII form of a name for e-mail addresses (ø → o, å → a, æ → ae).
pub(crate) fn ascii_slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'ø' | 'Ø' => out.push('o'),
            'å' | 'Å' => out.push('a'),
            'æ' | 'Æ' => out.push_str("ae"),
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_folds_norwegian_letters() {
        assert_eq!(ascii_slug("Bjørn Håkon"), "bjornhakon");
        assert_eq!(ascii_slug("Ærlig"), "aerlig");
    }
}
