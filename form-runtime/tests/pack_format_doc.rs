use form_runtime::form::{CompiledForm, Completeness};
use form_runtime::workflow::{Workflow, WorkflowDef};
use serde_json::json;
use std::sync::Arc;

#[test]
fn scratch() {
    let wf: WorkflowDef = serde_json::from_value(
        json!({"label":"w","initial":"d","states":[{"key":"d","label":"d"}],"transitions":[]}),
    )
    .unwrap();
    let wf = Workflow::check("w", wf, "w", &Default::default(), &Default::default()).unwrap();
    let schema = json!({"type":"object","x-workflow":"w","additionalProperties":false,"properties":{
        "a":{"type":"number","multipleOf":0.01},
        "d":{"type":"string","format":"date"},
        "t":{"type":"string","format":"time"},
        "e":{"type":"string","format":"email"},
        "l":{"type":"array","uniqueItems":true,"items":{"type":"string","enum":["x","y"]}},
        "c":{"type":"string","const":"k"},
        "p":{"type":"string","pattern":"^[0-9]+$"}
    }});
    let f = CompiledForm::compile("f", schema, Arc::new(wf), "forms/f.json").unwrap();
    for v in [
        json!({"a": 99.99}),
        json!({"a": 12.3}),
        json!({"a": 0.07}),
        json!({"a": 1.005}),
        json!({"a": 19.99}),
        json!({"a": 1234.56}),
        json!({"d":"2024-02-30"}),
        json!({"d":"2024-2-3"}),
        json!({"t":"25:00"}),
        json!({"e":"x"}),
        json!({"l":["x","x"]}),
        json!({"l":["z"]}),
        json!({"c":"q"}),
        json!({"p":"a1"}),
        json!({"zz":1,"yy":2}),
    ] {
        println!(
            "{v} -> {:?}",
            f.validate(&v, Completeness::Complete).err().map(|e| e
                .iter()
                .map(|e| format!("{} {} {} | {}", e.pointer, e.rule, e.message, e.message_en))
                .collect::<Vec<_>>())
        );
    }
}
