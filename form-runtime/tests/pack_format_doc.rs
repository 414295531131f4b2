//! Loads every example of `docs/pack-format.md`, the user manual of the pack language, so the
//! manual cannot drift from what the runtime accepts.
//!
//! The manual marks its examples in the info string of each fenced block:
//!
//! - `file=PATH`: the complete text of one pack file; together they are the example pack.
//! - `file=PATH broken="POINTER"`: with that one file replaced, the pack is reported at
//!   POINTER. The next block, `text pack-check`, holds exactly the lines `formwork pack check`
//!   prints; with `partial`, the lines it prints first.
//! - `data=forms/KEY.json [draft] valid` or `invalid="P1 P2"`: a record validated against the
//!   form (as a draft when marked so). `invalid` lists the pointers of the failing fields; the
//!   record-level pointer `""` is left out. An optional next block `json errors` holds the
//!   exact field errors.
//! - `http list=KEY [invalid="P1 P2"]`: a list request parsed against the list.
//! - `text policies`: the policies the example pack grants, one `role, object, action` a line.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use form_runtime::form::{CompiledForm, Completeness};
use form_runtime::formats::FORMATS;
use form_runtime::list::{CompiledList, SYSTEM_FIELDS};
use form_runtime::pack::{Pack, PackFiles};
use form_runtime::roles::FORM_ACTIONS;
use form_runtime::workflow::Workflow;
use form_runtime::Error;
use serde_json::Value;

const MANUAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/pack-format.md");

/// One fenced code block of the manual.
struct Block {
    lang: String,
    attrs: BTreeMap<String, String>,
    body: String,
    /// Line of the opening fence, for failure messages.
    line: usize,
}

impl Block {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).map(String::as_str)
    }

    fn has(&self, key: &str) -> bool {
        self.attrs.contains_key(key)
    }

    fn at(&self) -> String {
        format!("docs/pack-format.md:{}", self.line)
    }

    /// Space-separated pointers of an attribute, sorted.
    fn pointers(&self, key: &str) -> Vec<String> {
        let mut p: Vec<String> = self
            .attr(key)
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        p.sort();
        p
    }
}

fn manual() -> String {
    std::fs::read_to_string(MANUAL).unwrap_or_else(|e| panic!("cannot read {MANUAL}: {e}"))
}

/// The fenced blocks of a Markdown text, in order.
fn blocks(text: &str) -> Vec<Block> {
    struct Open {
        fence: usize,
        info: String,
        line: usize,
        body: String,
    }
    let mut out = Vec::new();
    let mut open: Option<Open> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(mut o) = open.take() {
            let t = line.trim();
            if t.len() >= o.fence && t.bytes().all(|b| b == b'`') {
                let (lang, attrs) = parse_info(&o.info);
                out.push(Block {
                    lang,
                    attrs,
                    body: o.body,
                    line: o.line,
                });
            } else {
                o.body.push_str(line);
                o.body.push('\n');
                open = Some(o);
            }
        } else {
            let fence = line.len() - line.trim_start_matches('`').len();
            if fence >= 3 {
                open = Some(Open {
                    fence,
                    info: line[fence..].trim().to_string(),
                    line: i + 1,
                    body: String::new(),
                });
            }
        }
    }
    if let Some(o) = open {
        panic!(
            "docs/pack-format.md:{}: the code block is never closed",
            o.line
        );
    }
    out
}

/// Splits an info string into its language and `key=value` / `key="a b"` / `flag` attributes.
fn parse_info(info: &str) -> (String, BTreeMap<String, String>) {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in info.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started || !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
                started = false;
            }
            c => cur.push(c),
        }
    }
    if started || !cur.is_empty() {
        tokens.push(cur);
    }
    let mut tokens = tokens.into_iter();
    let lang = tokens.next().unwrap_or_default();
    let attrs = tokens
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (t, String::new()),
        })
        .collect();
    (lang, attrs)
}

/// The example pack: every `file=` block that is not `broken`.
fn example_pack(blocks: &[Block]) -> PackFiles {
    let mut files = PackFiles::default();
    for b in blocks {
        // Blocks tagged `pack=…` belong to another example pack (see `showcase_pack`).
        if let (Some(path), false, false) = (b.attr("file"), b.has("broken"), b.has("pack")) {
            let earlier = files
                .0
                .insert(path.to_string(), b.body.clone().into_bytes());
            assert!(
                earlier.is_none(),
                "{}: {path} is given twice; a file may have one good example",
                b.at()
            );
        }
    }
    files
}

fn load(files: &PackFiles) -> Pack {
    Pack::load(files).unwrap_or_else(|errs| {
        let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
        panic!(
            "the manual's example pack does not load:\n{}",
            lines.join("\n")
        )
    })
}

fn good_pack() -> (Vec<Block>, PackFiles, Pack) {
    let blocks = blocks(&manual());
    let files = example_pack(&blocks);
    let pack = load(&files);
    (blocks, files, pack)
}

/// A form of a loaded pack, compiled with its workflow as the server does.
fn compiled_form(pack: &Pack, key: &str) -> CompiledForm {
    let file = format!("forms/{key}.json");
    let src = pack
        .forms
        .get(key)
        .unwrap_or_else(|| panic!("the example pack has no form `{key}`"));
    let roles: BTreeSet<String> = pack.roles.keys().cloned().collect();
    let mut fields = BTreeSet::new();
    for (k, f) in pack
        .forms
        .iter()
        .filter(|(_, f)| f.workflow == src.workflow)
    {
        let of = CompiledForm::fields_of(&f.schema, &format!("forms/{k}.json"))
            .expect("a loaded form has fields");
        fields.extend(of.into_keys());
    }
    let wf = Workflow::check(
        &src.workflow,
        pack.workflows[&src.workflow].clone(),
        &format!("workflows/{}.json", src.workflow),
        &roles,
        &fields,
    )
    .expect("a loaded workflow checks");
    CompiledForm::compile(key, src.schema.clone(), Arc::new(wf), &file)
        .expect("a loaded form compiles")
}

fn compiled_list(pack: &Pack, key: &str) -> CompiledList {
    let def = pack
        .lists
        .get(key)
        .unwrap_or_else(|| panic!("the example pack has no list `{key}`"))
        .clone();
    let schema = &pack.forms[&def.form].schema;
    let fields = CompiledForm::fields_of(schema, "").expect("a loaded form has fields");
    // As the server does: the schema marks date fields (ranges) and sensitive ones.
    CompiledList::check_form(key, def, &fields, schema, &format!("lists/{key}.json"))
        .expect("a loaded list checks")
}

fn keys<V>(m: &BTreeMap<String, V>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_example_in_the_pack_manual_loads() {
    let (_, files, pack) = good_pack();

    assert_eq!(pack.manifest.id, "equipment-loan");
    assert_eq!(pack.manifest.version, "1.0.0");
    assert!(files.0.contains_key("README.md"), "the README example");
    assert_eq!(keys(&pack.forms), ["loan"]);
    assert_eq!(pack.forms["loan"].workflow, "loan");
    assert_eq!(keys(&pack.workflows), ["loan"]);
    assert_eq!(keys(&pack.lists), ["loan_ledger", "my_loans"]);
    assert_eq!(keys(&pack.imports), ["loan_batch"]);
    assert_eq!(keys(&pack.dashboards), ["loan_overview"]);
    assert_eq!(pack.dashboards["loan_overview"].tiles.len(), 5);
    assert!(pack.dashboards["loan_overview"].tiles[0].drill);
    assert_eq!(keys(&pack.demos), ["loan"]);
    assert_eq!(pack.imports["loan_batch"].action.as_deref(), Some("submit"));
    assert_eq!(
        keys(&pack.roles),
        ["auditor", "borrower", "keeper", "manager"]
    );

    // The defaults the manual promises.
    let my_loans = &pack.lists["my_loans"];
    assert_eq!(my_loans.sort, ["-created_at"]);
    assert_eq!(my_loans.page_size, 20);
    assert!(my_loans.filters.is_empty());
    assert_eq!(pack.lists["loan_ledger"].page_size, 50);
    assert_eq!(my_loans.group, None);
    assert_eq!(
        pack.lists["loan_ledger"].group.as_deref(),
        Some("equipment")
    );
    let wf = &pack.workflows["loan"];
    let complete: Vec<(&str, bool)> = wf
        .states
        .iter()
        .map(|s| (s.key.as_str(), s.complete))
        .collect();
    assert_eq!(
        complete,
        [
            ("draft", false),
            ("submitted", true),
            ("approved", true),
            ("lent", true),
            ("returned", true),
            ("cancelled", true)
        ]
    );
    let submit = &wf.transitions[0];
    assert!(!submit.comment_required && submit.fields.is_empty());

    // The `pack check` line the manual shows for the example pack.
    let ok = format!(
        "{} {}: ok ({} form(s), {} workflow(s), {} list(s), {} statistic(s), {} document(s), {} batch rule(s), {} import template(s), {} export template(s), {} role(s))",
        pack.manifest.id,
        pack.manifest.version,
        pack.forms.len(),
        pack.workflows.len(),
        pack.lists.len(),
        pack.statistics.len(),
        pack.documents.len(),
        pack.batches.len(),
        pack.imports.len(),
        pack.exports.len(),
        pack.roles.len()
    );
    assert!(manual().contains(&ok), "the manual should show `{ok}`");
    let installed = format!(
        "  {} list(s), {} role(s), {} policy line(s)",
        pack.lists.len(),
        pack.roles.len(),
        pack.policies().len()
    );
    assert!(
        manual().contains(&installed),
        "the manual should show `{installed}`"
    );
}

#[test]
fn the_manual_lists_exactly_the_policies_the_example_pack_grants() {
    let (blocks, _, pack) = good_pack();
    let shown: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.lang == "text" && b.has("policies"))
        .collect();
    assert_eq!(shown.len(), 1, "one `text policies` block");
    let want: Vec<&str> = shown[0].body.lines().collect();
    let got: Vec<String> = pack
        .policies()
        .iter()
        .map(|p| format!("{}, {}, {}", p.role, p.object, p.action))
        .collect();
    assert_eq!(got, want, "{}", shown[0].at());
}

#[test]
fn every_broken_example_is_reported_at_its_pointer_with_the_lines_shown() {
    let (blocks, good, _) = good_pack();
    let mut kinds = BTreeSet::new();
    for (i, b) in blocks.iter().enumerate() {
        let (Some(file), Some(pointer)) = (b.attr("file"), b.attr("broken")) else {
            continue;
        };
        kinds.insert(file.split('/').next().unwrap_or(file).to_string());
        let mut files = good.clone();
        files
            .0
            .insert(file.to_string(), b.body.clone().into_bytes());
        let errs = match Pack::load(&files) {
            Ok(_) => panic!("{}: the broken {file} loads", b.at()),
            Err(errs) => errs,
        };
        let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert!(
            errs.iter().any(|e| e.file == file && e.pointer == pointer),
            "{}: expected a problem at {file}#{pointer}, got:\n{}",
            b.at(),
            lines.join("\n")
        );

        let shown = blocks
            .get(i + 1)
            .filter(|n| n.lang == "text" && n.has("pack-check"))
            .unwrap_or_else(|| {
                panic!(
                    "{}: a broken example is followed by a `text pack-check` block",
                    b.at()
                )
            });
        let want: Vec<&str> = shown.body.lines().collect();
        if shown.has("partial") {
            let first: Vec<&str> = lines.iter().take(want.len()).map(String::as_str).collect();
            assert_eq!(
                first,
                want,
                "{}: `pack check` should begin with these lines; it prints:\n{}",
                shown.at(),
                lines.join("\n")
            );
        } else {
            assert_eq!(lines, want, "{}", shown.at());
        }
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "dashboards",
            "demo",
            "forms",
            "lists",
            "pack.toml",
            "roles.toml",
            "workflows"
        ],
        "every kind of pack file has a broken example"
    );
}

#[test]
fn sample_records_in_the_manual_validate_as_documented() {
    let (blocks, _, pack) = good_pack();
    let mut seen = 0;
    for (i, b) in blocks.iter().enumerate() {
        let Some(data) = b.attr("data") else {
            continue;
        };
        seen += 1;
        let key = data
            .strip_prefix("forms/")
            .and_then(|k| k.strip_suffix(".json"))
            .unwrap_or_else(|| panic!("{}: data= names a forms/<key>.json", b.at()));
        let form = compiled_form(&pack, key);
        let record: Value =
            serde_json::from_str(&b.body).unwrap_or_else(|e| panic!("{}: not JSON: {e}", b.at()));
        let completeness = if b.has("draft") {
            Completeness::Draft
        } else {
            Completeness::Complete
        };
        let result = form.validate(&record, completeness);
        match (b.has("valid"), b.has("invalid"), result) {
            (true, false, Ok(())) => {}
            (true, false, Err(errs)) => panic!("{}: expected valid, got {errs:#?}", b.at()),
            (false, true, Ok(())) => panic!("{}: expected errors, the record is valid", b.at()),
            (false, true, Err(errs)) => {
                let mut got: Vec<String> = errs
                    .iter()
                    .map(|e| e.pointer.clone())
                    .filter(|p| !p.is_empty())
                    .collect();
                got.sort();
                assert_eq!(got, b.pointers("invalid"), "{}", b.at());
                if let Some(next) = blocks
                    .get(i + 1)
                    .filter(|n| n.lang == "json" && n.has("errors"))
                {
                    let want: Value = serde_json::from_str(&next.body)
                        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", next.at()));
                    let got = serde_json::to_value(&errs).expect("field errors serialise");
                    assert_eq!(got, want, "{}", next.at());
                }
            }
            _ => panic!("{}: a data block is either `valid` or `invalid`", b.at()),
        }
    }
    assert!(
        seen >= 3,
        "the manual shows valid, draft and invalid records"
    );
}

#[test]
fn list_requests_in_the_manual_parse_as_documented() {
    let (blocks, _, pack) = good_pack();
    let mut seen = 0;
    for b in blocks.iter().filter(|b| b.lang == "http") {
        let key = b
            .attr("list")
            .unwrap_or_else(|| panic!("{}: an http block names its list=", b.at()));
        seen += 1;
        let list = compiled_list(&pack, key);
        let target = b
            .body
            .trim()
            .strip_prefix("GET ")
            .unwrap_or_else(|| panic!("{}: a GET request", b.at()));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        assert_eq!(path, format!("/api/v1/lists/{key}"), "{}", b.at());
        let pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        match (b.has("invalid"), list.parse_query(&pairs)) {
            (false, Ok(q)) => {
                assert!(!q.filters.is_empty() && !q.sort.is_empty(), "{}", b.at());
            }
            (false, Err(e)) => panic!("{}: expected the request to parse: {e:?}", b.at()),
            (true, Err(Error::Invalid(errs))) => {
                let mut got: Vec<String> = errs.iter().map(|e| e.pointer.clone()).collect();
                got.sort();
                assert_eq!(got, b.pointers("invalid"), "{}", b.at());
                assert!(errs.iter().all(|e| e.rule == "query"), "{}", b.at());
            }
            (true, other) => panic!("{}: expected invalid input, got {other:?}", b.at()),
        }
    }
    assert!(seen >= 2, "the manual shows a good and a bad list request");
}

#[test]
fn the_example_workflow_behaves_as_the_manual_describes() {
    let (_, _, pack) = good_pack();
    let form = compiled_form(&pack, "loan");
    let wf = &form.workflow;
    let text = manual();

    // Inboxes.
    let inbox = |role: &str| -> Vec<String> {
        wf.actionable_states(&strings(&[role]))
            .into_iter()
            .collect()
    };
    assert_eq!(inbox("manager"), ["approved", "submitted"]);
    assert_eq!(inbox("keeper"), ["approved", "lent"]);
    assert_eq!(inbox("borrower"), ["draft", "submitted"]);

    // One action, several states: the borrower's cancel and the manager's cancel.
    let borrower = strings(&["borrower"]);
    let manager = strings(&["manager"]);
    for state in ["draft", "submitted"] {
        let plan = wf
            .plan(state, "cancel", &borrower, None)
            .expect("the borrower cancels a draft or a submitted loan");
        assert_eq!(plan.to, "cancelled");
    }
    assert!(matches!(
        wf.plan("approved", "cancel", &borrower, None),
        Err(Error::TransitionForbidden { .. })
    ));
    assert!(matches!(
        wf.plan("lent", "cancel", &manager, Some("x")),
        Err(Error::TransitionNotAvailable { .. })
    ));

    // Comments.
    match wf.plan("submitted", "reject", &manager, Some("  ")) {
        Err(Error::Invalid(f)) => {
            assert_eq!(
                (f[0].pointer.as_str(), f[0].rule.as_str()),
                ("/comment", "required")
            );
            assert!(
                text.contains(&f[0].message),
                "the manual quotes `{}`",
                f[0].message
            );
        }
        other => panic!("a reject without a reason: {other:?}"),
    }
    assert!(wf
        .plan("approved", "cancel", &manager, Some("设备送修"))
        .is_ok());

    // Who edits what.
    let draft = wf
        .edit_rule("draft", &borrower)
        .and_then(|r| r.fields.clone())
        .expect("the borrower edits named fields of a draft");
    assert!(draft.contains(&"refund_card".to_string()));
    assert!(!draft.contains(&"approved_quantity".to_string()));
    let keeper = strings(&["keeper"]);
    let submitted = wf
        .edit_rule("submitted", &keeper)
        .and_then(|r| r.fields.clone());
    assert_eq!(submitted, Some(strings(&["accessories"])));
    assert!(wf.edit_rule("approved", &keeper).is_none());
    assert!(wf.edit_rule("submitted", &borrower).is_none());
}

#[test]
fn the_format_table_in_the_manual_matches_the_format_checks() {
    let text = manual();
    let quoted = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    for (name, check) in FORMATS {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("the manual has no table row for format `{name}`"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // | format | accepts | valid | not valid |
        let (good, bad) = (quoted(cells[3]), quoted(cells[4]));
        assert!(!good.is_empty() && !bad.is_empty(), "examples for `{name}`");
        for g in &good {
            assert!(check(g), "`{g}` should be a valid {name}");
        }
        for b in &bad {
            assert!(!check(b), "`{b}` should not be a valid {name}");
        }
    }
}

#[test]
fn the_manual_documents_every_keyword_action_scope_and_system_field() {
    let text = manual();
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| `")).collect();
    let has_row = |cell: &str| rows.iter().any(|r| r.starts_with(&format!("| `{cell}` |")));

    for a in FORM_ACTIONS.iter().chain(&["*"]) {
        assert!(has_row(a), "the action table has `{a}`");
    }
    for s in SYSTEM_FIELDS {
        assert!(has_row(s), "the system field table has `{s}`");
    }
    for s in ["own", "org", "org_tree", "tenant"] {
        assert!(has_row(s), "the scope table has `{s}`");
    }
    for t in ["string", "number", "integer", "boolean", "array", "object"] {
        assert!(
            rows.iter().any(|r| r.starts_with(&format!("| `{t}`"))),
            "the field type tables have `{t}`"
        );
    }

    // Every keyword of every file has a table row and appears in a loaded example.
    let blocks = blocks(&text);
    let examples: String = blocks
        .iter()
        .filter(|b| b.has("file") && !b.has("broken"))
        .map(|b| b.body.as_str())
        .collect();
    let toml = [
        "id",
        "name",
        "version",
        "description",
        "label",
        "scope",
        "grants",
    ];
    let json = [
        "type",
        "properties",
        "x-workflow",
        "x-ui",
        "title",
        "required",
        "additionalProperties",
        "$schema",
        "initial",
        "states",
        "transitions",
        "key",
        "edit",
        "complete",
        "roles",
        "fields",
        "action",
        "from",
        "to",
        "comment_required",
        "form",
        "columns",
        "filters",
        "sort",
        "group",
        "page_size",
        // Workflow language (5.8–5.10).
        "visible",
        "guards",
        "effects",
        "partition",
        "rank",
        "take",
        "ties",
        "others",
        // Export templates (6.6).
        "footer",
        "sheet_per",
    ];
    for k in toml {
        assert!(has_row(k), "a keyword table has `{k}`");
        assert!(
            examples.contains(&format!("{k} = ")) || examples.contains(&format!(".{k}]")),
            "an example uses `{k}`"
        );
    }
    for k in json {
        assert!(has_row(k), "a keyword table has `{k}`");
        assert!(
            examples.contains(&format!("\"{k}\":")),
            "an example uses `{k}`"
        );
    }
    for k in ["columns[].field", "columns[].label"] {
        assert!(has_row(k), "the list table has `{k}`");
    }
}

#[test]
fn the_showcase_pack_in_the_manual_loads_and_is_the_api_test_fixture() {
    let pack = load(&fixture_pack("showcase"));
    assert_eq!(
        pack.forms.keys().collect::<Vec<_>>(),
        ["expert", "project_budget"]
    );
    assert_eq!(
        pack.catalogues.keys().collect::<Vec<_>>(),
        ["regions", "specialties"]
    );
}

#[test]
fn the_recruit_pack_in_the_manual_loads_and_is_the_api_test_fixture() {
    let pack = load(&fixture_pack("recruit"));
    assert_eq!(
        pack.forms.keys().collect::<Vec<_>>(),
        ["application", "interview"]
    );
    assert_eq!(pack.batches.keys().collect::<Vec<_>>(), ["shortlist"]);
    assert_eq!(
        pack.documents.keys().collect::<Vec<_>>(),
        ["interview_notice"]
    );
}

/// The blocks tagged `pack=NAME`, which must be exactly the files of tests/fixtures/NAME.
fn fixture_pack(name: &str) -> PackFiles {
    let blocks = blocks(&manual());
    let mut files = PackFiles::default();
    for b in blocks.iter().filter(|b| b.attr("pack") == Some(name)) {
        let path = b
            .attr("file")
            .unwrap_or_else(|| panic!("{}: a {name} block names its file", b.at()));
        files
            .0
            .insert(path.to_string(), b.body.clone().into_bytes());
    }
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/fixtures/{name}"));
    let on_disk = PackFiles::from_dir(&fixture).expect("fixture pack");
    assert_eq!(
        on_disk.0.keys().collect::<Vec<_>>(),
        files.0.keys().collect::<Vec<_>>(),
        "the manual shows every file of tests/fixtures/{name}"
    );
    for (path, body) in &files.0 {
        let disk = String::from_utf8_lossy(&on_disk.0[path])
            .trim_end()
            .to_string();
        assert_eq!(
            String::from_utf8_lossy(body).trim_end(),
            disk,
            "{path} differs between the manual and the fixture"
        );
    }
    files
}

#[test]
fn every_property_fragment_in_the_manual_compiles_as_a_form() {
    let blocks = blocks(&manual());
    let fragments: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.attr("fragment") == Some("properties"))
        .collect();
    assert!(!fragments.is_empty());
    for b in fragments {
        let text = format!("{{\"type\": \"object\", \"properties\": {{{}}}}}", b.body);
        let schema: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON properties: {e}", b.at()));
        if let Err(errs) = form_runtime::attachment::attachment_fields(&schema, "fragment") {
            panic!("{}: {errs:?}", b.at());
        }
        let wf: form_runtime::workflow::WorkflowDef = serde_json::from_value(serde_json::json!({
            "label": "w", "initial": "draft", "states": [{"key": "draft", "label": "d"}], "transitions": []
        }))
        .expect("workflow");
        let wf = Workflow {
            key: "w".into(),
            def: wf,
        };
        if let Err(errs) =
            CompiledForm::compile("fragment", schema, std::sync::Arc::new(wf), "fragment")
        {
            panic!("{}: {errs:?}", b.at());
        }
    }
}

#[test]
fn every_transition_fragment_in_the_manual_is_a_valid_transition() {
    let blocks = blocks(&manual());
    let fragments: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.attr("fragment") == Some("transition"))
        .collect();
    assert!(fragments.len() >= 3);
    for b in fragments {
        let t: form_runtime::workflow::TransitionDef = serde_json::from_str(&b.body)
            .unwrap_or_else(|e| panic!("{}: not a transition: {e}", b.at()));
        for g in &t.guards {
            form_runtime::expr::Expr::compile(&g.rule)
                .unwrap_or_else(|e| panic!("{}: guard: {e}", b.at()));
        }
    }
}

#[test]
fn every_state_fragment_in_the_manual_is_a_valid_state() {
    let blocks = blocks(&manual());
    let fragments: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.attr("fragment") == Some("state"))
        .collect();
    assert!(!fragments.is_empty());
    for b in fragments {
        let st: form_runtime::workflow::StateDef = serde_json::from_str(&b.body)
            .unwrap_or_else(|e| panic!("{}: not a state: {e}", b.at()));
        if let Some(t) = &st.timer {
            assert!(t.seconds().is_some(), "{}: bad duration", b.at());
        }
    }
}

#[test]
fn the_example_demo_file_makes_records_the_form_accepts() {
    use form_runtime::demo::{CompiledDemo, Step};
    let (_, _, pack) = good_pack();
    let form = compiled_form(&pack, "loan");
    let roles = pack.roles.keys().cloned().collect();
    let demo = CompiledDemo::check(
        "loan",
        pack.demos["loan"].clone(),
        &pack.forms["loan"].schema,
        &pack.workflows["loan"],
        &roles,
        "demo/loan.json",
    )
    .expect("the example demo file checks");
    let wf = &form.workflow;
    let borrower = strings(&["borrower"]);
    let allowed = wf
        .edit_rule("draft", &borrower)
        .and_then(|r| r.fields.clone());
    let now = chrono::Utc::now();
    let mut states = BTreeSet::new();
    for i in 0..demo.def.count {
        let mut rec = demo.record(i, now);
        states.insert(rec.state.clone());
        assert_eq!(rec.times.len(), rec.steps.len() + 1);
        assert!(rec.times.windows(2).all(|w| w[0] <= w[1]) && rec.times[0] <= now);
        let names = [String::from("信息中心")];
        let step = Step {
            at: rec.times[0],
            org_names: &names,
        };
        let fields = demo.creation_fields(allowed.as_deref());
        let mut data = demo.values(&mut rec.rng, &fields, &serde_json::Map::new(), &step);
        for (from, action) in &rec.steps {
            let t = wf
                .transition(from, action)
                .expect("a path of real transitions");
            let more = demo.values(&mut rec.rng, &demo.transition_fields(t), &data, &step);
            data.extend(more);
        }
        let data = Value::Object(data);
        if let Err(e) = form.validate(&data, Completeness::Complete) {
            panic!("demo record {i} is invalid: {e:?}\n{data}");
        }
        if let Some(q) = data.get("approved_quantity") {
            assert!(q.as_i64() <= data["quantity"].as_i64());
        }
    }
    assert!(
        states.len() >= 4,
        "the records end in several states: {states:?}"
    );
}
