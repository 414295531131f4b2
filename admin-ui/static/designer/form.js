// The form designer (表单设计器). A business admin builds a form's JSON Schema without
// writing it: a palette of the form language's field kinds, a canvas where fields are
// dragged into place and reordered (buttons do the same for keyboards and phones), a
// property panel for the selected field (label, key, required, validation, options, help,
// conditions, computed expression, sensitivity), a live preview drawn by the server exactly
// as the generated page will be, and the schema as JSON. Every change is checked by the
// server with the rules of `formwork pack check` (problems point at the field); publishing
// shows the diff and installs the pack's next version, so the form gets a new version.
// "Copy this form" (表格复用) starts a new form from any form of the tenant's packs.
import { Draft, Pack, h, lang, tr, publishBar, keyFrom, isKey, move, problemList } from "./common.js";

const T = tr({
  zh: {
    form_key: "表单标识", title: "表单名称", description: "说明", workflow: "流程",
    new_workflow: "新建审批流程（填报 → 审核）", filler: "填报角色", reviewer: "审核角色",
    sections: "分组", add_section: "添加分组", section_label: "分组名称", section_columns: "列数",
    palette: "字段类型", canvas: "表单字段", props: "字段属性", fields_tab: "字段", preview_tab: "预览", json_tab: "JSON",
    empty_canvas: "从左侧拖入或点击字段类型来添加字段", pick_field: "选择一个字段以编辑它的属性",
    label: "标签", key: "字段标识", required: "必填", help: "帮助文字", placeholder: "占位提示",
    section: "所属分组", none: "（无）", columns: "占几列（1–4）", min_length: "最少字符", max_length: "最多字符",
    pattern: "正则格式", format: "格式", minimum: "最小值", maximum: "最大值", decimals: "小数位数",
    min_items: "最少行数", max_items: "最多行数", options: "选项（每行一个）", options_from: "选项来源（目录）",
    visible_if: "显示条件（表达式）", required_if: "必填条件（表达式）", computed: "计算公式（由服务器计算）",
    sensitive: "敏感信息（加密存储，脱敏显示）", readonly: "只读", ref_form: "引用表单", ref_label: "显示字段",
    file_types: "允许的文件类型", max_size: "单个文件大小上限", max_count: "最多文件数",
    remove: "删除", up: "上移", down: "下移", duplicate: "复制", add_inside: "添加到「{label}」中",
    row_fields: "每行的字段", apply_json: "应用 JSON", json_bad: "JSON 有误：{error}", json_applied: "已应用",
    key_bad: "标识只能用小写字母、数字和下划线，并以字母开头", key_taken: "已有标识为 {key} 的字段",
    form_key_taken: "表单包中已有表单 {key}", form_key_needed: "请填写表单标识（小写字母、数字、下划线）",
    title_needed: "请填写表单名称", no_fields: "表单至少需要一个字段", roles_needed: "请选择填报角色和审核角色",
    copy_of: "{title}（副本）", copied_from: "复制自 {from}", open_list: "返回设计器", fill_now: "打开填报页",
    live_problems: "检查发现的问题", live_ok: "检查通过", version_now: "当前发布版本 v{v}", unpublished: "尚未发布",
    expression_help: "表达式用字段标识，例如 sum(items, \"amount\")、age(id_number)、deaths > 0",
    fmt_none: "（无）", fmt_id_number: "身份证号", fmt_mobile: "手机号", fmt_uscc: "统一社会信用代码",
    fmt_bank_card: "银行卡号", fmt_postal_code: "邮政编码", fmt_email: "电子邮箱",
    k_text: "单行文本", k_textarea: "多行文本", k_richtext: "富文本", k_integer: "整数", k_amount: "金额",
    k_date: "日期", k_datetime: "日期时间", k_select: "下拉选择", k_radio: "单选", k_checkboxes: "多选",
    k_switch: "是/否", k_agreement: "承诺勾选", k_attachment: "附件", k_repeat: "重复区（明细表）",
    k_reference: "引用记录", k_region: "行政区划", k_group: "字段组",
    option: "选项{n}", new_field: "新字段", new_form: "新建表单", published: "已发布为表单包 v{version}",
  },
  en: {
    form_key: "Form key", title: "Form name", description: "Description", workflow: "Workflow",
    new_workflow: "New approval workflow (fill → review)", filler: "Role that fills", reviewer: "Role that reviews",
    sections: "Sections", add_section: "Add section", section_label: "Section name", section_columns: "Columns",
    palette: "Field kinds", canvas: "Fields", props: "Field properties", fields_tab: "Fields", preview_tab: "Preview", json_tab: "JSON",
    empty_canvas: "Drag a field kind here, or click one, to add a field", pick_field: "Select a field to edit its properties",
    label: "Label", key: "Field key", required: "Required", help: "Help text", placeholder: "Placeholder",
    section: "Section", none: "(none)", columns: "Width in columns (1–4)", min_length: "Min characters", max_length: "Max characters",
    pattern: "Pattern (regex)", format: "Format", minimum: "Minimum", maximum: "Maximum", decimals: "Decimal places",
    min_items: "Min rows", max_items: "Max rows", options: "Options (one per line)", options_from: "Options from (catalogue)",
    visible_if: "Visible if (expression)", required_if: "Required if (expression)", computed: "Computed (by the server)",
    sensitive: "Sensitive (encrypted, shown masked)", readonly: "Read-only", ref_form: "Referenced form", ref_label: "Label field",
    file_types: "Allowed file types", max_size: "Largest file", max_count: "Most files",
    remove: "Remove", up: "Up", down: "Down", duplicate: "Duplicate", add_inside: "Add into “{label}”",
    row_fields: "Fields of each row", apply_json: "Apply JSON", json_bad: "The JSON is wrong: {error}", json_applied: "Applied",
    key_bad: "A key has lowercase letters, digits and underscores, and starts with a letter", key_taken: "There is already a field {key}",
    form_key_taken: "The pack already has a form {key}", form_key_needed: "Enter the form key (lowercase letters, digits, underscores)",
    title_needed: "Enter the form name", no_fields: "A form needs at least one field", roles_needed: "Choose the role that fills and the role that reviews",
    copy_of: "{title} (copy)", copied_from: "Copied from {from}", open_list: "Back to the designer", fill_now: "Open the form",
    live_problems: "Problems found by the check", live_ok: "The check passed", version_now: "Published version v{v}", unpublished: "Not published yet",
    expression_help: "Expressions use field keys, e.g. sum(items, \"amount\"), age(id_number), deaths > 0",
    fmt_none: "(none)", fmt_id_number: "ID number", fmt_mobile: "Mobile", fmt_uscc: "Social credit code",
    fmt_bank_card: "Bank card", fmt_postal_code: "Postal code", fmt_email: "Email",
    k_text: "Text", k_textarea: "Long text", k_richtext: "Rich text", k_integer: "Integer", k_amount: "Amount",
    k_date: "Date", k_datetime: "Date and time", k_select: "Drop-down", k_radio: "Radio", k_checkboxes: "Checkboxes",
    k_switch: "Yes / no", k_agreement: "Agreement", k_attachment: "Attachment", k_repeat: "Repeating section",
    k_reference: "Reference", k_region: "Region", k_group: "Group of fields",
    option: "Option {n}", new_field: "New field", new_form: "New form", published: "Published as pack v{version}",
  },
});

// ---- field kinds -------------------------------------------------------------------------

/** The palette: each kind's starting schema. `row: false` kinds cannot go inside a row. */
const KINDS = {
  text: { make: () => ({ type: "string", maxLength: 100 }) },
  textarea: { make: () => ({ type: "string", maxLength: 2000, "x-ui": { widget: "textarea" } }) },
  richtext: { make: () => ({ type: "string", "x-sanitize": "html", "x-ui": { widget: "richtext" } }) },
  integer: { make: () => ({ type: "integer", minimum: 0 }) },
  amount: { make: () => ({ type: "number", minimum: 0, "x-decimals": 2, "x-ui": { widget: "amount" } }) },
  date: { make: () => ({ type: "string", format: "date", "x-ui": { widget: "date" } }) },
  datetime: { make: () => ({ type: "string", format: "date-time", "x-ui": { widget: "datetime" } }) },
  select: { make: () => ({ type: "string", enum: [T("option", { n: 1 }), T("option", { n: 2 })] }) },
  radio: { make: () => ({ type: "string", enum: [T("option", { n: 1 }), T("option", { n: 2 })], "x-ui": { widget: "radio" } }) },
  checkboxes: { make: () => ({ type: "array", uniqueItems: true, items: { type: "string", enum: [T("option", { n: 1 }), T("option", { n: 2 })] }, "x-ui": { widget: "checkboxes" } }) },
  switch: { make: () => ({ type: "boolean" }) },
  agreement: { make: () => ({ type: "boolean", const: true, "x-ui": { widget: "agreement" } }) },
  attachment: { row: false, make: () => ({ type: "array", items: { type: "string" }, maxItems: 5, "x-attachment": { max_size: "10MB", max_count: 5, types: ["application/pdf", "image/jpeg", "image/png"] } }) },
  repeat: { row: false, make: () => ({ type: "array", minItems: 1, maxItems: 50, items: { type: "object", additionalProperties: false, required: [], properties: {} } }) },
  reference: { row: false, make: (pack) => ({ type: "string", "x-ref": { form: pack.keys("forms")[0] ?? "" } }) },
  region: { make: () => ({ type: "string", "x-options-from": "regions", "x-ui": { widget: "region" } }) },
};

/** The kind a field schema is drawn as, for the canvas and the property panel. */
function kindOf(p) {
  const w = p?.["x-ui"]?.widget;
  if (p?.["x-attachment"]) return "attachment";
  if (p?.["x-ref"]) return "reference";
  if (p?.type === "array" && p.items?.type === "object") return "repeat";
  if (p?.type === "array") return "checkboxes";
  if (p?.type === "object") return "group";
  if (p?.type === "boolean") return p.const === true || w === "agreement" ? "agreement" : "switch";
  if (p?.type === "integer") return "integer";
  if (p?.type === "number") return "amount";
  if (w && KINDS[w]) return w;
  if (p?.["x-sanitize"] === "html") return "richtext";
  if (p?.format === "date") return "date";
  if (p?.format === "date-time") return "datetime";
  if (p?.["x-options-from"] === "regions") return "region";
  if (p?.enum || p?.["x-options-from"]) return "select";
  return "text";
}

const FORMATS = ["", "id_number", "mobile", "uscc", "bank_card", "postal_code", "email"];
const FILE_TYPES = {
  "application/pdf": "PDF", "image/jpeg": "JPG", "image/png": "PNG",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX", "text/plain": "TXT", "text/csv": "CSV",
};

// ---- the designer --------------------------------------------------------------------------

const root = document.getElementById("designer");
const packId = root.dataset.pack;
let editing = root.dataset.key || null;
const from = root.dataset.from || null;

let pack;
let draft;
let formKey = editing ?? "";
let schema;
/** The selected field: `[key]` at the top level or `[repeatKey, rowKey]` inside a row. */
let selected = null;
/** The new workflow the form will get, when the admin chose "new approval workflow". */
let newFlow = null;
let lastProblems = [];
let tab = "fields";
/** What the last publish answered, shown once after the page redraws. */
let published = null;

const els = {};

async function start() {
  pack = await Pack.open(packId);
  draft = new Draft(pack);
  if (editing) {
    schema = pack.json(`forms/${editing}.json`);
  } else if (from) {
    const [fromPack, fromForm] = from.split("/");
    const source = fromPack === packId ? pack : await Pack.open(fromPack);
    schema = structuredClone(source.json(`forms/${fromForm}.json`) ?? {});
    schema.title = T("copy_of", { title: schema.title ?? fromForm });
    formKey = keyFrom(`${fromForm}_copy`, new Set(pack.keys("forms")), "form");
    if (fromPack !== packId || !pack.keys("workflows").includes(schema["x-workflow"])) schema["x-workflow"] = pack.keys("workflows")[0] ?? "";
  } else {
    schema = {
      $schema: "https://json-schema.org/draft/2020-12/schema", title: "", type: "object",
      "x-workflow": pack.keys("workflows")[0] ?? "", additionalProperties: false, required: [], properties: {},
    };
  }
  schema.properties ??= {};
  schema.required ??= [];
  render();
  sync();
  // A new form is checked once the admin starts on it; an existing one at once (preview).
  if (editing || from) changed(false);
}

/** The path of the form's file in the pack. */
const formPath = () => `forms/${formKey}.json`;
const flowKey = () => `${formKey}_flow`;

/** Puts the current schema (and a new workflow, if chosen) into the draft. */
function sync() {
  for (const p of Object.keys(draft.files)) if (p.startsWith("forms/") || p.startsWith("workflows/")) delete draft.files[p];
  if (!isKey(formKey)) return;
  if (newFlow) {
    schema["x-workflow"] = flowKey();
    draft.files[`workflows/${flowKey()}.json`] = flowTemplate();
  }
  // The form as installed is no change (key order counts: it decides the page order).
  if (JSON.stringify(pack.json(formPath())) !== JSON.stringify(schema)) draft.files[formPath()] = schema;
  draft.changed();
}

/** A plain approval workflow: draft → submitted → approved, with a return for correction. */
function flowTemplate() {
  const zh = lang === "zh";
  const s = (key, label, extra = {}) => ({ key, label, ...extra });
  return {
    label: `${schema.title || formKey}${zh ? "审批流程" : " approval"}`,
    initial: "draft",
    states: [
      s("draft", zh ? "草稿" : "Draft", { complete: false, edit: { roles: [newFlow.filler] } }),
      s("submitted", zh ? "待审核" : "Awaiting review"),
      s("approved", zh ? "审核通过" : "Approved"),
    ],
    transitions: [
      { action: "submit", label: zh ? "提交" : "Submit", from: "draft", to: "submitted", roles: [newFlow.filler] },
      { action: "approve", label: zh ? "审核通过" : "Approve", from: "submitted", to: "approved", roles: [newFlow.reviewer] },
      { action: "return", label: zh ? "退回修改" : "Return for correction", from: "submitted", to: "draft", roles: [newFlow.reviewer], comment_required: true },
    ],
  };
}

let timer = null;
/** Something changed: update the draft and, a moment later, check it and redraw the preview. */
function changed(redraw = true) {
  sync();
  if (redraw) renderCanvas();
  clearTimeout(timer);
  timer = setTimeout(liveCheck, 450);
}

let checking = 0;
async function liveCheck() {
  const ticket = ++checking;
  const local = localProblems();
  if (local.length) {
    showProblems(local);
    return;
  }
  try {
    const result = await draft.check(formKey);
    if (ticket !== checking) return;
    showProblems(result.problems);
    if (result.preview !== null && result.preview !== undefined) {
      els.preview.innerHTML = result.preview;
      // The preview is a picture of the page, not a form to submit.
      for (const el of els.preview.querySelectorAll("input, select, textarea, button")) el.tabIndex = -1;
    }
  } catch (e) {
    showProblems([{ file: formPath(), pointer: "", reason: e.message }]);
  }
}

function showProblems(problems) {
  lastProblems = problems;
  els.live.replaceChildren(problems.length
    ? h("div", {}, h("p", { class: "alert", text: `${T("live_problems")}（${problems.length}）` }), problemList(problems, formPath()))
    : h("p", { class: "notice ok", text: T("live_ok") }));
  renderCanvas();
  renderProps();
}

/** What the page can tell before asking the server. */
function localProblems() {
  const out = [];
  const p = (pointer, reason) => out.push({ file: formPath(), pointer, reason });
  if (!isKey(formKey)) p("", T("form_key_needed"));
  else if (!editing && pack.keys("forms").includes(formKey)) p("", T("form_key_taken", { key: formKey }));
  if (!schema.title?.trim()) p("/title", T("title_needed"));
  if (!Object.keys(schema.properties).length) p("/properties", T("no_fields"));
  if (newFlow && (!newFlow.filler || !newFlow.reviewer)) p("/x-workflow", T("roles_needed"));
  return out;
}

// ---- selection helpers ---------------------------------------------------------------------

/** The `properties` object and `required` list that hold a field: the form's or a row's. */
function container(path) {
  if (path.length === 1) return { props: schema.properties, holder: schema };
  const rows = schema.properties[path[0]].items;
  rows.properties ??= {};
  rows.required ??= [];
  return { props: rows.properties, holder: rows };
}

function fieldAt(path) {
  if (!path) return null;
  return container(path).props[path[path.length - 1]] ?? null;
}

/** Rebuilds an object with its keys in a new order (JSON keeps insertion order). */
function reorder(obj, keys) {
  const copy = { ...obj };
  for (const k of Object.keys(obj)) delete obj[k];
  for (const k of keys) obj[k] = copy[k];
}

function takenKeys(path) {
  return new Set(Object.keys(container(path ?? ["x"]).props));
}

/** Adds a field of `kind` at the top level or into the repeating section `parent`, at `index`. */
function addField(kind, parent = null, index = null) {
  const inRow = parent !== null;
  if (inRow && KINDS[kind].row === false) return;
  const path = inRow ? [parent, ""] : [""];
  const { props } = container(path);
  const key = keyFrom(kind === "repeat" ? "items" : kind, takenKeys(path), "field");
  const field = { title: `${T(`k_${kind}`)}`, ...KINDS[kind].make(pack) };
  const section = !inRow && selected && fieldAt(selected)?.["x-ui"]?.section;
  if (section) field["x-ui"] = { ...(field["x-ui"] ?? {}), section };
  const keys = Object.keys(props);
  const at = index ?? keys.length;
  keys.splice(at, 0, key);
  props[key] = field;
  reorder(props, keys);
  selected = inRow ? [parent, key] : [key];
  changed();
  renderProps();
}

function removeField(path) {
  const { props, holder } = container(path);
  const key = path[path.length - 1];
  delete props[key];
  holder.required = (holder.required ?? []).filter((k) => k !== key);
  selected = null;
  changed();
  renderProps();
}

function moveField(path, delta) {
  const { props } = container(path);
  const keys = Object.keys(props);
  const i = keys.indexOf(path[path.length - 1]);
  move(keys, i, i + delta);
  reorder(props, keys);
  changed();
}

function duplicateField(path) {
  const { props } = container(path);
  const key = path[path.length - 1];
  const copy = keyFrom(`${key}_copy`, takenKeys(path));
  const keys = Object.keys(props);
  keys.splice(keys.indexOf(key) + 1, 0, copy);
  props[copy] = structuredClone(props[key]);
  reorder(props, keys);
  selected = [...path.slice(0, -1), copy];
  changed();
  renderProps();
}

function renameField(path, next) {
  const { props, holder } = container(path);
  const key = path[path.length - 1];
  const keys = Object.keys(props).map((k) => (k === key ? next : k));
  props[next] = props[key];
  delete props[key];
  reorder(props, keys);
  holder.required = (holder.required ?? []).map((k) => (k === key ? next : k));
  selected = [...path.slice(0, -1), next];
}

// ---- rendering -------------------------------------------------------------------------------

function render() {
  const workflows = pack.workflows();
  const roles = Object.entries(pack.roles?.roles ?? {});
  const version = editing ? pack.versions?.[editing] : null;

  const keyInput = h("input", { id: "form-key", value: formKey, disabled: !!editing, required: true, autocomplete: "off", pattern: "[a-z][a-z0-9_]*" });
  keyInput.addEventListener("input", () => { formKey = keyInput.value.trim(); changed(false); });
  const titleInput = h("input", { id: "form-title", value: schema.title ?? "", required: true });
  titleInput.addEventListener("input", () => { schema.title = titleInput.value; changed(false); });
  const descInput = h("input", { id: "form-description", value: schema.description ?? "" });
  descInput.addEventListener("input", () => {
    if (descInput.value) schema.description = descInput.value; else delete schema.description;
    changed(false);
  });

  const flowSelect = h("select", { id: "form-workflow" },
    workflows.map((w) => h("option", { value: w.key, selected: schema["x-workflow"] === w.key, text: `${w.def.label ?? w.key} (${w.key})` })),
    h("option", { value: "", text: T("new_workflow") }));
  const roleSelect = (id, label, pick) => {
    const sel = h("select", { id }, h("option", { value: "", text: T("none") }),
      roles.map(([k, r]) => h("option", { value: k, text: `${r.label} (${k})` })));
    sel.addEventListener("change", () => { pick(sel.value); changed(false); });
    return h("label", { for: id }, label, sel);
  };
  const flowRoles = h("div", { class: "head", hidden: true },
    roleSelect("flow-filler", T("filler"), (v) => { newFlow.filler = v; }),
    roleSelect("flow-reviewer", T("reviewer"), (v) => { newFlow.reviewer = v; }));
  flowSelect.addEventListener("change", () => {
    if (flowSelect.value) {
      newFlow = null;
      schema["x-workflow"] = flowSelect.value;
    } else {
      newFlow = { filler: "", reviewer: "" };
    }
    flowRoles.hidden = !newFlow;
    changed(false);
  });
  if (editing) flowSelect.querySelector("option[value='']").remove();

  const head = h("section", { class: "card" },
    h("div", { class: "titlebar" },
      h("h1", { text: editing ? `${schema.title ?? editing}` : (from ? T("copied_from", { from }) : T("new_form")) }),
      h("span", { class: "meta", text: editing ? (version ? T("version_now", { v: version }) : T("unpublished")) : "" })),
    h("div", { class: "head" },
      h("label", { for: "form-key" }, T("form_key"), keyInput),
      h("label", { for: "form-title" }, T("title"), titleInput),
      h("label", { for: "form-description" }, T("description"), descInput),
      h("label", { for: "form-workflow" }, T("workflow"), flowSelect)),
    flowRoles,
    sectionsEditor());

  const palette = h("section", { class: "palette-box", "aria-label": T("palette") },
    h("h2", { text: T("palette") }),
    h("div", { class: "palette" }, Object.keys(KINDS).filter((k) => k !== "region" || pack.files["catalogues/regions.json"]).map((kind) => {
      const b = h("button", { type: "button", draggable: "true", dataset: { kind }, text: T(`k_${kind}`) });
      b.addEventListener("click", () => {
        const parent = selected && kindOf(fieldAt([selected[0]])) === "repeat" && KINDS[kind].row !== false ? selected[0] : null;
        addField(kind, parent);
      });
      b.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/x-formwork-kind", kind); e.dataTransfer.effectAllowed = "copy"; });
      return b;
    })));

  els.canvas = h("ul", { class: "canvas", "aria-label": T("canvas") });
  els.preview = h("div", { class: "preview fw-form" });
  els.json = h("textarea", { class: "json-view", spellcheck: "false", "aria-label": "JSON" });
  const jsonStatus = h("p", { class: "help", role: "status" });
  const applyJson = h("button", { type: "button", text: T("apply_json") });
  applyJson.addEventListener("click", () => {
    try {
      const parsed = JSON.parse(els.json.value);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("{…}");
      schema = parsed;
      schema.properties ??= {};
      selected = null;
      jsonStatus.textContent = T("json_applied");
      changed();
      renderProps();
    } catch (e) {
      jsonStatus.textContent = T("json_bad", { error: e.message });
    }
  });
  const panes = {
    fields: h("div", { hidden: tab !== "fields" }, els.canvas),
    preview: h("div", { hidden: tab !== "preview" }, els.preview),
    json: h("div", { hidden: tab !== "json" }, els.json, h("div", { class: "tools" }, applyJson), jsonStatus),
  };
  const tabs = h("div", { class: "tabs", role: "tablist" }, Object.keys(panes).map((name) => {
    const b = h("button", { type: "button", role: "tab", "aria-selected": String(name === tab), dataset: { tab: name }, text: T(`${name}_tab`) });
    b.addEventListener("click", () => {
      tab = name;
      for (const [n, pane] of Object.entries(panes)) pane.hidden = n !== name;
      for (const t of tabs.children) t.setAttribute("aria-selected", String(t.dataset.tab === name));
      if (name === "json") els.json.value = JSON.stringify(schema, null, 2);
      if (name === "preview") liveCheck();
    });
    return b;
  }));
  const canvasBox = h("section", { class: "canvas-box" }, h("h2", { class: "sr", text: T("canvas") }), tabs, ...Object.values(panes));

  els.props = h("section", { class: "props-box", "aria-label": T("props") });
  els.live = h("div", { class: "live-check", role: "status", "aria-live": "polite" });

  const bar = publishBar(draft, {
    file: formPath(),
    validate: localProblems,
    onPublished: async (body) => {
      // Go on editing the published form, from the pack's new revision.
      const fresh = await Pack.open(packId);
      Object.assign(pack, { revision: fresh.revision, files: fresh.files, versions: fresh.versions });
      draft.files = {};
      draft.deleted.clear();
      newFlow = null;
      if (!editing) {
        editing = formKey;
        history.replaceState(null, "", `/designer/${packId}/forms/${formKey}`);
      }
      published = body;
      render();
      sync();
    },
  });
  if (published) {
    bar.querySelector(".publish-status").append(
      h("p", { class: "notice ok", "data-published": "", text: T("published", { version: published.version }) }),
      ...(published.installed?.published ?? []).map(([form, v]) => h("p", { class: "help", text: `${form} → v${v}` })),
      h("p", { class: "tools" },
        h("a", { class: "button", href: "/designer", text: T("open_list") }),
        h("a", { class: "button", href: `/forms/${formKey}/new`, text: T("fill_now") })));
    published = null;
  }

  root.replaceChildren(head, h("div", { class: "design-grid" }, palette, canvasBox, els.props), els.live, bar);
  wireCanvasDrop();
  renderCanvas();
  renderProps();
}

function sectionsEditor() {
  const box = h("div", { class: "sections" });
  const draw = () => {
    const list = schema["x-ui"]?.sections ?? [];
    box.replaceChildren(
      h("p", { class: "help" }, h("strong", { text: T("sections") })),
      h("div", { class: "chips" }, list.map((s, i) => {
        const label = h("input", { value: s.label ?? "", "aria-label": T("section_label"), size: 10 });
        label.addEventListener("input", () => { s.label = label.value; changed(); });
        const cols = h("select", { "aria-label": T("section_columns") }, [1, 2, 3, 4].map((n) => h("option", { value: n, selected: (s.columns ?? 1) === n, text: `${n}` })));
        cols.addEventListener("change", () => { s.columns = Number(cols.value); changed(); });
        const del = h("button", { type: "button", text: "×", "aria-label": T("remove") });
        del.addEventListener("click", () => {
          list.splice(i, 1);
          for (const f of Object.values(schema.properties)) if (f["x-ui"]?.section === s.key) delete f["x-ui"].section;
          if (!list.length) delete schema["x-ui"].sections;
          draw();
          changed();
        });
        return h("span", { class: "section-chip" }, h("code", { text: s.key }), label, cols, del);
      }),
      h("button", { type: "button", class: "subtle", text: T("add_section"), on: { click: () => {
        schema["x-ui"] ??= {};
        schema["x-ui"].sections ??= [];
        const taken = new Set(schema["x-ui"].sections.map((s) => s.key));
        const key = keyFrom("section", taken, "section");
        schema["x-ui"].sections.push({ key, label: `${T("section")} ${schema["x-ui"].sections.length + 1}`, columns: 2 });
        draw();
        changed();
      } } })));
  };
  draw();
  return box;
}

/** Pointers of the current problems that address this field. */
function problemsOf(path) {
  const ptr = path.length === 1 ? `/properties/${path[0]}` : `/properties/${path[0]}/items/properties/${path[1]}`;
  return lastProblems.filter((p) => p.file === formPath() && (p.pointer === ptr || p.pointer.startsWith(`${ptr}/`)));
}

function renderCanvas() {
  if (!els.canvas) return;
  const keys = Object.keys(schema.properties);
  const sections = Object.fromEntries((schema["x-ui"]?.sections ?? []).map((s) => [s.key, s.label]));
  const item = (path, field, nested) => {
    const key = path[path.length - 1];
    const holder = container(path).holder;
    const kind = kindOf(field);
    const isSelected = selected && selected.join("/") === path.join("/");
    const li = h("li", {
      class: `item${nested ? " nested" : ""}${isSelected ? " selected" : ""}${problemsOf(path).length ? " has-problem" : ""}`,
      draggable: "true", tabindex: "0", dataset: { key, path: path.join("/") }, "aria-selected": String(!!isSelected),
    },
    h("span", { class: "grip", "aria-hidden": "true", text: "⠿" }),
    h("span", { class: "label" }, field.title ?? key, (holder.required ?? []).includes(key) ? h("span", { class: "req", text: " *" }) : null),
    h("span", { class: "kind", text: `${T(`k_${kind}`)} · ${key}${field["x-ui"]?.section && !nested ? ` · ${sections[field["x-ui"].section] ?? field["x-ui"].section}` : ""}` }),
    h("button", { type: "button", text: "↑", "aria-label": T("up"), on: { click: (e) => { e.stopPropagation(); moveField(path, -1); } } }),
    h("button", { type: "button", text: "↓", "aria-label": T("down"), on: { click: (e) => { e.stopPropagation(); moveField(path, 1); } } }));
    const pick = () => {
      selected = path;
      renderCanvas();
      renderProps();
      // On a phone the panel is below the canvas: bring it into view.
      if (window.innerWidth < 1000) els.props.scrollIntoView({ block: "start" });
    };
    li.addEventListener("click", pick);
    li.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
    li.addEventListener("dragstart", (e) => { e.stopPropagation(); e.dataTransfer.setData("text/x-formwork-field", path.join("/")); e.dataTransfer.effectAllowed = "move"; });
    return li;
  };
  const items = [];
  for (const key of keys) {
    const field = schema.properties[key];
    items.push(item([key], field, false));
    if (kindOf(field) === "repeat") {
      const rowProps = field.items?.properties ?? {};
      items.push(h("li", { class: "section-head", dataset: { rowsOf: key }, text: `${T("row_fields")} · ${field.title ?? key}` }));
      for (const rk of Object.keys(rowProps)) items.push(item([key, rk], rowProps[rk], true));
    }
  }
  els.canvas.replaceChildren(...(items.length ? items : [h("li", { class: "empty", text: T("empty_canvas") })]));
}

/** Drag and drop: palette kinds are dropped in as new fields, fields are moved. */
function wireCanvasDrop() {
  const canvas = els.canvas;
  const target = (e) => e.target.closest?.("li.item, li.section-head");
  canvas.addEventListener("dragover", (e) => {
    e.preventDefault();
    canvas.classList.add("drop-target");
    for (const li of canvas.querySelectorAll(".drop-before")) li.classList.remove("drop-before");
    target(e)?.classList.add("drop-before");
  });
  canvas.addEventListener("dragleave", (e) => { if (!canvas.contains(e.relatedTarget)) canvas.classList.remove("drop-target"); });
  canvas.addEventListener("drop", (e) => {
    e.preventDefault();
    canvas.classList.remove("drop-target");
    const li = target(e);
    const kind = e.dataTransfer.getData("text/x-formwork-kind");
    const moving = e.dataTransfer.getData("text/x-formwork-field");
    // Where it lands: before the field under the pointer; into a row when that field is one.
    let parent = null;
    let before = null;
    if (li?.dataset.rowsOf) parent = li.dataset.rowsOf;
    else if (li?.dataset.path) {
      const path = li.dataset.path.split("/");
      if (path.length === 2) [parent, before] = path;
      else before = path[0];
    }
    if (kind) {
      if (parent && KINDS[kind].row === false) parent = null;
      const { props } = container(parent ? [parent, ""] : [""]);
      const keys = Object.keys(props);
      addField(kind, parent, before && keys.includes(before) ? keys.indexOf(before) : (parent && !before ? 0 : null));
    } else if (moving) {
      const path = moving.split("/");
      const sameParent = (path.length === 2 ? path[0] : null) === parent;
      if (!sameParent) return; // fields move within their own list
      const { props } = container(path);
      const keys = Object.keys(props);
      const key = path[path.length - 1];
      const fromIndex = keys.indexOf(key);
      keys.splice(fromIndex, 1);
      const to = before && keys.includes(before) ? keys.indexOf(before) : keys.length;
      keys.splice(to, 0, key);
      reorder(props, keys);
      changed();
    }
  });
}

// ---- the property panel ----------------------------------------------------------------------

function renderProps() {
  if (!els.props) return;
  const field = fieldAt(selected);
  if (!field) {
    els.props.replaceChildren(h("h2", { text: T("props") }), h("p", { class: "empty", text: T("pick_field") }));
    return;
  }
  const path = selected;
  const key = path[path.length - 1];
  const { holder } = container(path);
  const kind = kindOf(field);
  const top = path.length === 1;
  const form = h("div", { class: "props" });
  let n = 0;
  const id = () => `prop-${++n}`;

  /** A text or number input bound to a getter and setter. */
  const input = (label, get, set, attrs = {}) => {
    const i = id();
    const el = h("input", { id: i, value: get() ?? "", ...attrs });
    el.addEventListener("input", () => { set(el.value); changed(); });
    form.append(h("label", { for: i, text: label }), el);
    return el;
  };
  const area = (label, get, set, help) => {
    const i = id();
    const el = h("textarea", { id: i, value: get() ?? "" });
    el.addEventListener("input", () => { set(el.value); changed(); });
    form.append(h("label", { for: i, text: label }), el);
    if (help) form.append(h("p", { class: "help", text: help }));
    return el;
  };
  const check = (label, get, set) => {
    const i = id();
    const el = h("input", { id: i, type: "checkbox", checked: !!get() });
    el.addEventListener("change", () => { set(el.checked); changed(); });
    form.append(h("label", { class: "check", for: i }, el, label));
    return el;
  };
  const select = (label, options, get, set) => {
    const i = id();
    const el = h("select", { id: i }, options.map(([v, text]) => h("option", { value: v, selected: (get() ?? "") === v, text })));
    el.addEventListener("change", () => { set(el.value); changed(); });
    form.append(h("label", { for: i, text: label }), el);
    return el;
  };
  const setOrDrop = (obj, k, v) => { if (v === "" || v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) delete obj[k]; else obj[k] = v; };
  const num = (v) => (v === "" ? "" : Number(v));
  const ui = () => { field["x-ui"] ??= {}; return field["x-ui"]; };
  const tidyUi = () => { if (field["x-ui"] && !Object.keys(field["x-ui"]).length) delete field["x-ui"]; };

  form.append(h("h2", {}, T("props"), " ", h("span", { class: "meta", text: T(`k_${kind}`) })));
  input(T("label"), () => field.title, (v) => { field.title = v; }, { "data-prop": "title" });

  // The key changes nothing until it is committed (change), so typing is safe.
  const keyId = id();
  const keyInput = h("input", { id: keyId, value: key, autocomplete: "off", "data-prop": "key" });
  const keyError = h("p", { class: "prop-error", role: "alert", hidden: true });
  keyInput.addEventListener("change", () => {
    const next = keyInput.value.trim();
    if (next === key) return;
    const refuse = !isKey(next) ? T("key_bad") : takenKeys(path).has(next) ? T("key_taken", { key: next }) : null;
    if (refuse) {
      keyError.textContent = refuse;
      keyError.hidden = false;
      return;
    }
    renameField(path, next);
    changed();
    renderProps();
  });
  form.append(h("label", { for: keyId, text: T("key") }), keyInput, keyError);

  check(T("required"), () => (holder.required ?? []).includes(key), (on) => {
    holder.required = (holder.required ?? []).filter((k) => k !== key);
    if (on) holder.required.push(key);
  }).dataset.prop = "required";

  // Validation rules by type.
  if (field.type === "string" && !["date", "datetime", "select", "radio", "region", "reference", "attachment"].includes(kind)) {
    input(T("min_length"), () => field.minLength, (v) => setOrDrop(field, "minLength", num(v)), { type: "number", min: 0 });
    input(T("max_length"), () => field.maxLength, (v) => setOrDrop(field, "maxLength", num(v)), { type: "number", min: 1 });
    if (kind === "text") {
      select(T("format"), FORMATS.map((f) => [f, T(`fmt_${f || "none"}`)]), () => field.format ?? "", (v) => setOrDrop(field, "format", v));
      input(T("pattern"), () => field.pattern, (v) => setOrDrop(field, "pattern", v));
    }
  }
  if (field.type === "integer" || field.type === "number") {
    input(T("minimum"), () => field.minimum, (v) => setOrDrop(field, "minimum", num(v)), { type: "number", step: "any", "data-prop": "minimum" });
    input(T("maximum"), () => field.maximum, (v) => setOrDrop(field, "maximum", num(v)), { type: "number", step: "any", "data-prop": "maximum" });
    if (field.type === "number") input(T("decimals"), () => field["x-decimals"], (v) => setOrDrop(field, "x-decimals", num(v)), { type: "number", min: 0, max: 6 });
  }
  if (field.type === "array" && kind !== "attachment") {
    input(T("min_items"), () => field.minItems, (v) => setOrDrop(field, "minItems", num(v)), { type: "number", min: 0 });
    input(T("max_items"), () => field.maxItems, (v) => setOrDrop(field, "maxItems", num(v)), { type: "number", min: 1 });
  }

  // Options: a fixed list, or a catalogue of the pack.
  if (["select", "radio", "checkboxes"].includes(kind)) {
    const target = kind === "checkboxes" ? (field.items ??= { type: "string" }) : field;
    const catalogues = Object.keys(pack.files).filter((p) => p.startsWith("catalogues/")).map((p) => p.slice(11, -5));
    if (catalogues.length) {
      select(T("options_from"), [["", T("none")], ...catalogues.map((c) => [c, c])], () => target["x-options-from"] ?? (kind === "checkboxes" ? field["x-options-from"] : ""), (v) => {
        const holderOf = kind === "checkboxes" ? field : target;
        setOrDrop(holderOf, "x-options-from", v);
        if (v) delete target.enum; else target.enum ??= [T("option", { n: 1 })];
        renderProps();
      });
    }
    if (!(kind === "checkboxes" ? field["x-options-from"] : target["x-options-from"])) {
      area(T("options"), () => (target.enum ?? []).join("\n"), (v) => {
        target.enum = [...new Set(v.split("\n").map((s) => s.trim()).filter(Boolean))];
      }).dataset.prop = "options";
    }
  }

  if (kind === "reference") {
    const forms = pack.forms();
    select(T("ref_form"), forms.map((f) => [f.key, `${f.schema.title ?? f.key} (${f.key})`]), () => field["x-ref"]?.form, (v) => { field["x-ref"] = { form: v }; renderProps(); });
    const target = forms.find((f) => f.key === field["x-ref"]?.form);
    if (target) {
      select(T("ref_label"), [["", T("none")], ...Object.entries(target.schema.properties ?? {}).filter(([, p]) => p.type === "string" && !p["x-sensitive"]).map(([k, p]) => [k, p.title ?? k])],
        () => field["x-ref"]?.label, (v) => setOrDrop(field["x-ref"], "label", v));
    }
  }

  if (kind === "attachment") {
    const att = field["x-attachment"];
    const i = id();
    form.append(h("label", { for: i, text: T("file_types") }), h("div", { class: "chips", id: i }, Object.entries(FILE_TYPES).map(([mime, name]) => {
      const box = h("input", { type: "checkbox", checked: att.types.includes(mime) });
      box.addEventListener("change", () => {
        att.types = box.checked ? [...new Set([...att.types, mime])] : att.types.filter((t) => t !== mime);
        changed();
      });
      return h("label", {}, box, name);
    })));
    input(T("max_size"), () => att.max_size, (v) => setOrDrop(att, "max_size", v));
    input(T("max_count"), () => att.max_count, (v) => {
      setOrDrop(att, "max_count", num(v));
      if (field.type === "array") setOrDrop(field, "maxItems", num(v));
    }, { type: "number", min: 1 });
  }

  // Page hints.
  input(T("help"), () => field["x-ui"]?.help, (v) => { setOrDrop(ui(), "help", v); tidyUi(); }, { "data-prop": "help" });
  if (field.type === "string" || field.type === "integer" || field.type === "number") {
    input(T("placeholder"), () => field["x-ui"]?.placeholder, (v) => { setOrDrop(ui(), "placeholder", v); tidyUi(); });
  }
  if (top) {
    const sections = schema["x-ui"]?.sections ?? [];
    if (sections.length) {
      select(T("section"), [["", T("none")], ...sections.map((s) => [s.key, s.label])], () => field["x-ui"]?.section ?? "", (v) => { setOrDrop(ui(), "section", v); tidyUi(); });
    }
    select(T("columns"), [["", "1"], ["2", "2"], ["3", "3"], ["4", "4"]], () => String(field["x-ui"]?.columns ?? ""), (v) => { setOrDrop(ui(), "columns", v ? Number(v) : ""); tidyUi(); });
  }

  // Conditions and computed values (expressions over the record; the server evaluates them).
  area(T("visible_if"), () => field["x-visible-if"], (v) => setOrDrop(field, "x-visible-if", v.trim()));
  if (kind !== "repeat") area(T("required_if"), () => field["x-required-if"], (v) => setOrDrop(field, "x-required-if", v.trim()));
  if (["integer", "amount", "text", "date"].includes(kind)) {
    area(T("computed"), () => field["x-computed"], (v) => {
      setOrDrop(field, "x-computed", v.trim());
      if (v.trim()) ui().readonly = true; else if (field["x-ui"]) { delete field["x-ui"].readonly; tidyUi(); }
    }, T("expression_help")).dataset.prop = "computed";
  }
  if (top && field.type === "string" && !["attachment", "reference"].includes(kind)) {
    check(T("sensitive"), () => !!field["x-sensitive"], (on) => setOrDrop(field, "x-sensitive", on ? true : ""));
  }
  check(T("readonly"), () => field["x-ui"]?.readonly, (on) => { setOrDrop(ui(), "readonly", on ? true : ""); tidyUi(); });

  // Problems the server found in this field.
  const mine = problemsOf(path);
  if (mine.length) form.append(problemList(mine, formPath()));

  const tools = h("div", { class: "tools" },
    h("button", { type: "button", text: T("duplicate"), on: { click: () => duplicateField(path) } }),
    h("button", { type: "button", class: "danger", text: T("remove"), "data-remove-field": "", on: { click: () => removeField(path) } }));
  if (kind === "repeat") {
    const addInside = h("select", { "aria-label": T("add_inside", { label: field.title ?? key }), "data-add-inside": "" },
      h("option", { value: "", text: T("add_inside", { label: field.title ?? key }) }),
      Object.keys(KINDS).filter((k) => KINDS[k].row !== false).map((k) => h("option", { value: k, text: T(`k_${k}`) })));
    addInside.addEventListener("change", () => { if (addInside.value) addField(addInside.value, key); });
    form.append(addInside);
  }
  form.append(tools);
  els.props.replaceChildren(form);
}

start().catch((e) => {
  root.replaceChildren(h("p", { class: "alert", text: e.message }));
});
