//! Property: whatever JSON arrives, validating it against any form of the shipped packs never
//! panics, and either accepts it or names each problem by a JSON pointer with a message.

use std::path::Path;
use std::sync::Arc;

use form_runtime::form::{CompiledForm, Completeness};
use form_runtime::pack::Pack;
use form_runtime::workflow::Workflow;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Map, Value};

/// Every form of every pack in schema-packs/ and of the test fixture packs, compiled.
fn forms() -> Vec<CompiledForm> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs = Vec::new();
    for base in ["schema-packs", "tests/fixtures"] {
        for e in std::fs::read_dir(root.join(base))
            .expect("pack folder")
            .flatten()
        {
            if e.path().join("pack.toml").exists() {
                dirs.push(e.path());
            }
        }
    }
    assert!(!dirs.is_empty());
    let mut out = Vec::new();
    for d in dirs {
        let pack = Pack::load_dir(&d).unwrap_or_else(|e| panic!("{}: {e:?}", d.display()));
        for (key, src) in &pack.forms {
            let wf = Workflow {
                key: src.workflow.clone(),
                def: pack.workflows[&src.workflow].clone(),
            };
            let form = CompiledForm::compile_with(
                key,
                src.schema.clone(),
                Arc::new(wf),
                &pack.catalogues_of(key),
                key,
            )
            .expect("compiles");
            out.push(form);
        }
    }
    out
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("11010519491231002X"),
            Just("2026-02-30"),
            Just("13812345678"),
            Just("<script>x</script>"),
            Just("310115")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Objects whose keys are mostly the form's real field keys (with random values), so the
/// deeper rules (rows, computed values, conditions) are reached, not just "unknown field".
fn form_shaped(keys: Vec<String>) -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(keys), any_json()), 0..12)
        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>()))
}

fn check(form: &CompiledForm, data: Value) {
    for c in [Completeness::Draft, Completeness::Complete] {
        if let Err(errs) = form.accept(data.clone(), c) {
            assert!(!errs.is_empty());
            for e in errs {
                assert!(
                    e.pointer.is_empty() || e.pointer.starts_with('/'),
                    "{}: bad pointer {:?}",
                    form.key,
                    e.pointer
                );
                assert!(
                    !e.message.is_empty() && !e.message_en.is_empty() && !e.rule.is_empty(),
                    "{}: {e:?}",
                    form.key
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_json_never_panics_the_validator(data in any_json()) {
        for form in forms_cached() {
            check(form, data.clone());
        }
    }

    #[test]
    fn form_shaped_json_never_panics_the_validator(seed in any::<u64>()) {
        for form in forms_cached() {
            let keys: Vec<String> = form.fields.keys().cloned().collect();
            let mut runner = proptest::test_runner::TestRunner::new_with_rng(
                ProptestConfig::default(),
                proptest::test_runner::TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &seed_bytes(seed)),
            );
            let data = form_shaped(keys).new_tree(&mut runner).expect("value").current();
            check(form, data);
        }
    }
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&seed.to_le_bytes());
    b
}

fn forms_cached() -> &'static [CompiledForm] {
    static FORMS: std::sync::OnceLock<Vec<CompiledForm>> = std::sync::OnceLock::new();
    FORMS.get_or_init(forms)
}
