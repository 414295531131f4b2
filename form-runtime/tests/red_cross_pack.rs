//! The shipped red-cross pack loads, grants what its roles need, and the checker guards the
//! rules every pack shares (the built-in admin role, `*` grants).

use std::path::Path;

use form_runtime::pack::{Pack, PackFiles};

fn files() -> PackFiles {
    PackFiles::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema-packs/red-cross"))
        .expect("pack readable")
}

fn with_roles(extra: &str) -> Result<Pack, Vec<form_runtime::PackError>> {
    let mut f = files();
    let roles = String::from_utf8(f.0["roles.toml"].clone()).expect("utf-8") + extra;
    f.0.insert("roles.toml".into(), roles.into_bytes());
    Pack::load(&f)
}

#[test]
fn red_cross_pack_grants_each_step_to_its_role() {
    let pack = Pack::load(&files()).expect("red-cross pack is valid");
    let has = |role: &str, action: &str| {
        pack.policies()
            .iter()
            .any(|p| p.role == role && p.object == "fire_relief" && p.action == action)
    };
    assert!(
        has("district_staff", "submit")
            && has("district_staff", "create")
            && has("district_staff", "sign")
    );
    assert!(has("district_reviewer", "approve") && has("district_reviewer", "reject"));
    assert!(has("city_reviewer", "approve") && has("city_reviewer", "unmask"));
    assert!(has("finance", "allocate"));
    assert!(!has("finance", "approve") && !has("district_reviewer", "create"));
}

#[test]
fn a_pack_cannot_redefine_the_builtin_admin_role() {
    let errs = with_roles("\n[roles.admin]\nlabel = \"x\"\nscope = \"own\"\n").unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.file == "roles.toml" && e.pointer == "/roles/admin"),
        "{errs:?}"
    );
}

#[test]
fn a_star_grant_covers_exactly_the_forms_of_its_own_pack() {
    let pack = with_roles("\n[roles.auditor]\nlabel = \"审计\"\nscope = \"tenant\"\ngrants = { \"*\" = [\"read\"] }\n").expect("valid");
    let objects: Vec<String> = pack
        .policies()
        .into_iter()
        .filter(|p| p.role == "auditor")
        .map(|p| p.object)
        .collect();
    let forms: Vec<&String> = pack.forms.keys().collect();
    assert!(forms.len() > 1 && forms.contains(&&"fire_relief".to_string()));
    assert_eq!(objects.iter().collect::<Vec<_>>(), forms);
}

#[test]
fn a_reference_must_name_a_form_of_the_pack_and_a_shown_label_that_is_not_sensitive() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/showcase");
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut files = PackFiles::from_dir(&dir).expect("fixture");
        let mut budget: serde_json::Value =
            serde_json::from_slice(&files.0["forms/project_budget.json"]).expect("json");
        f(&mut budget);
        files.0.insert(
            "forms/project_budget.json".into(),
            serde_json::to_vec(&budget).expect("json"),
        );
        let mut expert: serde_json::Value =
            serde_json::from_slice(&files.0["forms/expert.json"]).expect("json");
        expert["properties"]["name"]["x-sensitive"] = serde_json::json!(true);
        files.0.insert(
            "forms/expert.json".into(),
            serde_json::to_vec(&expert).expect("json"),
        );
        Pack::load(&files).expect_err("refused")
    };
    let errs = edit(&|b| b["properties"]["lead_expert"]["x-ref"]["form"] = "referee".into());
    assert!(
        errs.iter()
            .any(|e| e.pointer == "/properties/lead_expert/x-ref/form"),
        "{errs:?}"
    );
    let errs = edit(&|_| {});
    assert!(
        errs.iter()
            .any(|e| e.pointer == "/properties/lead_expert/x-ref/label"
                && e.reason.contains("sensitive")),
        "{errs:?}"
    );
}

#[test]
fn a_number_effect_may_only_name_a_form_of_its_workflow() {
    let mut f = files();
    let mut wf: serde_json::Value =
        serde_json::from_slice(&f.0["workflows/relief.json"]).expect("json");
    // dementia_care follows relief_goods.json, not relief.json.
    wf["transitions"][0]["effects"][1]["number"]["form"] = serde_json::json!("dementia_care");
    f.0.insert(
        "workflows/relief.json".into(),
        serde_json::to_vec(&wf).expect("json"),
    );
    let errs = Pack::load(&f).unwrap_err();
    assert!(
        errs.iter().any(|e| e.file == "workflows/relief.json"
            && e.pointer == "/transitions/0/effects/1/number/form"),
        "{errs:?}"
    );
}

#[test]
fn a_sequence_is_gapless_in_every_effect_that_takes_from_it_or_in_none() {
    let mut f = files();
    let mut wf: serde_json::Value =
        serde_json::from_slice(&f.0["workflows/relief_goods.json"]).expect("json");
    // Dementia care now shares fire relief's sequence, but asks for consecutive numbers.
    wf["transitions"][0]["effects"][0]["number"]["sequence"] = serde_json::json!("fire_relief");
    wf["transitions"][0]["effects"][0]["number"]["gapless"] = serde_json::json!(true);
    f.0.insert(
        "workflows/relief_goods.json".into(),
        serde_json::to_vec(&wf).expect("json"),
    );
    let errs = Pack::load(&f).unwrap_err();
    assert!(
        errs.iter().any(|e| e.file == "workflows/relief_goods.json"
            && e.pointer == "/transitions/0/effects/0/number/gapless"
            && e.reason
                .contains("sequence `fire_relief` is not gapless at workflows/relief.json")),
        "{errs:?}"
    );
    // Said the same in both, the pack loads.
    let mut relief: serde_json::Value =
        serde_json::from_slice(&f.0["workflows/relief.json"]).expect("json");
    for t in relief["transitions"].as_array_mut().expect("transitions") {
        let effects = t.get_mut("effects").and_then(|e| e.as_array_mut());
        for e in effects.into_iter().flatten() {
            if e["number"]["sequence"] == "fire_relief" {
                e["number"]["gapless"] = serde_json::json!(true);
            }
        }
    }
    f.0.insert(
        "workflows/relief.json".into(),
        serde_json::to_vec(&relief).expect("json"),
    );
    Pack::load(&f).expect("the same word in every effect");
}
