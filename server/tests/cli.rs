//! The `formwork` command line, run as a user would: pack checks that point at the file and
//! JSON pointer of each problem, and the operator commands on a fresh data directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn formwork(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_formwork"));
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("FORMWORK_PASSWORD");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("formwork runs")
}

fn red_cross() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema-packs/red-cross")
}

/// A copy of the red-cross pack with one file replaced by `edit(original)`.
fn broken_pack(file: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&red_cross(), dir.path());
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).expect("file exists");
    std::fs::write(&path, edit(text)).expect("write");
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn check(dir: &Path) -> (bool, String) {
    let out = formwork(&["pack", "check", dir.to_str().expect("utf-8 path")], &[]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn pack_check_accepts_the_red_cross_pack() {
    let (ok, out) = check(&red_cross());
    assert!(ok, "{out}");
    assert!(out.contains("red-cross") && out.contains("ok"), "{out}");
}

#[test]
fn pack_check_reports_bad_json_with_file_and_position() {
    let dir = broken_pack("forms/fire_relief.json", |t| t.replacen('{', "{{", 1));
    let (ok, out) = check(dir.path());
    assert!(!ok);
    assert!(
        out.lines().any(|l| l.starts_with("forms/fire_relief.json")
            && l.contains("not valid JSON")
            && l.contains("line 1")),
        "{out}"
    );
}

#[test]
fn pack_check_reports_unknown_state_in_a_transition() {
    let dir = broken_pack("workflows/relief.json", |t| {
        t.replacen("\"to\": \"district_approved\"", "\"to\": \"paid\"", 1)
    });
    let (ok, out) = check(dir.path());
    assert!(!ok);
    assert!(
        out.lines()
            .any(|l| l
                == "workflows/relief.json#/transitions/2/to: \"to\" names unknown state `paid`"),
        "{out}"
    );
}

#[test]
fn pack_check_reports_undefined_role_and_every_other_problem_at_once() {
    let dir = broken_pack("workflows/relief.json", |t| {
        t.replacen("\"finance\"", "\"treasurer\"", 1).replacen(
            "\"initial\": \"draft\"",
            "\"initial\": \"new\"",
            1,
        )
    });
    let (ok, out) = check(dir.path());
    assert!(!ok);
    assert!(out.lines().any(|l| l == "workflows/relief.json#/transitions/8/roles/0: role `treasurer` is not defined in roles.toml"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("workflows/relief.json#/initial:")),
        "{out}"
    );
}

#[test]
fn pack_check_reports_unknown_keywords_with_their_pointer() {
    let dir = broken_pack("lists/fire_relief_all.json", |t| {
        t.replacen("\"page_size\"", "\"pagesize\"", 1)
    });
    let (ok, out) = check(dir.path());
    assert!(!ok);
    assert!(
        out.lines().any(
            |l| l.starts_with("lists/fire_relief_all.json#/pagesize: unknown field `pagesize`")
        ),
        "{out}"
    );
}

#[test]
fn operator_commands_create_a_tenant_install_a_pack_and_add_a_user() {
    let data = tempfile::tempdir().expect("temp dir");
    let d = data.path().to_str().expect("utf-8");
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let out = formwork(args, envs);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, out) = run(
        &[
            "tenant",
            "create",
            "jinshan",
            "--name",
            "金山区红十字会",
            "--root-unit",
            "js",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(ok, "{out}");
    let (ok, out) = run(
        &[
            "tenant",
            "create",
            "jinshan",
            "--name",
            "again",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = run(
        &[
            "pack",
            "install",
            "--tenant",
            "jinshan",
            red_cross().to_str().expect("utf-8"),
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(
        ok && out.contains("form fire_relief: published version 1"),
        "{out}"
    );
    let (ok, out) = run(
        &[
            "pack",
            "install",
            "--tenant",
            "jinshan",
            "red-cross",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(
        ok && out.contains("form fire_relief: unchanged"),
        "reinstalling the same pack publishes nothing: {out}"
    );
    let (ok, out) = run(
        &[
            "org",
            "add",
            "--tenant",
            "jinshan",
            "zhujing",
            "--name",
            "朱泾镇",
            "--parent",
            "js",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(ok && out.contains("/js/zhujing/"), "{out}");
    let (ok, out) = run(
        &[
            "user",
            "create",
            "--tenant",
            "jinshan",
            "--username",
            "zj_staff",
            "--name",
            "朱泾经办",
            "--unit",
            "zhujing",
            "--role",
            "district_staff",
            "--data-dir",
            d,
        ],
        &[("FORMWORK_PASSWORD", "a-long-password")],
    );
    assert!(
        ok && !out.contains("password:"),
        "a given password is not echoed: {out}"
    );
    let (ok, out) = run(
        &[
            "user",
            "create",
            "--tenant",
            "jinshan",
            "--username",
            "x",
            "--name",
            "x",
            "--unit",
            "js",
            "--role",
            "pilot",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(!ok && out.contains("role pilot is not defined"), "{out}");
    let (ok, out) = run(
        &[
            "user",
            "create",
            "--tenant",
            "nowhere",
            "--username",
            "x",
            "--name",
            "x",
            "--unit",
            "js",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(!ok && out.contains("does not exist"), "{out}");

    // An operator exports a list as one of the tenant's users, with plain progress lines
    // when not on a terminal, and the user's grants apply.
    let (ok, out) = run(
        &[
            "user",
            "create",
            "--tenant",
            "jinshan",
            "--username",
            "js_fin",
            "--name",
            "财务",
            "--unit",
            "js",
            "--role",
            "finance",
            "--data-dir",
            d,
        ],
        &[("FORMWORK_PASSWORD", "a-long-password")],
    );
    assert!(ok, "{out}");
    let csv = data.path().join("台账.csv");
    let csv_s = csv.to_str().expect("utf-8");
    let (ok, out) = run(
        &[
            "export",
            "fire_relief_all",
            "--tenant",
            "jinshan",
            "--as",
            "js_fin",
            "--out",
            csv_s,
            "-p",
            "columns=app_no,applicant_name",
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(ok && out.contains("exported 0 rows"), "{out}");
    let text = std::fs::read_to_string(&csv).expect("csv written");
    assert_eq!(
        text.trim_start_matches('\u{feff}').trim_end(),
        "申请编号,申请人姓名"
    );
    let (ok, out) = run(
        &[
            "export",
            "fire_relief_all",
            "--tenant",
            "jinshan",
            "--as",
            "zj_staff",
            "--out",
            csv_s,
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(
        !ok && out.contains("不能导出"),
        "district staff hold no export grant: {out}"
    );

    // An operator imports a workbook as a district user: one bad row among 50 imports
    // nothing and is named with its column; the rejected rows go to a workbook; with
    // --valid-only the other 49 are imported. Progress goes to stderr as plain lines.
    let book = data.path().join("申请.xlsx");
    let errors = data.path().join("错误.xlsx");
    std::fs::write(
        &book,
        formwork::bench::fire_relief_workbook(50, 0, &[6]).expect("workbook"),
    )
    .expect("write the workbook");
    let import = |extra: &[&str]| {
        let mut args = vec![
            "import",
            "fire_relief",
            "--tenant",
            "jinshan",
            "--as",
            "zj_staff",
            "--template",
            "fire_relief_batch",
            "--file",
            book.to_str().expect("utf-8"),
            "--errors",
            errors.to_str().expect("utf-8"),
            "--data-dir",
            d,
        ];
        args.extend_from_slice(extra);
        run(&args, &[])
    };
    let (ok, out) = import(&[]);
    assert!(!ok, "one bad row refuses the import: {out}");
    assert!(
        out.contains("row 8, column B: 身份证号")
            && out.contains("nothing imported: 1 of 50 rows rejected")
            && out.contains("reading…"),
        "{out}"
    );
    let mut rejected = calamine::open_workbook_auto(&errors).expect("error workbook written");
    let sheet = calamine::Reader::worksheet_range_at(&mut rejected, 0)
        .expect("a sheet")
        .expect("readable");
    let rows: Vec<String> = sheet
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    assert_eq!(rows.len(), 2, "header and the one rejected row: {rows:?}");
    assert!(
        rows[1].contains("申请人6") && rows[1].contains("B列「身份证号」"),
        "{rows:?}"
    );
    let (ok, out) = import(&["--valid-only"]);
    assert!(
        ok && out.contains("imported 49 of 50 rows (49 created, 0 updated), 1 rejected"),
        "{out}"
    );
    let (ok, out) = run(
        &[
            "export",
            "fire_relief_all",
            "--tenant",
            "jinshan",
            "--as",
            "js_fin",
            "--out",
            csv_s,
            "--data-dir",
            d,
        ],
        &[],
    );
    assert!(ok && out.contains("exported 49 rows"), "{out}");
}

#[test]
fn every_command_explains_itself() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["pack", "check", "--help"],
        vec!["pack", "install", "--help"],
        vec!["tenant", "create", "--help"],
        vec!["org", "add", "--help"],
        vec!["user", "create", "--help"],
        vec!["bench", "--help"],
        vec!["export", "--help"],
        vec!["import", "--help"],
    ] {
        let out = formwork(&args, &[]);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Usage:") && text.len() > 200,
            "{args:?}: {text}"
        );
    }
}
