//! Tests of the query engine against the real schema (recruiting requests).

use serde_json::json;

use super::*;
use crate::schema::schema;
use crate::store::Row;

const SET: &str = "mshr_hcmrecruitingrequestentities";
const G1: &str = "4026be43-6b69-e111-8f65-78e7d1620f5e";
const G2: &str = "11111111-2222-3333-4444-555555555555";

fn rr() -> &'static EntityDef {
    schema().by_set(SET).expect("recruiting request table")
}

fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
    q.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn row(v: serde_json::Value) -> Row {
    v.as_object().expect("object").clone()
}

fn rows() -> Vec<Row> {
    vec![
        row(json!({
            "mshr_hcmrecruitingrequestentityid": "00000000-0000-0000-0000-000000000003",
            "mshr_recruitingrequestid": "RR-003",
            "mshr_description": "O'Bryan's 100% team_lead",
            "mshr_status": 200000000,
            "mshr_estimatedstartdate": "2021-01-04T00:00:00Z",
            "mshr_compensationlowthreshold": 1500.5,
            "_mshr_fk_recruiter_id_value": G1,
        })),
        row(json!({
            "mshr_hcmrecruitingrequestentityid": "00000000-0000-0000-0000-000000000001",
            "mshr_recruitingrequestid": "RR-001",
            "mshr_description": "Senior Developer",
            "mshr_status": 200000005,
            "mshr_estimatedstartdate": "2022-06-01T00:00:00Z",
            "mshr_compensationlowthreshold": 900,
            "_mshr_fk_recruiter_id_value": G2,
        })),
        row(json!({
            "mshr_hcmrecruitingrequestentityid": "00000000-0000-0000-0000-000000000002",
            "mshr_recruitingrequestid": "RR-002",
            "mshr_description": null,
            "mshr_status": 200000005,
            "mshr_estimatedstartdate": null,
            "_mshr_fk_recruiter_id_value": null,
        })),
    ]
}

fn filter_with(f: &str, extra: &[(&str, &str)]) -> Result<Expr, DvError> {
    let mut p = vec![("$filter", f)];
    p.extend_from_slice(extra);
    parse_query(rr(), &pairs(&p)).map(|q| q.filter.expect("filter"))
}

/// Ids (`RR-00x`) of the rows matching `f`, in row order.
fn hits_with(f: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let e = filter_with(f, extra).unwrap_or_else(|err| panic!("{f}: {err}"));
    rows()
        .iter()
        .filter(|r| matches(&e, r))
        .map(|r| {
            r["mshr_recruitingrequestid"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

fn hits(f: &str) -> Vec<String> {
    hits_with(f, &[])
}

fn err(f: &str) -> String {
    match filter_with(f, &[]) {
        Ok(e) => panic!("{f} parsed: {e:?}"),
        Err(e) => {
            assert_eq!(e.status.as_u16(), 400, "{f}");
            e.message
        }
    }
}

#[test]
fn comparison_operators_on_option_sets_and_decimals() {
    assert_eq!(hits("mshr_status eq 200000005"), ["RR-001", "RR-002"]);
    assert_eq!(hits("mshr_status ne 200000005"), ["RR-003"]);
    assert_eq!(hits("mshr_compensationlowthreshold gt 900"), ["RR-003"]);
    assert_eq!(
        hits("mshr_compensationlowthreshold ge 900"),
        ["RR-003", "RR-001"]
    );
    assert_eq!(hits("mshr_compensationlowthreshold lt 1500.5"), ["RR-001"]);
    assert_eq!(
        hits("mshr_compensationlowthreshold le 1500.5"),
        ["RR-003", "RR-001"]
    );
}

#[test]
fn null_literal_tests_nullness_and_nulls_never_compare() {
    assert_eq!(hits("mshr_description eq null"), ["RR-002"]);
    assert_eq!(hits("mshr_description ne null"), ["RR-003", "RR-001"]);
    assert_eq!(hits("null eq mshr_estimatedstartdate"), ["RR-002"]);
    assert_eq!(
        hits("mshr_compensationlowthreshold lt 100000"),
        ["RR-003", "RR-001"]
    );
}

#[test]
fn logical_operators_and_parentheses() {
    assert_eq!(
        hits("mshr_status eq 200000005 and mshr_recruitingrequestid eq 'RR-002'"),
        ["RR-002"]
    );
    assert_eq!(
        hits("mshr_recruitingrequestid eq 'RR-003' or mshr_recruitingrequestid eq 'RR-002'"),
        ["RR-003", "RR-002"]
    );
    assert_eq!(hits("not (mshr_status eq 200000005)"), ["RR-003"]);
    assert_eq!(
        hits("(mshr_status eq 200000000 or mshr_status eq 200000005) and not contains(mshr_description,'dev')"),
        ["RR-003"]
    );
    assert_eq!(hits("true"), ["RR-003", "RR-001", "RR-002"]);
    assert_eq!(hits("not true"), Vec::<String>::new());
}

#[test]
fn strings_are_case_insensitive_with_doubled_quotes() {
    assert_eq!(hits("mshr_recruitingrequestid eq 'rr-001'"), ["RR-001"]);
    assert_eq!(
        hits("mshr_recruitingrequestid gt 'rr-001'"),
        ["RR-003", "RR-002"]
    );
    assert_eq!(hits("contains(mshr_description,'O''BRYAN')"), ["RR-003"]);
    assert_eq!(hits("startswith(mshr_description,'senior')"), ["RR-001"]);
    assert_eq!(hits("endswith(mshr_description,'LEAD')"), ["RR-003"]);
    assert_eq!(
        hits("contains(mshr_description,'dev') eq false"),
        ["RR-003"]
    );
    assert_eq!(hits("contains(mshr_description,'dev') eq true"), ["RR-001"]);
}

#[test]
fn sql_wildcards_inside_string_functions() {
    assert_eq!(hits("contains(mshr_description,'Sen%Dev')"), ["RR-001"]);
    assert_eq!(hits("startswith(mshr_description,'S_nior')"), ["RR-001"]);
    assert_eq!(hits("contains(mshr_description,'team[_]lead')"), ["RR-003"]);
    assert_eq!(hits("contains(mshr_description,'100[%]')"), ["RR-003"]);
}

#[test]
fn guid_literals_quoted_and_unquoted() {
    assert_eq!(
        hits(&format!("_mshr_fk_recruiter_id_value eq {G1}")),
        ["RR-003"]
    );
    assert_eq!(
        hits(&format!("_mshr_fk_recruiter_id_value eq '{G1}'")),
        ["RR-003"]
    );
    assert_eq!(
        hits(&format!(
            "_mshr_fk_recruiter_id_value eq {}",
            G1.to_uppercase()
        )),
        ["RR-003"]
    );
    assert_eq!(
        hits("mshr_hcmrecruitingrequestentityid eq 00000000-0000-0000-0000-000000000002"),
        ["RR-002"]
    );
}

#[test]
fn date_and_datetimeoffset_literals_compare_by_instant() {
    assert_eq!(hits("mshr_estimatedstartdate eq 2021-01-04"), ["RR-003"]);
    assert_eq!(
        hits("mshr_estimatedstartdate eq 2021-01-04T00:00:00Z"),
        ["RR-003"]
    );
    assert_eq!(hits("mshr_estimatedstartdate gt 2021-01-04"), ["RR-001"]);
    assert_eq!(
        hits("mshr_estimatedstartdate lt 2021-01-04T00:00:01Z"),
        ["RR-003"]
    );
    assert_eq!(
        hits("mshr_estimatedstartdate ge 2021-01-04T01:00:00+01:00"),
        ["RR-003", "RR-001"]
    );
}

#[test]
fn in_and_notin_with_aliases_and_inline() {
    let aliases = [
        ("@p1", "'mshr_status'"),
        ("@p2", r#"["200000000","200000005"]"#),
    ];
    assert_eq!(
        hits_with(
            "Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)",
            &aliases
        ),
        ["RR-003", "RR-001", "RR-002"]
    );
    assert_eq!(
        hits(
            r#"Microsoft.Dynamics.CRM.In(PropertyName='mshr_status',PropertyValues=["200000000"])"#
        ),
        ["RR-003"]
    );
    assert_eq!(
        hits(
            r#"Microsoft.Dynamics.CRM.NotIn(PropertyName='mshr_recruitingrequestid',PropertyValues=["rr-001","RR-003"])"#
        ),
        ["RR-002"]
    );
    assert_eq!(
        hits(&format!(
            r#"Microsoft.Dynamics.CRM.In(PropertyName='_mshr_fk_recruiter_id_value',PropertyValues=["{G2}"])"#
        )),
        ["RR-001"]
    );
    assert_eq!(
        hits(
            r#"Microsoft.Dynamics.CRM.Between(PropertyName='mshr_compensationlowthreshold',PropertyValues=["1000","2000"])"#
        ),
        ["RR-003"]
    );
    // An alias used as an operand; an unassigned one is null.
    assert_eq!(
        hits_with("mshr_recruitingrequestid eq @v", &[("@v", "'RR-002'")]),
        ["RR-002"]
    );
    assert_eq!(hits("mshr_description eq @missing"), ["RR-002"]);
}

#[test]
fn in_errors() {
    assert!(
        err(r#"Microsoft.Dynamics.CRM.In(PropertyName='mshr_status',PropertyValues=["abc"])"#)
            .contains("cannot be converted")
    );
    assert!(
        err(r#"Microsoft.Dynamics.CRM.In(PropertyName='nope',PropertyValues=["1"])"#)
            .starts_with("Could not find a property named 'nope'")
    );
    assert!(err(
        r#"Microsoft.Dynamics.CRM.In(PropertyName='mshr_status',PropertyValues=["1" "2"])"#
    )
    .starts_with("Invalid JSON."));
    assert!(err("Microsoft.Dynamics.CRM.In(PropertyName='mshr_status')").contains("PropertyValues"));
    assert!(
        err("Microsoft.Dynamics.CRM.Today(PropertyName='mshr_status')").contains("not supported")
    );
    assert_eq!(
        err(r#"not Microsoft.Dynamics.CRM.In(PropertyName='mshr_status',PropertyValues=["1"])"#),
        "Not operator along with the Custom Named Condition operators is not allowed"
    );
    assert_eq!(
        err(
            r#"not (mshr_status eq 1 and Microsoft.Dynamics.CRM.NotIn(PropertyName='mshr_status',PropertyValues=["1"]))"#
        ),
        "Not operator along with the Custom Named Condition operators is not allowed"
    );
}

#[test]
fn type_errors_use_dataverse_wording() {
    assert_eq!(
        err("mshr_status eq '200000000'"),
        "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'Equal'."
    );
    assert!(err("mshr_compensationlowthreshold gt 'x'").contains("'Edm.Decimal' and 'Edm.String'"));
    assert!(err("_mshr_fk_recruiter_id_value eq 'abc'").contains("'Edm.Guid' and 'Edm.String'"));
    assert!(err("_mshr_fk_recruiter_id_value ne 5")
        .contains("'Edm.Guid' and 'Edm.Int32' for operator kind 'NotEqual'"));
    assert!(err("mshr_estimatedstartdate ge 'x'").contains("'Edm.DateTimeOffset' and 'Edm.String'"));
    assert!(err("mshr_estimatedstartdate le 5").contains("LessThanOrEqual"));
    assert!(err("mshr_description eq 5").contains("'Edm.String' and 'Edm.Int32'"));
    assert!(err("mshr_description eq true").contains("'Edm.String' and 'Edm.Boolean'"));
    assert!(err("contains(mshr_status,'1')").starts_with("No function signature"));
    assert!(err("contains(mshr_description,5)").starts_with("No function signature"));
    assert!(err("mshr_status").contains("single boolean value"));
    assert!(err("not mshr_status").contains("unary operator"));
    assert!(err("mshr_status and true").contains("operator kind 'And'"));
}

#[test]
fn unknown_columns_and_functions() {
    assert_eq!(
        err("nope eq 1"),
        "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.mshr_hcmrecruitingrequestentity'."
    );
    // Property names are case-sensitive.
    assert!(err("MSHR_STATUS eq 1").starts_with("Could not find a property named 'MSHR_STATUS'"));
    assert!(err("tolower(mshr_description) eq 'x'")
        .starts_with("An unknown function with name 'tolower'"));
    assert!(err("mshr_FK_RecruitingRequestLocation_id/mshr_name eq 'x'").contains("not supported"));
}

#[test]
fn syntax_errors_use_dataverse_wording() {
    assert_eq!(
        err("mshr_status eq"),
        "Syntax error at position 12 in 'mshr_status eq'."
    );
    assert_eq!(
        err("mshr_description eq 'O'Bryan'"),
        "There is an unterminated literal at position 29 in 'mshr_description eq 'O'Bryan''."
    );
    assert!(err("mshr_status eq 1 mshr_status").starts_with("Syntax error at position 17"));
    assert!(err("(mshr_status eq 1").starts_with("')' or operator expected"));
    assert!(err("mshr_status EQ 1").starts_with("Syntax error"));
    assert!(err("eq 1").starts_with("Syntax error at position 0"));
    assert!(err("").starts_with("Syntax error"));
    assert!(err("contains(mshr_description 'x')").starts_with("')' or ',' expected"));
    assert!(err("mshr_status eq #").starts_with("Syntax error: character '#'"));
}

#[test]
fn pathological_input_errors_without_overflow() {
    let deep = format!(
        "{}mshr_status eq 1{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(err(&deep).contains("nested"));
    let nots = format!("{}mshr_status eq 1", "not ".repeat(5_000));
    assert!(err(&nots).contains("nested"));
    let calls = format!("{}'x'{}", "contains(".repeat(5_000), ")".repeat(5_000));
    assert!(filter_with(&calls, &[]).is_err());
    let huge = format!("mshr_description eq '{}'", "x".repeat(40_000));
    assert!(err(&huge).contains("longer than"));
    // A long flat chain is fine (n-ary, no recursion per operator).
    let chain = vec!["mshr_status eq 1"; 1_000].join(" or ");
    assert!(filter_with(&chain, &[]).is_ok());
    let json = format!(
        "Microsoft.Dynamics.CRM.In(PropertyName='mshr_status',PropertyValues={}{})",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    assert!(filter_with(&json, &[]).is_err());
}

#[test]
fn random_and_malformed_filters_never_panic() {
    let pieces = [
        "mshr_status",
        "eq",
        "ne",
        "gt",
        "and",
        "or",
        "not",
        "(",
        ")",
        "'",
        "''",
        "'a'",
        ",",
        "=",
        "@p1",
        "@",
        "[",
        "]",
        "[\"1\"]",
        "null",
        "true",
        "1",
        "-1",
        "1.5",
        "1e400",
        "2021-01-04",
        "2021-02-30",
        "2021-01-04T25:00:00Z",
        G1,
        "contains(",
        "startswith(",
        "Microsoft.Dynamics.CRM.In(",
        "PropertyName=",
        "PropertyValues=",
        "mshr_description",
        "_mshr_fk_recruiter_id_value",
        "mshr_estimatedstartdate",
        "/",
        "%",
        "é",
        "\u{0}",
        " ",
        "\t",
        "$it",
        "any(",
        "x:",
    ];
    // Deterministic LCG so failures reproduce.
    let mut seed: u64 = 0x5eed;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    let mut inputs: Vec<String> = Vec::new();
    for _ in 0..200 {
        let len = 1 + next(8);
        let s: Vec<&str> = (0..len).map(|_| pieces[next(pieces.len())]).collect();
        inputs.push(s.join(if next(2) == 0 { " " } else { "" }));
    }
    inputs.extend(
        [
            "mshr_status eq",
            "eq eq eq",
            "((((",
            "))))",
            "'",
            "'''",
            "@p1 eq @p1",
            "not",
            "not not",
            "contains()",
            "contains(mshr_description)",
            "Microsoft.Dynamics.CRM.In()",
            "Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p1)",
            "Microsoft.Dynamics.CRM.In(PropertyName=1,PropertyValues=2)",
            "Microsoft.Dynamics.CRM.",
            "mshr_status eq 1 and",
            "or mshr_status eq 1",
            "mshr_status eq 99999999999999999999999",
            "mshr_status eq 1.5.5",
            "mshr_status in (1,2)",
        ]
        .map(String::from),
    );
    let extra = [("@p1", "['x")];
    let all_rows = rows();
    for input in &inputs {
        // Must return (Ok or a 400), never panic; evaluation must not panic either.
        match filter_with(input, &extra) {
            Ok(e) => {
                for r in &all_rows {
                    let _ = matches(&e, r);
                }
            }
            Err(e) => assert_eq!(e.status.as_u16(), 400, "{input:?}"),
        }
    }
}

#[test]
fn query_options_parse_and_validate() {
    let q = parse_query(
        rr(),
        &pairs(&[
            ("$select", "mshr_recruitingrequestid, mshr_status"),
            ("$orderby", "mshr_status desc,mshr_recruitingrequestid"),
            ("$top", "10"),
            ("$count", "true"),
            ("$skiptoken", "<cookie/>"),
            ("custom", "ignored"),
        ]),
    )
    .expect("valid query");
    assert_eq!(
        q.select.as_deref(),
        Some(
            &[
                "mshr_recruitingrequestid".to_string(),
                "mshr_status".to_string()
            ][..]
        )
    );
    assert_eq!(
        q.orderby,
        vec![
            OrderBy {
                column: "mshr_status".into(),
                descending: true
            },
            OrderBy {
                column: "mshr_recruitingrequestid".into(),
                descending: false
            },
        ]
    );
    assert_eq!(q.top, Some(10));
    assert!(q.count);
    assert!(q.filter.is_none());

    let bad = |p: &[(&str, &str)]| parse_query(rr(), &pairs(p)).expect_err("must fail").message;
    assert!(bad(&[("$select", "nope")]).starts_with("Could not find a property named 'nope'"));
    assert!(bad(&[("$select", "mshr_status,")]).starts_with("Syntax error"));
    assert!(bad(&[("$orderby", "nope desc")]).starts_with("Could not find"));
    assert!(bad(&[("$orderby", "mshr_status down")]).starts_with("Syntax error"));
    assert!(bad(&[("$orderby", "mshr_status,mshr_status desc")]).contains("Duplicate"));
    assert!(bad(&[("$top", "-1")]).contains("non-negative integer"));
    assert!(bad(&[("$top", "x")]).contains("non-negative integer"));
    assert!(bad(&[("$count", "yes")]).contains("not a valid count option"));
    assert!(bad(&[("$top", "1"), ("$top", "2")]).contains("more than once"));
    for opt in [
        "$skip",
        "$search",
        "$format",
        "$Filter",
        "$levels",
        "$whatever",
    ] {
        assert_eq!(
            bad(&[(opt, "1")]),
            format!("The query parameter {opt} is not supported")
        );
    }
    assert!(bad(&[("$apply", "groupby((mshr_status))")]).contains("$apply"));
    assert_eq!(
        parse_query(rr(), &pairs(&[("$select", "*")])).map(|q| q.select),
        Ok(None)
    );
}

#[test]
fn expand_with_nested_options_validated_on_target() {
    let positions = "mshr_FK_HcmRecruitingRequestPositionEntity_RecruitingRequest";
    let value = format!(
        "{positions}($select=mshr_positionid;$filter=contains(mshr_description,'a;b,c') and mshr_status eq 1;$orderby=mshr_positionid desc;$top=5),mshr_FK_RecruitingRequestLocation_id($select=mshr_primaryfield)"
    );
    let q = parse_query(rr(), &pairs(&[("$expand", &value)])).expect("valid expand");
    assert_eq!(q.expand.len(), 2);
    let e = &q.expand[0];
    assert_eq!(e.nav, positions);
    assert_eq!(e.target, "mshr_hcmrecruitingrequestpositionentity");
    assert!(e.collection && !e.ref_only);
    assert_eq!(
        e.select.as_deref(),
        Some(&["mshr_positionid".to_string()][..])
    );
    assert!(matches!(e.filter, Some(Expr::And(ref v)) if v.len() == 2));
    assert_eq!(e.orderby[0].column, "mshr_positionid");
    assert!(e.orderby[0].descending);
    assert_eq!(e.top, Some(5));
    assert!(!q.expand[1].collection);

    let r = parse_query(
        rr(),
        &pairs(&[("$expand", "mshr_FK_RecruitingRequestLocation_id/$ref")]),
    )
    .expect("ref on lookup");
    assert!(r.expand[0].ref_only);

    let bad = |v: &str| parse_query(rr(), &pairs(&[("$expand", v)])).expect_err("must fail");
    assert_eq!(
        bad("nope").message,
        "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.mshr_hcmrecruitingrequestentity'."
    );
    // Navigation names are case-sensitive.
    assert!(bad("mshr_fk_recruitingrequestlocation_id")
        .message
        .starts_with("Could not find"));
    // Options inside parentheses are checked against the target table, not the parent.
    assert!(bad(&format!("{positions}($select=mshr_jobid)")).message.contains(
        "Could not find a property named 'mshr_jobid' on type 'Microsoft.Dynamics.CRM.mshr_hcmrecruitingrequestpositionentity'"
    ));
    assert_eq!(bad(&format!("{positions}/$ref")).code, "0x80060888");
    assert_eq!(
        bad("mshr_FK_RecruitingRequestLocation_id($top=1)").code,
        "0x80060888"
    );
    assert!(bad(&format!("{positions}($skip=1)"))
        .message
        .contains("not supported"));
    assert!(bad(&format!("{positions}($expand=x)"))
        .message
        .contains("Nested"));
    assert!(bad(&format!("{positions}($select=mshr_positionid"))
        .message
        .starts_with("Syntax error"));
    assert!(bad(&format!("{positions},{positions}"))
        .message
        .contains("more than once"));
    assert!(bad(&vec![positions; 16].join(",")).message.contains("15"));
}

#[test]
fn sort_orders_then_breaks_ties_by_primary_key() {
    let all = rows();
    let mut refs: Vec<&Row> = all.iter().collect();
    let ids = |v: &[&Row]| -> Vec<String> {
        v.iter()
            .map(|r| {
                r["mshr_recruitingrequestid"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    sort_rows(rr(), &mut refs, &[], &|_, _| None);
    assert_eq!(ids(&refs), ["RR-001", "RR-002", "RR-003"]);
    let desc = |c: &str| OrderBy {
        column: c.into(),
        descending: true,
    };
    sort_rows(rr(), &mut refs, &[desc("mshr_status")], &|_, _| None);
    // RR-001 and RR-002 tie on status 200000005: primary key decides.
    assert_eq!(ids(&refs), ["RR-001", "RR-002", "RR-003"]);
    sort_rows(
        rr(),
        &mut refs,
        &[OrderBy {
            column: "mshr_estimatedstartdate".into(),
            descending: false,
        }],
        &|_, _| None,
    );
    // Nulls first in ascending order, then by instant.
    assert_eq!(ids(&refs), ["RR-002", "RR-003", "RR-001"]);
    sort_rows(rr(), &mut refs, &[desc("mshr_description")], &|_, _| None);
    assert_eq!(ids(&refs), ["RR-001", "RR-003", "RR-002"]);
}

#[test]
fn projection_keeps_primary_key_in_schema_order() {
    let all = rows();
    let sel = vec![
        "mshr_status".to_string(),
        "mshr_recruitingrequestid".to_string(),
    ];
    let p = project(rr(), &all[0], Some(&sel));
    let keys: Vec<&str> = p.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "mshr_hcmrecruitingrequestentityid",
            "mshr_recruitingrequestid",
            "mshr_status"
        ]
    );
    assert_eq!(p["mshr_status"], json!(200000000));
    let missing = project(rr(), &all[0], Some(&["mshr_comments".to_string()]));
    assert_eq!(missing["mshr_comments"], serde_json::Value::Null);
    assert_eq!(project(rr(), &all[1], None), all[1]);
}

#[test]
fn random_option_values_never_panic() {
    let alphabet: Vec<char> = "()[];,='\"$/@ éabmshr_status1-".chars().collect();
    let words = [
        "mshr_FK_HcmRecruitingRequestPositionEntity_RecruitingRequest",
        "mshr_FK_RecruitingRequestLocation_id",
        "$select=",
        "$filter=",
        "$top=",
        "$orderby=",
        "/$ref",
        "mshr_status",
        " desc",
    ];
    let mut seed: u64 = 42;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    for i in 0..300 {
        let mut s = String::new();
        for _ in 0..(1 + next(12)) {
            if next(3) == 0 {
                s.push_str(words[next(words.len())]);
            } else {
                s.push(alphabet[next(alphabet.len())]);
            }
        }
        let key = [
            "$expand", "$select", "$orderby", "$top", "$count", "$filter",
        ][i % 6];
        if let Err(e) = parse_query(rr(), &pairs(&[(key, &s)])) {
            assert_eq!(e.status.as_u16(), 400, "{key}={s:?}");
        }
    }
}

/// Paging through the indexes and the cached sort orders returns exactly what a full scan does,
/// page after page, for indexed and unindexed filters and several orders (lookups included).
#[test]
fn indexed_paging_equals_a_full_scan() {
    let store = crate::data::seed(&crate::data::SeedOptions::default());
    let def = rr();
    let table = store.table(def.logical_name).expect("table");
    let names = |t: &str, id: &uuid::Uuid| {
        let d = schema().by_logical(t)?;
        store
            .table(t)?
            .get(id)?
            .get_str(d.primary_name)
            .map(str::to_string)
    };
    let some_id = table
        .rows()
        .nth(7)
        .and_then(|r| r.id())
        .expect("row")
        .to_string();
    let active = format!(
        "mshr_status eq {}",
        crate::data::option_value(200_000_000, "mshr_hcmrecruitingrequeststatus", "Active")
            .expect("Active")
    );
    let filters = [
        None,
        Some("mshr_dataareaid eq 'USMF'".to_string()),
        Some("'nomf' eq mshr_dataareaid".to_string()),
        Some(active.clone()),
        Some(format!("{active} and mshr_dataareaid eq 'usmf'")),
        Some(format!("{active} or mshr_dataareaid eq 'nomf'")),
        Some(
            "Microsoft.Dynamics.CRM.In(PropertyName='mshr_dataareaid',PropertyValues=[\"usmf\",\"NOMF\"])"
                .to_string(),
        ),
        Some("contains(mshr_description,'an')".to_string()),
        Some(format!("mshr_hcmrecruitingrequestentityid eq {some_id}")),
        Some("mshr_dataareaid eq 'usmf' and contains(mshr_description,'e')".to_string()),
        Some("mshr_dataareaid eq 'none'".to_string()),
    ];
    let orders = [
        "",
        "mshr_recruitingrequestid asc",
        "mshr_description desc,mshr_status",
        "_mshr_fk_job_id_value",
        "mshr_estimatedstartdate desc",
    ];
    for filter in &filters {
        for order in orders {
            let mut params = vec![];
            if let Some(f) = filter {
                params.push(("$filter", f.as_str()));
            }
            if !order.is_empty() {
                params.push(("$orderby", order));
            }
            let q = parse_query(def, &pairs(&params)).expect("query");
            let f = q.filter.as_ref();
            let all: Vec<crate::store::RowRef> = table
                .rows()
                .filter(|r| f.is_none_or(|f| matches(f, r)))
                .collect();
            assert_eq!(count(table, f), all.len(), "{filter:?}");
            let mut anchor: Option<Row> = None;
            let mut seen = 0;
            loop {
                let (fast, fast_more) = page(
                    def,
                    &store,
                    table,
                    f,
                    &q.orderby,
                    anchor.as_ref(),
                    37,
                    &names,
                );
                let (slow, slow_more) = super::eval::page_after(
                    def,
                    all.clone(),
                    &q.orderby,
                    anchor.as_ref(),
                    37,
                    &names,
                );
                assert_eq!(fast, slow, "{filter:?} {order}");
                assert_eq!(fast_more, slow_more, "{filter:?} {order}");
                seen += fast.len();
                match fast.last() {
                    Some(last) if fast_more => anchor = Some(last.to_row()),
                    _ => break,
                }
            }
            assert_eq!(seen, all.len(), "{filter:?} {order}");
        }
    }
}
