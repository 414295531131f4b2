// The list designer (列表设计): which form a list shows, its columns (picked from the form's
// top-level fields and the system fields, ordered by dragging or with ↑/↓, each with an
// optional heading), the filters, keyword search fields, default sort, grouping and page
// size, with the table header as users will see it. What may be chosen where follows the
// pack manual (6.1, 6.2); the server still checks the whole pack before publishing, and the
// JSON tab lets an admin edit the file directly, its mistakes reported by that check.

import { tr, h, Pack, Draft, publishBar, keyFrom, isKey, move } from "./common.js";

const T = tr({
  zh: {
    title_new: "新建列表", title_edit: "编辑列表", key: "列表键", key_help: "小写字母、数字和下划线，以字母开头；发布后不能修改",
    label: "列表名称", form: "表单", design: "设计", json: "JSON", apply_json: "应用 JSON",
    json_help: "直接编辑列表文件；应用后回到设计视图。发布前服务器会按表单包检查规则检查。",
    json_bad: "JSON 无法解析：{reason}", json_not_list: "列表文件应为一个 JSON 对象",
    preview: "预览", preview_help: "用户在列表页看到的表头", no_columns: "还没有列",
    columns: "列", columns_help: "拖动或用 ↑↓ 调整顺序；列标题留空时使用字段标题",
    add_column: "添加列", all_added: "所有字段都已添加", heading: "列标题", remove: "移除", up: "上移", down: "下移",
    system: "系统字段", system_key_shown: "系统字段不填列标题时，表头显示其键名（如 state）",
    filters: "筛选", filters_help: "用户可按这些字段筛选；运算符由字段类型决定",
    search: "关键字搜索", search_help: "关键字在这些文本字段中查找", no_search_fields: "此表单没有可搜索的文本字段",
    sort: "默认排序", sort_help: "从上到下依次排序", add_sort: "添加排序字段", asc: "升序", desc: "降序",
    group: "分组", group_none: "不分组", group_help: "按此字段分组：每组有标题行和条数",
    page_size: "每页条数", page_size_help: "1 到 500",
    sys_state: "状态", sys_created_at: "创建时间", sys_updated_at: "更新时间", sys_org: "所属机构（含下级）",
    t_string: "文本", t_choice: "选项", t_date: "日期", t_datetime: "日期时间", t_number: "数字", t_integer: "整数",
    t_boolean: "是/否", t_array: "列表", t_object: "分组字段", t_sensitive: "敏感", t_state: "状态", t_time: "时间", t_org: "机构",
    not_allowed: "{field}（不适用）",
    summary_filters: "筛选：{v}", summary_search: "搜索：{v}", summary_sort: "排序：{v}", summary_group: "分组：{v}",
    summary_page: "每页 {n} 条", none: "无", group_sample: "（分组值）", count_sample: "共 n 条",
    need_key: "请填写列表键", bad_key: "列表键只能用小写字母、数字和下划线，并以字母开头", key_taken: "已有列表 {key}",
    need_label: "请填写列表名称", need_form: "请选择表单", need_column: "至少需要一列",
    open_list: "打开列表", loading: "正在加载…", no_forms: "此表单包还没有表单，先新建一个表单",
    unknown_form: "表单 {form} 不在此表单包中",
  },
  en: {
    title_new: "New list", title_edit: "Edit list", key: "List key", key_help: "Lowercase letters, digits and _, starting with a letter; fixed once published",
    label: "List name", form: "Form", design: "Design", json: "JSON", apply_json: "Apply JSON",
    json_help: "Edit the list file directly; applying returns to the design view. The server checks it with the pack-check rules before publishing.",
    json_bad: "The JSON cannot be read: {reason}", json_not_list: "A list file is one JSON object",
    preview: "Preview", preview_help: "The table header users see on the list page", no_columns: "No columns yet",
    columns: "Columns", columns_help: "Drag or use ↑↓ to reorder; an empty heading uses the field's title",
    add_column: "Add a column", all_added: "Every field is a column", heading: "Heading", remove: "Remove", up: "Move up", down: "Move down",
    system: "System fields", system_key_shown: "A system field without a heading shows its key (such as state)",
    filters: "Filters", filters_help: "Users may filter by these fields; the operators follow the field's type",
    search: "Keyword search", search_help: "The keyword is looked for in these text fields", no_search_fields: "This form has no text field to search",
    sort: "Default sort", sort_help: "Most significant first", add_sort: "Add a sort field", asc: "Ascending", desc: "Descending",
    group: "Grouping", group_none: "Not grouped", group_help: "Rows are grouped by this field, each group headed with its count",
    page_size: "Rows per page", page_size_help: "1 to 500",
    sys_state: "State", sys_created_at: "Created", sys_updated_at: "Updated", sys_org: "Org unit (and below)",
    t_string: "text", t_choice: "choice", t_date: "date", t_datetime: "date-time", t_number: "number", t_integer: "whole number",
    t_boolean: "yes/no", t_array: "list", t_object: "group", t_sensitive: "sensitive", t_state: "state", t_time: "time", t_org: "unit",
    not_allowed: "{field} (not applicable)",
    summary_filters: "Filters: {v}", summary_search: "Search: {v}", summary_sort: "Sort: {v}", summary_group: "Grouped by: {v}",
    summary_page: "{n} a page", none: "none", group_sample: "(group value)", count_sample: "n in all",
    need_key: "Give the list a key", bad_key: "A key has lowercase letters, digits and _, and starts with a letter", key_taken: "There is already a list {key}",
    need_label: "Give the list a name", need_form: "Choose a form", need_column: "A list needs at least one column",
    open_list: "Open the list", loading: "Loading…", no_forms: "This pack has no form yet; make a form first",
    unknown_form: "Form {form} is not in this pack",
  },
});

const root = document.getElementById("designer");
const SYSTEM = ["state", "created_at", "updated_at"];
const ORG = "org";

/** The form's top-level fields as the list language sees them (pack manual 6.2). */
function fieldsOf(schema) {
  const out = new Map();
  for (const [key, p] of Object.entries(schema?.properties ?? {})) {
    out.set(key, {
      key, title: p.title ?? key, type: p.type, format: p.format,
      sensitive: Boolean(p["x-sensitive"]), choice: Boolean(p.enum || p.oneOf),
    });
  }
  for (const key of SYSTEM) out.set(key, { key, title: T(`sys_${key}`), type: key === "state" ? "state" : "time", system: true });
  out.set(ORG, { key: ORG, title: T("sys_org"), type: "org", system: true, filterOnly: true });
  return out;
}

/** What each part of a list may name, by field. */
const can = {
  column: (f) => !f.filterOnly,
  filter: (f) => f.system || ["string", "number", "integer", "boolean"].includes(f.type),
  search: (f) => !f.system && f.type === "string" && !f.sensitive,
  sort: (f) => !f.filterOnly && (f.system || (["string", "number", "integer", "boolean"].includes(f.type) && !f.sensitive)),
  group: (f) => f.key === "state" || (!f.system && !f.sensitive
    && (f.type === "integer" || f.type === "boolean" || (f.type === "string" && f.format !== "date-time"))),
};

function kindText(f) {
  if (f.sensitive) return T("t_sensitive");
  if (f.system) return T(`t_${f.type}`);
  if (f.choice) return T("t_choice");
  if (f.type === "string" && f.format === "date") return T("t_date");
  if (f.type === "string" && f.format === "date-time") return T("t_datetime");
  return T(`t_${f.type}`) ?? f.type;
}

const KEYWORDS = ["label", "form", "columns", "filters", "search", "sort", "group", "page_size"];

/** A list file as the designer edits it; keywords it does not know are kept as they are,
 * so that the server's check can name them. */
function fromFile(def) {
  return {
    extra: Object.fromEntries(Object.entries(def ?? {}).filter(([k]) => !KEYWORDS.includes(k))),
    label: def?.label ?? "",
    form: def?.form ?? "",
    columns: (def?.columns ?? []).map((c) => ({ field: c.field, label: c.label ?? "" })),
    filters: [...(def?.filters ?? [])],
    search: [...(def?.search ?? [])],
    sort: (def?.sort ?? ["-created_at"]).map((s) => ({ field: s.replace(/^-/, ""), desc: s.startsWith("-") })),
    group: def?.group ?? "",
    page_size: def?.page_size ?? 20,
  };
}

/** The list file: keywords in the manual's order, defaults left out where the manual allows. */
function toFile(s) {
  const out = { label: s.label, form: s.form, columns: s.columns.map((c) => (c.label ? { field: c.field, label: c.label } : { field: c.field })) };
  if (s.filters.length) out.filters = s.filters;
  if (s.search.length) out.search = s.search;
  out.sort = s.sort.map((k) => `${k.desc ? "-" : ""}${k.field}`);
  if (s.group) out.group = s.group;
  out.page_size = s.page_size;
  return { ...out, ...s.extra };
}

async function main() {
  const pack = await Pack.open(root.dataset.pack);
  const draft = new Draft(pack);
  let key = root.dataset.key || "";
  let isNew = !key;
  const forms = pack.forms();
  const state = fromFile(isNew ? null : pack.json(`lists/${key}.json`));
  if (isNew) state.form = forms[0]?.key ?? "";
  let keyTouched = false;
  let problems = [];

  const file = () => `lists/${key}.json`;
  const fields = () => fieldsOf(forms.find((f) => f.key === state.form)?.schema);
  const field = (k) => fields().get(k) ?? { key: k, title: k, type: "?" };
  // The heading a user sees: the column's label, else the field's title; system fields
  // without a label show their key, as the list page does.
  const heading = (c) => c.label || (SYSTEM.includes(c.field) ? c.field : field(c.field).title);

  let lastPath = null;
  function changed() {
    if (lastPath && lastPath !== file()) draft.remove(lastPath);
    if (key) {
      draft.set(file(), toFile(state));
      lastPath = file();
    }
    problems = [];
    renderPreview();
    markProblems();
  }

  // Head: key, name and form.
  const title = h("h1", { text: isNew ? T("title_new") : T("title_edit") });
  const keyInput = h("input", { id: "list-key", value: key, required: true, maxlength: 63, autocomplete: "off", "aria-describedby": "list-key-help" });
  const labelInput = h("input", { id: "list-label", value: state.label, required: true });
  const formSelect = h("select", { id: "list-form" },
    forms.map((f) => h("option", { value: f.key, selected: f.key === state.form, text: `${f.schema.title ?? f.key} (${f.key})` })));
  keyInput.addEventListener("input", () => { keyTouched = true; key = keyInput.value.trim(); changed(); });
  labelInput.addEventListener("input", () => {
    state.label = labelInput.value;
    if (isNew && !keyTouched) {
      const taken = new Set(pack.lists().map((l) => l.key));
      key = keyInput.value = keyFrom(state.label, taken, "list");
    }
    changed();
  });
  formSelect.addEventListener("change", () => {
    state.form = formSelect.value;
    state.columns = [];
    state.filters = [];
    state.search = [];
    state.sort = [{ field: "created_at", desc: true }];
    state.group = "";
    changed();
    renderEditor();
  });
  const formText = () => `${forms.find((f) => f.key === state.form)?.schema.title ?? state.form} (${state.form})`;
  const formName = h("span", { class: "list-form", text: formText() });
  const head = h("div", { class: "head list-head" },
    isNew
      ? h("label", { for: "list-key" }, T("key"), keyInput, h("span", { class: "help", id: "list-key-help", text: T("key_help") }))
      : h("label", {}, T("key"), h("code", { class: "list-key", text: key })),
    h("label", { for: "list-label" }, T("label"), labelInput),
    isNew ? h("label", { for: "list-form" }, T("form"), formSelect)
      : h("label", {}, T("form"), formName));

  // Preview of the table header.
  const preview = h("div", { class: "list-preview", "data-preview": "" });
  const summary = h("p", { class: "help list-summary" });
  function renderPreview() {
    const cols = state.columns;
    const groupField = state.group ? field(state.group) : null;
    const groupHeading = groupField ? (state.columns.find((c) => c.field === state.group && c.label)?.label || groupField.title) : "";
    preview.replaceChildren(h("div", {}, cols.length
      ? h("div", { class: "table-wrap" }, h("table", { class: "preview-grid" },
        h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", text: heading(c) })))),
        h("tbody", {},
          groupField ? h("tr", { class: "group-row" }, h("th", { colspan: cols.length, scope: "rowgroup" },
            h("span", { class: "group-field", text: groupHeading }), T("group_sample"), h("span", { class: "count", text: T("count_sample") }))) : null,
          h("tr", {}, cols.map(() => h("td", { text: "…" }))))))
      : h("p", { class: "empty", text: T("no_columns") }),
      cols.some((c) => SYSTEM.includes(c.field) && !c.label) ? h("p", { class: "help", text: T("system_key_shown") }) : null));
    const names = (list) => (list.length ? list.map((k) => field(k).title).join("、") : T("none"));
    summary.replaceChildren([
      T("summary_filters", { v: names(state.filters) }),
      T("summary_search", { v: names(state.search) }),
      T("summary_sort", { v: state.sort.length ? state.sort.map((s) => `${field(s.field).title}${s.desc ? "↓" : "↑"}`).join("、") : T("none") }),
      T("summary_group", { v: state.group ? field(state.group).title : T("none") }),
      T("summary_page", { n: state.page_size }),
    ].join(" · "));
  }

  // Columns: the canvas and the fields that may be added.
  const canvas = h("ul", { class: "canvas columns-canvas", "data-columns": "" });
  const palette = h("div", { class: "palette list-palette", "data-palette": "" });

  function columnItem(c, i) {
    const f = field(c.field);
    const input = h("input", { value: c.label, placeholder: SYSTEM.includes(c.field) ? c.field : f.title, "aria-label": `${T("heading")} ${f.title}`, "data-heading": c.field });
    input.addEventListener("input", () => { c.label = input.value; changed(); });
    const li = h("li", { class: "item list-column", draggable: "true", dataset: { field: c.field, pointer: `/columns/${i}` } },
      h("span", { class: "grip", "aria-hidden": "true", text: "⠿" }),
      h("span", { class: "name" }, h("span", { class: "label", text: f.title }), h("span", { class: "kind", text: `${c.field} · ${kindText(f)}` })),
      input,
      h("span", { class: "row-tools" },
        h("button", { type: "button", "aria-label": `${T("up")} ${f.title}`, title: T("up"), disabled: i === 0, text: "↑", on: { click: () => { move(state.columns, i, i - 1); changed(); renderColumns(); } } }),
        h("button", { type: "button", "aria-label": `${T("down")} ${f.title}`, title: T("down"), disabled: i === state.columns.length - 1, text: "↓", on: { click: () => { move(state.columns, i, i + 1); changed(); renderColumns(); } } }),
        h("button", { type: "button", "aria-label": `${T("remove")} ${f.title}`, title: T("remove"), text: "×", on: { click: () => { state.columns.splice(i, 1); changed(); renderColumns(); } } })));
    li.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", `col:${i}`); e.dataTransfer.effectAllowed = "move"; });
    li.addEventListener("dragover", (e) => { e.preventDefault(); li.classList.add("drop-before"); });
    li.addEventListener("dragleave", () => li.classList.remove("drop-before"));
    li.addEventListener("drop", (e) => { e.preventDefault(); e.stopPropagation(); li.classList.remove("drop-before"); dropAt(e.dataTransfer.getData("text/plain"), i); });
    return li;
  }

  /** A column dragged (`col:i`) or a field dragged from the palette (`field:key`) lands before index `to`. */
  function dropAt(what, to) {
    if (what.startsWith("col:")) {
      const from = Number(what.slice(4));
      move(state.columns, from, from < to ? to - 1 : to);
    } else if (what.startsWith("field:")) {
      const k = what.slice(6);
      if (state.columns.some((c) => c.field === k)) return;
      state.columns.splice(to, 0, newColumn(k));
    } else return;
    changed();
    renderColumns();
  }

  function newColumn(k) {
    return { field: k, label: SYSTEM.includes(k) ? T(`sys_${k}`) : "" };
  }

  canvas.addEventListener("dragover", (e) => { e.preventDefault(); canvas.classList.add("drop-target"); });
  canvas.addEventListener("dragleave", (e) => { if (e.target === canvas) canvas.classList.remove("drop-target"); });
  canvas.addEventListener("drop", (e) => { e.preventDefault(); canvas.classList.remove("drop-target"); dropAt(e.dataTransfer.getData("text/plain"), state.columns.length); });

  function renderColumns() {
    canvas.classList.remove("drop-target");
    canvas.replaceChildren(...state.columns.map(columnItem));
    if (!state.columns.length) canvas.append(h("li", { class: "empty", text: T("no_columns") }));
    const used = new Set(state.columns.map((c) => c.field));
    const free = [...fields().values()].filter((f) => can.column(f) && !used.has(f.key));
    palette.replaceChildren(...free.map((f) => {
      const b = h("button", { type: "button", draggable: "true", dataset: { add: f.key }, title: `${f.key} · ${kindText(f)}` },
        "+ ", f.title, f.system ? h("span", { class: "kind", text: ` · ${T("system")}` }) : null);
      b.addEventListener("click", () => { state.columns.push(newColumn(f.key)); changed(); renderColumns(); });
      b.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", `field:${f.key}`); e.dataTransfer.effectAllowed = "copy"; });
      return b;
    }));
    if (!free.length) palette.append(h("p", { class: "help", text: T("all_added") }));
    renderPreview();
    markProblems();
  }

  // Filters and search: a chip per suitable field, in the form's order; a chosen field that
  // does not fit (from the JSON tab or an older file) stays listed so it can be removed.
  const filterChips = h("div", { class: "chips", "data-filters": "" });
  const searchChips = h("div", { class: "chips", "data-search": "" });
  function chips(box, list, allowed, name) {
    const all = [...fields().values()].filter(allowed).map((f) => f.key);
    for (const k of list) if (!all.includes(k)) all.push(k);
    box.replaceChildren(...all.map((k) => {
      const f = field(k);
      const at = list.indexOf(k);
      const input = h("input", { type: "checkbox", checked: at >= 0, value: k, name });
      input.addEventListener("change", () => {
        const i = list.indexOf(k);
        if (input.checked && i < 0) list.push(k);
        if (!input.checked && i >= 0) list.splice(i, 1);
        changed();
        renderQuery();
      });
      const text = allowed(f) ? f.title : T("not_allowed", { field: f.title });
      return h("label", { dataset: at >= 0 ? { pointer: `/${name}/${at}` } : {}, title: `${k} · ${kindText(f)}` }, input, text);
    }));
    if (!all.length) box.append(h("p", { class: "help", text: T("no_search_fields") }));
  }

  // Sort keys: field, direction, ↑ ↓ ×.
  const sortList = h("ol", { class: "sort-list", "data-sort": "" });
  function fieldSelect(value, allowed, label) {
    const all = [...fields().values()].filter(allowed);
    const options = all.map((f) => h("option", { value: f.key, selected: f.key === value, text: f.title }));
    if (value && !all.some((f) => f.key === value)) options.unshift(h("option", { value, selected: true, text: T("not_allowed", { field: field(value).title }) }));
    return h("select", { "aria-label": label }, options);
  }
  function renderSort() {
    sortList.replaceChildren(...state.sort.map((s, i) => {
      const pick = fieldSelect(s.field, can.sort, `${T("sort")} ${i + 1}`);
      pick.addEventListener("change", () => { s.field = pick.value; changed(); });
      const dir = h("select", { "aria-label": `${T("sort")} ${i + 1} ${T("desc")}` },
        h("option", { value: "asc", selected: !s.desc, text: T("asc") }), h("option", { value: "desc", selected: s.desc, text: T("desc") }));
      dir.addEventListener("change", () => { s.desc = dir.value === "desc"; changed(); });
      return h("li", { dataset: { pointer: `/sort/${i}` } }, pick, dir,
        h("span", { class: "row-tools" },
          h("button", { type: "button", title: T("up"), "aria-label": T("up"), disabled: i === 0, text: "↑", on: { click: () => { move(state.sort, i, i - 1); changed(); renderSort(); } } }),
          h("button", { type: "button", title: T("down"), "aria-label": T("down"), disabled: i === state.sort.length - 1, text: "↓", on: { click: () => { move(state.sort, i, i + 1); changed(); renderSort(); } } }),
          h("button", { type: "button", title: T("remove"), "aria-label": T("remove"), text: "×", on: { click: () => { state.sort.splice(i, 1); changed(); renderSort(); } } })));
    }));
    markProblems();
  }
  const addSort = h("button", { type: "button", "data-add-sort": "", text: `+ ${T("add_sort")}` });
  addSort.addEventListener("click", () => {
    const used = new Set(state.sort.map((s) => s.field));
    const next = [...fields().values()].find((f) => can.sort(f) && !used.has(f.key));
    if (!next) return;
    state.sort.push({ field: next.key, desc: false });
    changed();
    renderSort();
  });

  const groupBox = h("div", { class: "group-pick" });
  const pageSize = h("input", { id: "list-page-size", type: "number", min: 1, max: 500, step: 1, value: state.page_size, dataset: { pointer: "/page_size" } });
  pageSize.addEventListener("input", () => { state.page_size = pageSize.value === "" ? 0 : Number(pageSize.value); changed(); });

  function renderQuery() {
    chips(filterChips, state.filters, can.filter, "filters");
    chips(searchChips, state.search, can.search, "search");
    renderSort();
    const g = fieldSelect(state.group, can.group, T("group"));
    g.id = "list-group";
    g.prepend(h("option", { value: "", selected: !state.group, text: T("group_none") }));
    g.dataset.pointer = "/group";
    g.addEventListener("change", () => { state.group = g.value; changed(); });
    groupBox.replaceChildren(g);
    pageSize.value = state.page_size;
    markProblems();
  }

  function renderEditor() {
    renderColumns();
    renderQuery();
  }

  // The server's problems of this file, shown on the parts they name.
  function markProblems() {
    for (const el of root.querySelectorAll(".has-problem")) el.classList.remove("has-problem");
    for (const p of problems) {
      if (p.file !== file()) continue;
      const parts = p.pointer.split("/");
      const at = parts[1] === "columns" ? `/columns/${parts[2]}` : parts.slice(0, 3).join("/");
      for (const el of root.querySelectorAll(`[data-pointer="${CSS.escape(at)}"]`)) el.classList.add("has-problem");
    }
  }

  // The JSON tab: the file as text, applied back to the design.
  const jsonText = h("textarea", { class: "json-view", spellcheck: "false", "aria-label": T("json"), "data-json": "" });
  const jsonError = h("p", { class: "alert", hidden: true, role: "alert" });
  const applyJson = h("button", { type: "button", class: "primary", "data-apply-json": "", text: T("apply_json") });
  const designPane = h("div", { class: "design-pane" });
  const jsonPane = h("section", { class: "json-pane", hidden: true },
    h("p", { class: "help", text: T("json_help") }), jsonText, jsonError, h("div", { class: "tools" }, applyJson));
  const tabDesign = h("button", { type: "button", role: "tab", "aria-selected": "true", text: T("design") });
  const tabJson = h("button", { type: "button", role: "tab", "aria-selected": "false", "data-tab-json": "", text: T("json") });
  function showTab(json) {
    tabDesign.setAttribute("aria-selected", String(!json));
    tabJson.setAttribute("aria-selected", String(json));
    designPane.hidden = json;
    jsonPane.hidden = !json;
    if (json) {
      jsonText.value = JSON.stringify(toFile(state), null, 2);
      jsonError.hidden = true;
    }
  }
  tabDesign.addEventListener("click", () => showTab(false));
  tabJson.addEventListener("click", () => showTab(true));
  applyJson.addEventListener("click", () => {
    let parsed;
    try {
      parsed = JSON.parse(jsonText.value);
    } catch (e) {
      jsonError.textContent = T("json_bad", { reason: e.message });
      jsonError.hidden = false;
      return;
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      jsonError.textContent = T("json_not_list");
      jsonError.hidden = false;
      return;
    }
    Object.assign(state, fromFile(parsed));
    labelInput.value = state.label;
    formSelect.value = state.form;
    formName.textContent = formText();
    changed();
    renderEditor();
    showTab(false);
  });

  const validate = () => {
    const found = [];
    const at = (pointer, reason) => found.push({ file: file(), pointer, reason });
    if (!key) at("", T("need_key"));
    else if (!isKey(key)) at("", T("bad_key"));
    else if (isNew && pack.files[file()] !== undefined) at("", T("key_taken", { key }));
    if (!state.label.trim()) at("/label", T("need_label"));
    if (!state.form) at("/form", T("need_form"));
    else if (!forms.some((f) => f.key === state.form)) at("/form", T("unknown_form", { form: state.form }));
    if (!state.columns.length) at("/columns", T("need_column"));
    return found;
  };

  const opened = h("p", { class: "list-opened", hidden: true });
  const bar = publishBar(draft, {
    file: file(),
    validate,
    onChecked: (result) => { problems = result.problems ?? []; markProblems(); },
    onPublished: async () => {
      opened.replaceChildren(h("a", { class: "button", href: `/lists/${encodeURIComponent(key)}`, "data-open-list": "", text: `${T("open_list")} →` }));
      opened.hidden = false;
      // Later edits start from what was just published.
      const fresh = await Pack.open(pack.id);
      Object.assign(pack, fresh);
      draft.pack = pack;
      draft.files = {};
      draft.deleted = new Set();
      draft.changed();
      if (isNew) {
        isNew = false;
        keyInput.disabled = true;
        title.textContent = T("title_edit");
        history.replaceState(null, "", `/designer/${encodeURIComponent(pack.id)}/lists/${encodeURIComponent(key)}`);
      }
    },
  });

  designPane.append(
    h("section", { class: "card preview-card" }, h("h2", { text: T("preview") }), h("p", { class: "help", text: T("preview_help") }), preview, summary),
    h("div", { class: "design-grid two list-grid" },
      h("section", { "aria-labelledby": "h-columns" },
        h("h2", { id: "h-columns", text: T("columns") }), h("p", { class: "help", text: T("columns_help") }),
        canvas,
        h("h3", { text: T("add_column") }), palette),
      h("section", { class: "props list-props" },
        h("h2", { text: T("filters") }), h("p", { class: "help", text: T("filters_help") }), filterChips,
        h("h2", { text: T("search") }), h("p", { class: "help", text: T("search_help") }), searchChips,
        h("h2", { text: T("sort") }), h("p", { class: "help", text: T("sort_help") }), sortList, addSort,
        h("h2", {}, h("label", { for: "list-group", text: T("group") })), h("p", { class: "help", text: T("group_help") }), groupBox,
        h("h2", {}, h("label", { for: "list-page-size", text: T("page_size") })), h("p", { class: "help", text: T("page_size_help") }), pageSize)));

  root.replaceChildren(h("div", {},
    h("div", { class: "titlebar" }, title, opened),
    head,
    forms.length ? null : h("p", { class: "alert", text: T("no_forms") }),
    h("div", { class: "tabs", role: "tablist" }, tabDesign, tabJson),
    designPane, jsonPane, bar));
  renderEditor();
}

main().catch((e) => {
  root.replaceChildren(h("p", { class: "alert", text: e.message }));
});
