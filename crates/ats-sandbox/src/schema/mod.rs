//! The emulated Dataverse schema: the 18 documented ATS tables (generated from docs/ats-data-model.md), the
//! undocumented lookup targets they point at (our choice of columns, kept minimal), and navigation
//! properties. Everything the OData evaluator, the seed generator and the HTTP layer need to know
//! about a table lives here.

mod ats_tables;
pub(crate) mod option_sets;
mod reference_tables;

use std::collections::HashMap;
use std::sync::LazyLock;

/// Edm type of a column as the emulator treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColType {
    String,
    Guid,
    Int,
    Decimal,
    /// Date columns are serialised as `YYYY-MM-DDT00:00:00Z`: the documented sample
    /// (`mshr_estimatedstartdate: "2021-01-04T00:00:00Z"`) wins over the property tables' "Date".
    Date,
    /// Choice column; the name is the global option set.
    OptionSet(&'static str),
    /// `_x_value` lookup property; the target is a table logical name.
    Lookup(&'static str),
}

#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub name: &'static str,
    pub ty: ColType,
}

#[derive(Debug, Clone)]
pub(crate) enum NavKind {
    /// Parent → children: rows of `child` whose lookup property `child_lookup` holds the parent's key.
    Collection {
        child: &'static str,
        child_lookup: &'static str,
    },
    /// Row → one target row: this row's lookup property `lookup` holds the target's key.
    Single {
        target: &'static str,
        lookup: &'static str,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct NavProp {
    pub name: &'static str,
    pub kind: NavKind,
}

#[derive(Debug, Clone)]
pub(crate) struct EntityDef {
    pub logical_name: &'static str,
    pub set_name: String,
    pub primary_id: String,
    /// Primary name attribute: what a lookup's FormattedValue shows. For F&O virtual tables this is
    /// `mshr_primaryfield` (the entity key fields joined with " | "), per
    /// docs/dataverse-web-api.md#virtual-tables.
    pub primary_name: &'static str,
    pub columns: Vec<Column>,
    pub navs: Vec<NavProp>,
    /// Entity type code used in Dataverse's privilege error message (`OTC=`).
    pub object_type_code: u32,
    /// True for the 18 documented ATS tables.
    pub documented: bool,
}

impl EntityDef {
    pub(crate) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    pub(crate) fn nav(&self, name: &str) -> Option<&NavProp> {
        self.navs.iter().find(|n| n.name == name)
    }
    /// F&O/HR virtual tables (`mshr_`/`mserp_`) have no optimistic concurrency
    /// (docs/dataverse-web-api.md#virtual-tables).
    pub(crate) fn is_virtual(&self) -> bool {
        self.logical_name.starts_with("mshr_") || self.logical_name.starts_with("mserp_")
    }
}

pub(crate) struct Schema {
    tables: Vec<EntityDef>,
    by_set: HashMap<String, usize>,
    by_logical: HashMap<&'static str, usize>,
}

impl Schema {
    pub(crate) fn by_set(&self, set: &str) -> Option<&EntityDef> {
        self.by_set.get(set).map(|&i| &self.tables[i])
    }
    pub(crate) fn by_logical(&self, logical: &str) -> Option<&EntityDef> {
        self.by_logical.get(logical).map(|&i| &self.tables[i])
    }
    pub(crate) fn tables(&self) -> &[EntityDef] {
        &self.tables
    }
}

/// Entity set name for a logical name: `…entity` → `…entities`, `cdm_company` → `cdm_companies`.
pub(crate) fn set_name_of(logical: &str) -> String {
    if let Some(stem) = logical.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{logical}s")
    }
}

/// Documented navigation properties (docs/ats-data-model.md#conventions) plus our inferred ones, named by the
/// rule the docs give (`mshr_FK_Hcm<Xxx>Entity_Person`, `mshr_FK_<Name>_id`).
fn navs_for(logical: &str) -> Vec<NavProp> {
    use NavKind::*;
    let rr = "_mshr_fk_recruitingrequest_id_value";
    let person = "_mshr_fk_person_id_value";
    match logical {
        "mshr_hcmrecruitingrequestentity" => vec![
            NavProp {
                name: "mshr_FK_HcmRecruitingRequestPositionEntity_RecruitingRequest",
                kind: Collection {
                    child: "mshr_hcmrecruitingrequestpositionentity",
                    child_lookup: rr,
                },
            },
            NavProp {
                name: "mshr_FK_HcmRecruitingRequestSkillEntity_RecruitingRequest",
                kind: Collection {
                    child: "mshr_hcmrecruitingrequestskillentity",
                    child_lookup: rr,
                },
            },
            NavProp {
                name: "mshr_FK_HcmRecruitingRequestEducationEntity_RecruitingRequest",
                kind: Collection {
                    child: "mshr_hcmrecruitingrequesteducationentity",
                    child_lookup: rr,
                },
            },
            // Inferred name (`mshr_FK_<Name>_id`), follows the JSON spelling of the lookup.
            NavProp {
                name: "mshr_FK_RecruitingRequestLocation_id",
                kind: Single {
                    target: "mshr_hcmrecruitingrequestlocationentity",
                    lookup: "_mshr_fk_recruitingrequestlocation_id_value",
                },
            },
        ],
        "mshr_hcmcandidatetohireentity" => vec![
            NavProp {
                name: "mshr_FK_Person_id",
                kind: Single {
                    target: "mshr_dirpersonentity",
                    lookup: person,
                },
            },
            NavProp {
                name: "mshr_FK_RecruitingRequest_id",
                kind: Single {
                    target: "mshr_hcmrecruitingrequestentity",
                    lookup: rr,
                },
            },
        ],
        "mshr_dirpersonentity" => vec![
            NavProp {
                name: "mshr_FK_HcmPersonSkillEntity_Person",
                kind: Collection {
                    child: "mshr_hcmpersonskillentity",
                    child_lookup: person,
                },
            },
            NavProp {
                name: "mshr_FK_HcmPersonEducationEntity_Person",
                kind: Collection {
                    child: "mshr_hcmpersoneducationentity",
                    child_lookup: person,
                },
            },
            NavProp {
                name: "mshr_FK_HcmPersonProfessionalExperienceEntity_Person",
                kind: Collection {
                    child: "mshr_hcmpersonprofessionalexperienceentity",
                    child_lookup: person,
                },
            },
            NavProp {
                name: "mshr_FK_HcmPersonAddressEntity_Person",
                kind: Collection {
                    child: "mshr_hcmpersonaddressentity",
                    child_lookup: person,
                },
            },
            NavProp {
                name: "mshr_FK_DirPartyContactEntity_Person",
                kind: Collection {
                    child: "mshr_dirpartycontactentity",
                    child_lookup: person,
                },
            },
            NavProp {
                name: "mshr_FK_HcmPersonCertificateEntity_Person",
                kind: Collection {
                    child: "mshr_hcmpersoncertificateentity",
                    child_lookup: person,
                },
            },
            NavProp {
                name: "mshr_FK_HcmPersonScreeningEntity_Person",
                kind: Collection {
                    child: "mshr_hcmpersonscreeningentity",
                    child_lookup: person,
                },
            },
            NavProp {
                name: "mshr_FK_HcmPersonIdentificationNumberEntity_Person",
                kind: Collection {
                    child: "mshr_hcmpersonidentificationnumberentity",
                    child_lookup: person,
                },
            },
        ],
        "mshr_hcmrecruitingrequestpositionentity"
        | "mshr_hcmrecruitingrequestskillentity"
        | "mshr_hcmrecruitingrequesteducationentity" => vec![NavProp {
            name: "mshr_FK_RecruitingRequest_id",
            kind: Single {
                target: "mshr_hcmrecruitingrequestentity",
                lookup: rr,
            },
        }],
        _ => Vec::new(),
    }
}

fn build() -> Schema {
    let mut tables = Vec::new();
    let all = ats_tables::ATS_TABLES.iter().map(|t| (t, true)).chain(
        reference_tables::REFERENCE_TABLES
            .iter()
            .map(|t| (t, false)),
    );
    for (otc, (&(logical, cols), documented)) in (10_401..).zip(all) {
        let mut columns: Vec<Column> = cols.iter().map(|&(name, ty)| Column { name, ty }).collect();
        let primary_name = if logical == "cdm_company" {
            "cdm_name"
        } else {
            "mshr_primaryfield"
        };
        if columns.iter().all(|c| c.name != primary_name) {
            columns.push(Column {
                name: primary_name,
                ty: ColType::String,
            });
        }
        let primary_id = format!("{logical}id");
        if columns.iter().all(|c| c.name != primary_id) {
            columns.insert(
                0,
                Column {
                    name: Box::leak(primary_id.clone().into_boxed_str()),
                    ty: ColType::Guid,
                },
            );
        }
        tables.push(EntityDef {
            logical_name: logical,
            set_name: set_name_of(logical),
            primary_id,
            primary_name,
            columns,
            navs: navs_for(logical),
            object_type_code: otc,
            documented,
        });
    }
    let by_set = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.set_name.clone(), i))
        .collect();
    let by_logical = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.logical_name, i))
        .collect();
    Schema {
        tables,
        by_set,
        by_logical,
    }
}

pub(crate) static SCHEMA: LazyLock<Schema> = LazyLock::new(build);

pub(crate) fn schema() -> &'static Schema {
    &SCHEMA
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_documented_tables_and_lookup_targets_exist() {
        let s = schema();
        assert_eq!(s.tables().iter().filter(|t| t.documented).count(), 18);
        for t in s.tables() {
            for c in &t.columns {
                if let ColType::Lookup(target) = c.ty {
                    assert!(
                        s.by_logical(target).is_some(),
                        "{}.{} → {target} missing",
                        t.logical_name,
                        c.name
                    );
                }
            }
            for n in &t.navs {
                match n.kind {
                    NavKind::Collection {
                        child,
                        child_lookup,
                    } => {
                        let c = s.by_logical(child).expect("child table");
                        assert!(
                            c.column(child_lookup).is_some(),
                            "{}: {child_lookup}",
                            n.name
                        );
                    }
                    NavKind::Single { target, lookup } => {
                        assert!(s.by_logical(target).is_some());
                        assert!(t.column(lookup).is_some(), "{}: {lookup}", n.name);
                    }
                }
            }
        }
        assert_eq!(
            s.by_set("mshr_hcmrecruitingrequestentities")
                .map(|t| t.primary_id.as_str()),
            Some("mshr_hcmrecruitingrequestentityid")
        );
        assert!(s.by_set("cdm_companies").is_some());
    }
}
