//! Form pages: the fields of a form, the read-only sheet, and posted fields read back.
//!
//! The round-trip tests "submit" the rendered page the way a browser does (a small reader
//! of the page's inputs below), so the names, hidden inputs and ticked boxes the page
//! writes are exactly what `parse` reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use form_runtime::html::{self, View};
use form_runtime::rules::Catalogue;
use form_runtime::FieldError;
use serde_json::{json, Value};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn json_file(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn fire_relief() -> Value {
    json_file("schema-packs/red-cross/forms/fire_relief.json")
}

fn showcase_catalogues() -> BTreeMap<String, Catalogue> {
    ["regions", "specialties"]
        .into_iter()
        .map(|k| {
            let c = json_file(&format!("tests/fixtures/showcase/catalogues/{k}.json"));
            (k.to_string(), serde_json::from_value(c).expect("catalogue"))
        })
        .collect()
}

/// Everything a view borrows, with nothing hidden, everything writable, no errors.
struct Page {
    schema: Value,
    data: Value,
    catalogues: BTreeMap<String, Catalogue>,
    errors: Vec<FieldError>,
    hidden: BTreeSet<String>,
    writable: Option<BTreeSet<String>>,
    references: BTreeMap<String, Vec<(String, String)>>,
    english: bool,
}

impl Page {
    fn new(schema: Value, data: Value) -> Page {
        Page {
            schema,
            data,
            catalogues: showcase_catalogues(),
            errors: Vec::new(),
            hidden: BTreeSet::new(),
            writable: None,
            references: BTreeMap::new(),
            english: false,
        }
    }

    fn view(&self) -> View<'_> {
        View {
            form_key: "fire_relief",
            schema: &self.schema,
            catalogues: &self.catalogues,
            data: &self.data,
            errors: &self.errors,
            english: self.english,
            hidden: &self.hidden,
            writable: self.writable.as_ref(),
            references: &self.references,
            zone: form_runtime::clock::DEFAULT_ZONE,
        }
    }

    fn fields(&self) -> String {
        html::form_fields(&self.view())
    }

    fn sheet(&self) -> String {
        html::sheet(&self.view())
    }

    /// What a browser posts for the rendered page, untouched.
    fn submitted(&self) -> Vec<(String, String)> {
        submit(&self.fields())
    }
}

fn error(pointer: &str, message: &str) -> FieldError {
    FieldError::new(pointer, "required", message, format!("{message} (en)"))
}

/// The successful controls of a page, in order, as a browser posts them: inputs with a
/// name (boxes only when ticked, never files), textareas, and each select's chosen option.
/// Rows inside `<template>` are inert and post nothing.
fn submit(page: &str) -> Vec<(String, String)> {
    let mut page = page.to_string();
    while let (Some(a), Some(b)) = (page.find("<template>"), page.find("</template>")) {
        page.replace_range(a..b + "</template>".len(), "");
    }
    let mut out = Vec::new();
    let mut rest = page.as_str();
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').expect("tag closes");
        let (tag, attrs) = rest[..end].split_once(' ').unwrap_or((&rest[..end], ""));
        let attrs = attributes(attrs);
        let get = |k: &str| attrs.get(k).map(String::as_str);
        let Some(name) = get("name") else {
            continue;
        };
        match tag {
            "input" => {
                let ty = get("type").unwrap_or("text");
                let boxed = matches!(ty, "checkbox" | "radio");
                if ty == "file" || (boxed && get("checked").is_none()) {
                    continue;
                }
                let default = if boxed { "on" } else { "" };
                out.push((
                    name.to_string(),
                    get("value").unwrap_or(default).to_string(),
                ));
            }
            "textarea" => {
                let body = &rest[end + 1..];
                let text = &body[..body.find("</textarea>").expect("textarea closes")];
                let text = text.strip_prefix('\n').unwrap_or(text);
                out.push((name.to_string(), unescape(text)));
            }
            "select" => {
                let body = &rest[end + 1..];
                let body = &body[..body.find("</select>").expect("select closes")];
                let options: Vec<BTreeMap<String, String>> = body
                    .split("<option ")
                    .skip(1)
                    .map(|o| attributes(&o[..o.find('>').expect("option closes")]))
                    .collect();
                let chosen = options
                    .iter()
                    .find(|o| o.contains_key("selected"))
                    .or(options.first());
                if let Some(o) = chosen {
                    out.push((
                        name.to_string(),
                        o.get("value").cloned().unwrap_or_default(),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// `a="x" b c="y"` → {a: x, b: "", c: y}, unescaped.
fn attributes(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let key_end = rest.find(['=', ' ']).unwrap_or(rest.len());
        let key = rest[..key_end].to_string();
        rest = &rest[key_end..];
        if let Some(r) = rest.strip_prefix("=\"") {
            let close = r.find('"').expect("attribute closes");
            out.insert(key, unescape(&r[..close]));
            rest = r[close + 1..].trim_start();
        } else {
            out.insert(key, String::new());
            rest = rest.trim_start();
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The markup of the field wrapper (or row) whose `data-pointer` is `pointer`, up to the
/// next field of the same depth; enough to look for what belongs to it.
fn around<'h>(page: &'h str, pointer: &str) -> &'h str {
    let start = page
        .find(&format!("data-pointer=\"{pointer}\""))
        .unwrap_or_else(|| panic!("{pointer} not on the page"));
    let rest = &page[start..];
    let end = rest[1..]
        .find("class=\"fw-field")
        .map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

fn fire_record() -> Value {
    json!({
        "applicant_name": "王芳",
        "id_number": "310104199003072822",
        "phone": "13812345678",
        "district": "徐汇区",
        "address": "徐汇区漕溪北路 1 号",
        "fire_date": "2024-06-03",
        "housing_type": "居住性房屋",
        "residency_type": "户籍居民",
        "deaths": 0,
        "injured": 1,
        "casualty_desc": "一人轻伤\n已出院",
        "members": [
            {"name": "王芳", "relation": "本人", "casualty": "受伤"},
            {"name": "李强", "relation": "配偶", "id_number": "310104199003072822"}
        ],
        "loss_desc": "厨房烧毁",
        "loss_amount": 12345.67,
        "requested_amount": 3000.5,
        "bank_name": "工商银行",
        "bank_account": "6222021001123456789",
        "promise": true,
        "certificates": ["0190a1b2-0000-7000-8000-000000000001", "0190a1b2-0000-7000-8000-000000000002"]
    })
}

#[test]
fn every_kind_renders_its_control_named_by_its_pointer() {
    let schema = json!({
        "type": "object",
        "required": ["name", "kind", "agreed"],
        "properties": {
            "name": {"type": "string", "title": "名称", "maxLength": 20, "x-ui": {"placeholder": "全称"}},
            "story": {"type": "string", "title": "经过"},
            "bio": {"type": "string", "title": "简介", "x-sanitize": "html"},
            "count": {"type": "integer", "title": "数量", "minimum": 0},
            "amount": {"type": "number", "title": "金额", "x-decimals": 2},
            "ratio": {"type": "number", "title": "比例"},
            "day": {"type": "string", "title": "日期", "format": "date"},
            "at": {"type": "string", "title": "时间", "format": "date-time"},
            "kind": {"type": "string", "title": "类别", "enum": ["甲", "乙"]},
            "level": {"type": "string", "title": "级别", "enum": ["高", "低"], "x-ui": {"widget": "radio"}},
            "fields": {"type": "array", "title": "领域", "items": {"type": "string"}, "x-options-from": "specialties"},
            "travel": {"type": "boolean", "title": "出差"},
            "agreed": {"type": "boolean", "title": "承诺", "const": true, "description": "本人已阅读须知"},
            "region": {"type": "string", "title": "地区", "x-options-from": "regions", "x-ui": {"widget": "region"}},
            "expert": {"type": "string", "title": "专家", "x-ref": {"form": "expert"}},
            "other_expert": {"type": "string", "title": "其他专家", "x-ref": {"form": "expert"}},
            "photos": {"type": "array", "title": "照片", "items": {"type": "string"},
                       "x-attachment": {"types": ["image/jpeg", "image/png"]}},
            "signed": {"type": "string", "title": "签字件", "x-attachment": {"types": ["application/pdf"]}},
            "members": {"type": "array", "title": "成员", "minItems": 2, "maxItems": 4,
                        "items": {"type": "object", "properties": {"name": {"type": "string", "title": "姓名", "maxLength": 10}}}},
            "org": {"type": "object", "title": "单位", "properties": {"uscc": {"type": "string", "title": "代码", "format": "uscc"}}},
            "total": {"type": "number", "title": "合计", "x-computed": "count * 2"}
        }
    });
    let mut page = Page::new(
        schema,
        json!({"at": "2026-11-25T02:00:00Z", "photos": ["p1"], "signed": "s1", "total": 4}),
    );
    page.references
        .insert("expert".into(), vec![("e1".into(), "张三".into())]);
    let html = page.fields();
    let has = |s: &str| assert!(html.contains(s), "missing {s} in\n{html}");
    has(
        r#"<input class="fw-input" id="f-name" name="/name" required type="text" value="" maxlength="20" placeholder="全称">"#,
    );
    has(
        r#"<label class="fw-label" for="f-name">名称<span class="fw-required" aria-hidden="true">*</span></label>"#,
    );
    has(r#"<textarea class="fw-input" id="f-story" name="/story" rows="4">"#);
    has(r#"name="/bio" rows="4" data-richtext"#);
    has(r#"name="/count" type="number" inputmode="decimal" step="1" min="0""#);
    has(r#"name="/amount" type="number" inputmode="decimal" step="0.01""#);
    has(r#"name="/ratio" type="number" inputmode="decimal" step="any""#);
    has(r#"name="/day" type="date""#);
    // Times are entered in China time.
    has(r#"name="/at" type="datetime-local" step="1" value="2026-11-25T10:00:00""#);
    has(
        r#"<select class="fw-input" id="f-kind" name="/kind" required><option value="">请选择</option><option value="甲">甲</option>"#,
    );
    has(r#"<legend class="fw-label">级别</legend>"#);
    has(r#"<input type="radio" id="f-level--0" name="/level" value="高">"#);
    has(r#"<input type="checkbox" id="f-fields--1" name="/fields" value="finance"> 财务"#);
    has(
        r#"<input type="hidden" name="/travel" value="false"><input type="checkbox" role="switch" id="f-travel" name="/travel" value="true">"#,
    );
    has(
        r#"name="/agreed" value="true" required><label class="fw-label" for="f-agreed">本人已阅读须知<span class="fw-required""#,
    );
    has(
        r#"<optgroup label="上海市"><option value="310000">上海市</option><option value="310101">　黄浦区</option>"#,
    );
    has(r#"<option value="320102">　　玄武区</option>"#);
    has(
        r#"<select class="fw-input" id="f-expert" name="/expert"><option value="">请选择</option><option value="e1">张三</option></select>"#,
    );
    has(
        r#"<input class="fw-input" id="f-other_expert" name="/other_expert" type="text" value="">"#,
    );
    has(
        r#"<input type="checkbox" id="f-photos--0" name="/photos" value="p1" checked><label for="f-photos--0">保留 <a href="/api/v1/attachments/p1">附件 1</a></label>"#,
    );
    has(
        r#"type="file" id="f-photos" data-upload-url="/api/v1/forms/fire_relief/fields/photos/attachments" accept="image/jpeg,image/png" multiple>"#,
    );
    has(r#"name="/signed" value="s1" checked>"#);
    has(r#"accept="application/pdf">"#);
    has(
        r#"<fieldset class="fw-field fw-repeat fw-wide" id="f-members" data-pointer="/members" data-min="2" data-max="4">"#,
    );
    has(r#"name="/members/1/name""#);
    has(r#"<template><div class="fw-row" data-pointer="/members/__i__">"#);
    has(r#"id="f-members-__i__-name" name="/members/__i__/name""#);
    has(r#"<button type="button" class="fw-add" hidden>添加一行</button>"#);
    has(r#"aria-label="删除此行" hidden>删除</button>"#);
    has(r#"<fieldset class="fw-field fw-group fw-wide" id="f-org" data-pointer="/org">"#);
    has(r#"name="/org/uscc""#);
    has(
        r#"<output class="fw-input fw-computed" id="f-total" data-computed data-pointer="/total">4</output>"#,
    );
    // Minimum two rows, no third, without a script.
    assert!(!html.contains(r#"name="/members/2/name""#));
    assert!(
        !html.contains(r#"name="/total""#),
        "a computed field is never posted"
    );
}

#[test]
fn english_pages_use_english_words() {
    let schema = json!({"type": "object", "properties": {
        "kind": {"type": "string", "enum": ["a"]},
        "rows": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}}}}
    }});
    let mut page = Page::new(schema, json!({}));
    page.english = true;
    let html = page.fields();
    assert!(html.contains(r#"<option value="">Choose</option>"#));
    assert!(html.contains(">Add row</button>"));
}

#[test]
fn errors_land_under_their_field_and_the_rest_are_returned_for_the_top() {
    let mut page = Page::new(fire_relief(), fire_record());
    page.errors = vec![
        error("", "表单中没有字段：remark"),
        error("/applicant_name", "申请人姓名为必填项"),
        error("/members/1/name", "姓名为必填项"),
        error("/members", "家庭成员最多填写 30 人"),
        error("/certificates/1", "附件不存在"),
        error("/file", "文件过大"),
    ];
    let html = page.fields();
    let name = around(&html, "/applicant_name");
    assert!(name.contains(r#"aria-describedby="f-applicant_name--error0" aria-invalid="true""#));
    assert!(name
        .contains(r#"<p class="fw-error" id="f-applicant_name--error0">申请人姓名为必填项</p>"#));
    let row_name = around(&html, "/members/1/name");
    assert!(row_name.contains(r#"id="f-members-1-name""#));
    assert!(row_name.contains(r#"aria-invalid="true""#));
    assert!(row_name.contains(">姓名为必填项</p>"));
    assert!(
        !around(&html, "/members/0/name").contains("fw-error"),
        "the error is in row 1 only"
    );
    let members = &html[html.find(r#"data-pointer="/members""#).expect("members")..];
    assert!(members
        .contains(r#"<p class="fw-error" id="f-members--error0">家庭成员最多填写 30 人</p>"#));
    assert!(around(&html, "/certificates").contains(">附件不存在</p>"));

    let unplaced: Vec<&str> = html::unplaced_errors(&page.view(), &page.errors)
        .iter()
        .map(|e| e.pointer.as_str())
        .collect();
    assert_eq!(unplaced, ["", "/file"]);
    assert!(!html.contains("文件过大") && !html.contains("remark"));

    page.english = true;
    assert!(page.fields().contains(">申请人姓名为必填项 (en)</p>"));
}

#[test]
fn errors_of_hidden_fields_are_listed_at_the_top() {
    let mut page = Page::new(fire_relief(), json!({}));
    page.hidden.insert("phone".into());
    page.errors = vec![error("/phone", "联系电话为必填项")];
    assert!(!page.fields().contains("联系电话为必填项"));
    assert_eq!(html::unplaced_errors(&page.view(), &page.errors).len(), 1);
}

#[test]
fn hidden_fields_are_not_on_the_page_or_the_sheet() {
    let budget = json_file("tests/fixtures/showcase/forms/project_budget.json");
    let mut page = Page::new(
        budget,
        json!({"internal_note": "内部", "contact_mobile": "13812345678"}),
    );
    page.hidden.insert("contact_mobile".into());
    for html in [page.fields(), page.sheet()] {
        assert!(
            !html.contains("/internal_note") && !html.contains("内部"),
            "{html}"
        );
        assert!(!html.contains("/contact_mobile") && !html.contains("13812345678"));
        assert!(html.contains("项目名称"));
    }
}

#[test]
fn a_conditional_field_starts_hidden_when_its_condition_is_false_and_is_never_insisted_on() {
    let budget = json_file("tests/fixtures/showcase/forms/project_budget.json");
    let page = Page::new(budget.clone(), json!({"has_travel": false}));
    let html = page.fields();
    let plan = around(&html, "/travel_plan");
    assert!(
        plan.starts_with(r#"data-pointer="/travel_plan" data-visible-if="has_travel" hidden>"#),
        "{plan}"
    );
    assert!(
        !plan.contains(" required"),
        "travel_plan is required, but only when shown"
    );
    assert!(plan.contains(r#"<span class="fw-required""#));
    let shown = Page::new(budget, json!({"has_travel": true})).fields();
    assert!(around(&shown, "/travel_plan")
        .starts_with(r#"data-pointer="/travel_plan" data-visible-if="has_travel">"#));
}

#[test]
fn fields_the_user_may_not_write_are_shown_read_only_and_never_read_back() {
    let mut page = Page::new(fire_relief(), fire_record());
    page.writable = Some(["applicant_name".to_string(), "members".to_string()].into());
    let html = page.fields();
    let address = around(&html, "/address");
    assert!(
        address.contains(r#"<div class="fw-value""#) && address.contains("徐汇区漕溪北路 1 号")
    );
    assert!(!address.contains("name=\"/address\""));
    assert!(!address.contains(" required"));
    // x-ui.readonly even when writable.
    assert!(!html.contains("name=\"/app_no\""));
    assert!(around(&html, "/applicant_name").contains(r#"name="/applicant_name""#));

    let posted = pairs(&[
        ("/applicant_name", "李四"),
        ("/address", "伪造"),
        ("/app_no", "伪造"),
        ("/household_size", "9"),
        ("/members/0/name", "李四"),
    ]);
    let writable = page.writable.clone();
    let data = html::parse(
        &page.schema,
        &posted,
        writable.as_ref(),
        form_runtime::clock::DEFAULT_ZONE,
    );
    assert_eq!(
        data,
        json!({"applicant_name": "李四", "members": [{"name": "李四"}]})
    );
    assert_eq!(
        html::editable_fields(&page.schema, writable.as_ref()),
        BTreeSet::from(["applicant_name".to_string(), "members".to_string()])
    );
}

#[test]
fn a_fire_relief_record_survives_the_page_round_trip() {
    let record = fire_record();
    let page = Page::new(fire_relief(), record.clone());
    let posted = page.submitted();
    let data = html::parse(
        &page.schema,
        &posted,
        None,
        form_runtime::clock::DEFAULT_ZONE,
    );
    // Everything comes back exactly, decimals included: the page offers the spare row only
    // when there are no rows, and the computed and read-only fields are not posted.
    assert_eq!(data, record, "posted: {posted:?}");
    assert_eq!(data["loss_amount"].to_string(), "12345.67");
    assert_eq!(data["requested_amount"].to_string(), "3000.5");
}

#[test]
fn parse_types_what_people_changed() {
    let schema = fire_relief();
    let data = html::parse(
        &schema,
        &pairs(&[
            ("_csrf", "token"),
            ("_action", "save"),
            ("/applicant_name", "  王芳 "),
            ("/street", ""),
            ("/deaths", "０"),
            ("/injured", " 2 "),
            ("/loss_amount", "1,234.50"),
            ("/requested_amount", "12.345"),
            ("/promise", "false"),
            ("/promise", "true"),
            ("/members/0/name", "甲"),
            ("/members/0/relation", "本人"),
            ("/members/1/name", ""),
            ("/members/1/relation", ""),
            ("/members/__i__/name", "模板"),
            ("/members/2/name", "乙"),
            ("/members/2/relation", "配偶"),
            ("/members/2/casualty", ""),
            ("/certificates", "a1"),
            ("/certificates", "a2"),
            ("/casualty_desc", "第一行\r\n第二行"),
            ("/unknown", "x"),
        ]),
        None,
        form_runtime::clock::DEFAULT_ZONE,
    );
    assert_eq!(
        data,
        json!({
            "applicant_name": "王芳",
            "deaths": 0,
            "injured": 2,
            "casualty_desc": "第一行\n第二行",
            "members": [{"name": "甲", "relation": "本人"}, {"name": "乙", "relation": "配偶"}],
            "loss_amount": 1234.5,
            "requested_amount": 12.345,
            "promise": true,
            "certificates": ["a1", "a2"]
        })
    );
    // An unticked box posts only the hidden false.
    let unticked = html::parse(
        &schema,
        &pairs(&[("/promise", "false")]),
        None,
        form_runtime::clock::DEFAULT_ZONE,
    );
    assert_eq!(unticked, json!({"promise": false}));
    // Text where a number belongs stays text, for validation to report at /deaths.
    let wrong = html::parse(
        &schema,
        &pairs(&[("/deaths", "两人")]),
        None,
        form_runtime::clock::DEFAULT_ZONE,
    );
    assert_eq!(wrong, json!({"deaths": "两人"}));
    // Only empty rows: no members at all.
    let empty = html::parse(
        &schema,
        &pairs(&[("/members/0/name", "")]),
        None,
        form_runtime::clock::DEFAULT_ZONE,
    );
    assert_eq!(empty, json!({}));
}

#[test]
fn choices_attachments_and_groups_round_trip() {
    let schema = json!({
        "type": "object",
        "properties": {
            "fields": {"type": "array", "items": {"type": "string"}, "x-options-from": "specialties"},
            "levels": {"type": "array", "items": {"type": "integer", "enum": [1, 2, 3]}},
            "region": {"type": "string", "x-options-from": "regions"},
            "title": {"type": "string", "enum": ["正高级", "副高级"], "x-ui": {"widget": "radio"}},
            "signed": {"type": "string", "x-attachment": {"types": ["application/pdf"]}},
            "photos": {"type": "array", "items": {"type": "string"}, "x-attachment": {"types": ["image/png"]}},
            "org": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 50}, "size": {"type": "integer"}}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "at": {"type": "string", "format": "date-time"},
            "note": {"type": "string", "x-sanitize": "html"},
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string", "maxLength": 10},
                "done": {"type": "boolean"},
                "code": {"type": "string", "maxLength": 10, "x-ui": {"readonly": true}},
                "secret": {"type": "string", "maxLength": 10, "x-ui": {"hidden": true}},
                "subtotal": {"type": "number", "x-computed": "1"}
            }}}
        }
    });
    let record = json!({
        "fields": ["law", "it"],
        "levels": [1, 3],
        "region": "320102",
        "title": "副高级",
        "signed": "s1",
        "photos": ["p1", "p2"],
        "org": {"name": "某单位", "size": 12},
        "tags": ["甲", "乙"],
        "at": "2026-11-25T10:00:00+08:00",
        "note": "<p>第一段</p>\n<p>\"引号\" & 符号</p>",
        "items": [{"name": "a", "done": true, "code": "C1", "secret": "S1"}, {"name": "b", "done": false}]
    });
    let page = Page::new(schema.clone(), record.clone());
    let data = html::parse(
        &schema,
        &page.submitted(),
        None,
        form_runtime::clock::DEFAULT_ZONE,
    );
    assert_eq!(data, record);
    // Unticking a kept file lets go of it.
    let without: Vec<(String, String)> = page
        .submitted()
        .into_iter()
        .filter(|(k, v)| !(k == "/photos" && v == "p1"))
        .collect();
    assert_eq!(
        html::parse(&schema, &without, None, form_runtime::clock::DEFAULT_ZONE)["photos"],
        json!(["p2"])
    );
}

#[test]
fn values_are_escaped_in_the_page_and_the_sheet() {
    let evil = r#""><script>alert(1)</script>"#;
    let mut record = fire_record();
    record["applicant_name"] = json!(evil);
    record["members"][0]["name"] = json!(evil);
    record["casualty_desc"] = json!(format!("</textarea>{evil}"));
    record["district"] = json!(evil);
    let mut page = Page::new(fire_relief(), record);
    page.errors = vec![error("/applicant_name", evil)];
    for html in [page.fields(), page.sheet()] {
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
    assert!(page
        .fields()
        .contains("&lt;/textarea&gt;&quot;&gt;&lt;script&gt;"));
    // And the escaped value is still what comes back.
    let data = html::parse(
        &page.schema,
        &page.submitted(),
        None,
        form_runtime::clock::DEFAULT_ZONE,
    );
    assert_eq!(data["applicant_name"], json!(evil));
    assert_eq!(data["district"], json!(evil));
}

#[test]
fn the_sheet_shows_labels_words_tables_and_links() {
    let expert = json_file("tests/fixtures/showcase/forms/expert.json");
    let record = json!({
        "name": "张三", "title": "正高级", "specialties": ["law", "it"],
        "region": "310104", "bio": "<p>专家<script>x()</script></p>", "agreed": true,
        "registered_at": "2026-11-25T02:00:00Z"
    });
    let mut page = Page::new(expert, record);
    let sheet = page.sheet();
    let has = |s: &str| assert!(sheet.contains(s), "missing {s} in\n{sheet}");
    has(r#"<section class="fw-section"><h2>基本信息</h2><dl class="fw-sheet">"#);
    has("<dt>所在地区</dt><dd>上海市 / 徐汇区</dd>");
    has("<dt>专业领域</dt><dd>法律、信息技术</dd>");
    has("<dd>是</dd>");
    has("<dd>2026-11-25 10:00</dd>");
    has("<div class=\"fw-rich\"><p>专家</p></div>");
    page.english = true;
    let sheet = page.sheet();
    assert!(sheet.contains("<dd>Yes</dd>") && sheet.contains("法律, 信息技术"));

    let mut fire = Page::new(fire_relief(), fire_record());
    fire.data["promise"] = json!(false);
    let sheet = fire.sheet();
    let has = |s: &str| assert!(sheet.contains(s), "missing {s} in\n{sheet}");
    has("<dd>否</dd>");
    has("<dt>损失金额（元）</dt><dd>12345.67</dd>");
    has("<dt>申请金额（元）</dt><dd>3000.50</dd>");
    has(r#"<table class="fw-table"><thead><tr><th scope="col">#</th><th scope="col">姓名</th>"#);
    has(
        r#"<tr><th scope="row">2</th><td>李强</td><td>配偶</td><td>310104199003072822</td><td><span class="fw-empty">—</span></td></tr>"#,
    );
    has(r#"<a href="/api/v1/attachments/0190a1b2-0000-7000-8000-000000000002">附件 2</a>"#);
    has("<span class=\"fw-text\">一人轻伤\n已出院</span>");
    // Sections without a value to show are still listed with dashes, hidden ones are not.
    has("<h2>审核与发放（由红会填写）</h2>");
}

#[test]
fn the_sheet_shows_reference_labels() {
    let budget = json_file("tests/fixtures/showcase/forms/project_budget.json");
    let mut page = Page::new(budget, json!({"lead_expert": "e1", "total": 0.5}));
    page.references
        .insert("lead_expert".into(), vec![("e1".into(), "张三".into())]);
    let sheet = page.sheet();
    assert!(sheet.contains("<dt>牵头专家</dt><dd>张三</dd>"), "{sheet}");
    assert!(
        sheet.contains("<dt>合计（元）</dt><dd>0.50</dd>"),
        "{sheet}"
    );
}

#[test]
fn a_repeating_section_offers_its_rows_and_a_spare_row_only_when_empty() {
    let page = Page::new(fire_relief(), json!({}));
    let html = page.fields();
    assert!(html.contains(r#"name="/members/0/name""#));
    assert!(!html.contains(r#"name="/members/1/name""#));
    // The spare row is not insisted on: a household may list nobody.
    let spare = around(&html, "/members/0/name");
    assert!(!spare.contains(" required"), "{spare}");
    assert!(html.contains(r#"data-pointer="/members" data-min="0" data-max="30""#));
    // Existing rows are.
    let full = Page::new(fire_relief(), fire_record()).fields();
    assert!(around(&full, "/members/1/name").contains(" required"));
    assert!(!full.contains(r#"name="/members/2/name""#));
}

#[test]
fn real_forms_render_every_field() {
    for path in [
        "schema-packs/red-cross/forms/fire_relief.json",
        "tests/fixtures/showcase/forms/expert.json",
        "tests/fixtures/showcase/forms/project_budget.json",
    ] {
        let schema = json_file(path);
        let page = Page::new(schema.clone(), json!({}));
        let html = page.fields();
        let sheet = page.sheet();
        for (key, prop) in schema["properties"].as_object().expect("properties") {
            let hidden = prop["x-ui"]["hidden"] == json!(true);
            let pointer = format!("data-pointer=\"/{key}\"");
            assert_eq!(html.contains(&pointer), !hidden, "{path}: {key}");
            // A conditional field's condition is false on an empty record.
            let shown = !hidden && prop.get("x-visible-if").is_none();
            if let Some(title) = prop["title"].as_str().filter(|_| shown) {
                assert!(sheet.contains(title), "{path}: {key} on the sheet");
            }
        }
        assert!(
            html.matches("<section").count() == html.matches("</section>").count()
                && html.matches("<div").count() == html.matches("</div>").count()
                && html.matches("<fieldset").count() == html.matches("</fieldset>").count(),
            "{path}: balanced"
        );
        // Every id on the page is unique.
        let ids: Vec<&str> = html
            .split(" id=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').expect("id closes")])
            .filter(|id| !id.contains("__i__"))
            .collect();
        let unique: BTreeSet<&&str> = ids.iter().collect();
        assert_eq!(ids.len(), unique.len(), "{path}: duplicate ids");
    }
}

#[test]
fn a_stored_value_the_control_cannot_hold_is_kept_on_the_page() {
    let schema = json!({"type": "object", "properties": {
        "count": {"type": "integer"},
        "day": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "kind": {"type": "string", "enum": ["甲", "乙"]}
    }});
    let page = Page::new(
        schema.clone(),
        json!({"count": "三", "day": "下周一", "at": "soon", "kind": "丙"}),
    );
    let html = page.fields();
    assert!(
        html.contains(r#"name="/count" type="text" value="三""#),
        "{html}"
    );
    assert!(html.contains(r#"name="/day" type="text" value="下周一""#));
    assert!(html.contains(r#"name="/at" type="text" value="soon""#));
    assert!(html.contains(r#"<option value="丙" selected>丙</option>"#));
    // Saved again unchanged, each comes back as it was, for validation to report.
    assert_eq!(
        html::parse(
            &schema,
            &page.submitted(),
            None,
            form_runtime::clock::DEFAULT_ZONE
        ),
        page.data
    );
}

#[test]
fn rows_of_a_conditional_section_are_never_insisted_on() {
    let schema = json!({"type": "object", "properties": {
        "has_staff": {"type": "boolean"},
        "staff": {"type": "array", "x-visible-if": "has_staff", "minItems": 1,
                  "items": {"type": "object", "required": ["name"],
                            "properties": {"name": {"type": "string", "maxLength": 10}}}}
    }});
    let html = Page::new(schema, json!({})).fields();
    let row = around(&html, "/staff/0/name");
    assert!(
        !row.contains(" required") && row.contains("fw-required"),
        "{row}"
    );
    assert!(html.contains(r#"data-pointer="/staff" data-visible-if="has_staff" hidden"#));
}
