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
    assert_eq!(objects, ["fire_relief"]);
}
