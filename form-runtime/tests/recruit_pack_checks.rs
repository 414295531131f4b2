//! `pack check` on the parts of the workflow language that name other parts of the pack:
//! field access, `create` / `document` / `notify` effects and batch rules, each broken in
//! the `recruit` fixture and reported at its pointer.

use form_runtime::pack::{Pack, PackFiles};

fn recruit() -> PackFiles {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/recruit");
    PackFiles::from_dir(&dir).expect("fixture pack")
}

/// The pack with `file` edited by `(from, to)` replacements; the problems reported.
fn broken(file: &str, edits: &[(&str, &str)]) -> Vec<String> {
    let mut files = recruit();
    let mut text = String::from_utf8(files.0[file].clone()).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{file} has {from}");
        text = text.replace(from, to);
    }
    files.0.insert(file.into(), text.into_bytes());
    match Pack::load(&files) {
        Ok(_) => Vec::new(),
        Err(errs) => errs.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_fixture_is_clean() {
    assert!(Pack::load(&recruit()).is_ok());
}

#[test]
fn field_access_names_known_fields_and_roles() {
    let errs = broken(
        "workflows/recruitment.json",
        &[
            (
                "\"review_note\": {\"visible\": [\"unit_reviewer\", \"exam_officer\"]}",
                "\"review_notes\": {\"visible\": [\"auditor\"]}",
            ),
            (
                "\"required\": [\"unit_reviewer\"]",
                "\"required\": [\"nobody\"]",
            ),
        ],
    );
    assert_eq!(
        errs,
        [
            "workflows/recruitment.json#/states/1/fields/review_note/required/0: role `nobody` is not defined in roles.toml",
            "workflows/recruitment.json#/fields/review_notes: unknown field `review_notes`",
            "workflows/recruitment.json#/fields/review_notes/visible/0: role `auditor` is not defined in roles.toml",
        ]
    );
}

#[test]
fn effects_name_forms_fields_documents_and_valid_templates() {
    let errs = broken(
        "workflows/recruitment.json",
        &[
            ("\"link\": \"application\"", "\"link\": \"source\""),
            ("\"candidate_name\": \"name\"", "\"candidate\": \"name +\""),
            (
                "{\"document\": \"interview_notice\"}",
                "{\"document\": \"admission_ticket\"}",
            ),
            ("\"to\": \"owner\"", "\"to\": \"everyone\""),
            (
                "\"text\": \"{{ name }}，您报考的",
                "\"text\": \"{{ name }，您报考的",
            ),
        ],
    );
    assert_eq!(
        errs,
        [
            "workflows/recruitment.json#/transitions/1/effects/0/notify/text: invalid template: syntax error: unexpected `}`, expected end of variable block (in <string>:1)",
            "workflows/recruitment.json#/transitions/4/effects/2/notify/to: `everyone` is neither `owner` nor a role of roles.toml",
            "workflows/recruitment.json#/transitions/4/effects/0/create/link: form `interview` has no field `source`",
            "workflows/recruitment.json#/transitions/4/effects/0/create/data/candidate: form `interview` has no field `candidate`",
            "workflows/recruitment.json#/transitions/4/effects/0/create/data/candidate: invalid expression: syntax error: unexpected end of input, expected expression",
            "workflows/recruitment.json#/transitions/4/effects/1/document: document `admission_ticket` is not defined in documents/",
        ]
    );
}

#[test]
fn batch_rules_name_states_fields_and_transitions_of_their_form() {
    let errs = broken(
        "batches/shortlist.json",
        &[
            (
                "\"states\": [\"scored\"]",
                "\"states\": [\"scored\", \"archived\"]",
            ),
            (
                "\"partition\": [\"position_code\", \"sex\"]",
                "\"partition\": [\"position\"]",
            ),
            ("\"take\": \"vacancies * 2\"", "\"take\": \"vacancies *\""),
            ("\"others\": \"eliminate\"", "\"others\": \"approve\""),
        ],
    );
    assert_eq!(
        errs,
        [
            "batches/shortlist.json#/take: invalid expression: syntax error: unexpected end of input, expected expression",
            "batches/shortlist.json#/partition/0: unknown field `position`",
            "batches/shortlist.json#/others: no transition `approve` leaves state `scored`",
            "batches/shortlist.json#/states/1: workflow `recruitment` has no state `archived`",
        ]
    );
    let errs = broken(
        "batches/shortlist.json",
        &[("\"form\": \"application\"", "\"form\": \"applicant\"")],
    );
    assert_eq!(
        errs,
        ["batches/shortlist.json#/form: form `applicant` is not defined in forms/"]
    );
}

#[test]
fn unique_rules_name_known_fields_and_states() {
    let errs = broken(
        "workflows/recruitment.json",
        &[(
            "\"fields\": [\"id_number\"], \"year\": \"created_at\"",
            "\"fields\": [\"id_no\"], \"year\": \"applied_on\", \"among\": [\"closed\"]",
        )],
    );
    assert_eq!(
        errs,
        [
            "workflows/recruitment.json#/transitions/0/unique/0/fields/0: unknown field `id_no`",
            "workflows/recruitment.json#/transitions/0/unique/0/year: unknown field `applied_on`",
            "workflows/recruitment.json#/transitions/0/unique/0/among/0: unknown state `closed`",
        ]
    );
}
