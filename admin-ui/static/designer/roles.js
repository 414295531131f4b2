// The roles designer (/designer/{pack}/roles): the pack's roles.toml as a matrix of roles ×
// forms × actions, each role's label and data scope, adding and removing roles, and the
// tenant's users who hold each role. Grants are edited as the JSON of roles.toml and
// published with the shared publish bar (server check, diff, install as the pack's next
// version; the tenant's policies are reloaded at once, no restart). Beside each row the
// workflow steps the role gets from the transitions that name it are shown read-only, since
// those are granted by the workflow, not here (pack format 5.4, 7.4).
//
// Wildcards, kept exact: a grant `["*"]` (every action) shows all boxes ticked; unticking one
// action writes the remaining form actions explicitly. A form key `"*"` (every form of this
// pack) is edited in its own block; in each form's block the boxes it covers show ticked and
// locked, with a note. Users' roles (the last section) change at once through the admin API;
// they need no publishing, and only roles already published can be given to users.
import { lang, tr, h, api, Pack, Draft, publishBar, isKey } from "./common.js";

const T = tr({
  zh: {
    title: "角色与权限", intro: "勾选每个角色在各表单上可以做的操作，并为角色设定数据范围。流程操作（提交、审核等）由流程的流转授予点名的角色，这里只读显示。发布后新的权限立即生效，无需重启。",
    wildcard_help: "「全部操作 *」包括以后新增的操作；取消其中一项时，其余操作会逐项写出。「全部表单 *」的授权对本包每个表单生效，在各表单中显示为已勾选且不可单独取消，需在「全部表单」中修改。",
    admin_note: "内置角色 admin（系统管理员）：全部表单、全部操作、范围为全部，由系统提供，表单包不能修改。",
    matrix: "权限矩阵", role: "角色", all_actions: "全部 *", wf: "流程操作（由流程授予，只读）",
    all_forms: "全部表单 *", all_forms_help: "对本包的每个表单生效（包括以后新增的表单）。",
    no_forms: "本表单包还没有表单；先在表单设计器中新建表单，再来分配权限。",
    no_roles: "还没有角色。请在「角色」中添加第一个角色。", no_roles_here: "还没有角色。在下面添加第一个角色。",
    from_all_forms: "由「全部表单 *」授予；请在「全部表单」中修改",
    edits_in: "可编辑：{states}", none: "—", wf_of: "流程 {wf}",
    needs_read: "在流程中办理或编辑，但没有「查看」权限，将看不到记录",
    needs_update: "可在「{state}」编辑，但没有「修改」权限",
    unknown_actions: "无效的操作：{list}（检查会报错）",
    unknown_forms: "roles.toml 为不存在的表单授权：", drop_grant: "删除此授权",
    roles: "角色", key: "键", label: "名称", scope: "数据范围", remove: "删除角色",
    holders: "持有此角色的用户", no_holders: "暂无用户", and_more: "等 {n} 人",
    workflow_names: "流程中用到了这个角色：{refs}。删除后检查将不通过，需先修改流程。",
    remove_anyway: "仍然删除", keep: "保留",
    removed: "已删除（未发布）：{key}", undo: "撤销",
    add_role: "添加角色", add: "添加", key_hint: "小写字母开头，只含小写字母、数字和下划线，如 auditor",
    key_required: "请填写角色的键", key_invalid: "「{key}」不是有效的键：须以小写字母开头，只含小写字母、数字和下划线（最多 63 个字符）",
    key_admin: "admin 是每个单位内置的系统管理员角色，表单包不能重新定义；请换一个键",
    key_taken: "已有角色「{key}」", label_required: "请填写角色名称",
    role_added: "已添加角色 {key}，发布后生效",
    scope_own: "本人", scope_org: "本单位", scope_org_tree: "本单位及下级", scope_tenant: "全部",
    scope_help_own: "只看自己创建的记录", scope_help_org: "看本单位的记录", scope_help_org_tree: "看本单位及所有下级单位的记录", scope_help_tenant: "看本租户的全部记录",
    act_read: "查看", act_create: "新建", act_update: "修改", act_delete: "删除", act_unmask: "查看敏感信息", act_export: "导出", act_import: "导入", act_design: "设计",
    active: "权限已生效：新的权限策略已加载，用户的下一次操作即按新权限执行，无需重启。",
    users: "用户与角色", users_help: "勾选即刻为用户授予或取消角色（立即生效，不需要发布）。修改所属单位、锁定或重置密码请到用户管理。",
    search: "搜索用户名或姓名", search_btn: "搜索", user: "用户", unit: "所属单位", user_roles: "角色", other_roles: "其他角色：{list}",
    edit_user: "在用户管理中编辑", manage_users: "用户管理", manage_org: "组织机构", no_users: "没有匹配的用户",
    locked: "已锁定", prev: "上一页", next: "下一页", page_of: "第 {page} / {pages} 页，共 {total} 人",
    unpublished_role: "发布后才能分配此角色", saved_roles: "已更新 {user} 的角色，立即生效", loading: "正在加载…",
    roles_unreadable: "roles.toml 无法读取，下面从空白开始；发布将覆盖原文件。",
    problem_here: "检查发现问题", unsaved_leave: "有未发布的修改",
  },
  en: {
    title: "Roles and permissions", intro: "Tick what each role may do on each form and set how far each role sees. Workflow steps (submit, approve …) are granted by the workflow's transitions to the roles they name; they are shown here read-only. Once published, the new permissions apply at once, with no restart.",
    wildcard_help: "“All *” includes actions added later; unticking one of them writes the remaining actions out one by one. A grant under “All forms *” applies to every form of this pack: in each form it shows ticked and locked, and is changed under “All forms”.",
    admin_note: "The built-in role admin (administrator): every action on every form, scope tenant; provided by the system, a pack cannot change it.",
    matrix: "Permission matrix", role: "Role", all_actions: "All *", wf: "Workflow steps (granted by the workflow, read-only)",
    all_forms: "All forms *", all_forms_help: "Applies to every form of this pack, including forms added later.",
    no_forms: "This pack has no forms yet; create one in the form designer, then grant it here.",
    no_roles: "No roles yet. Add the first one under “Roles”.", no_roles_here: "No roles yet. Add the first one below.",
    from_all_forms: "Granted by “All forms *”; change it there",
    edits_in: "edits in: {states}", none: "—", wf_of: "workflow {wf}",
    needs_read: "acts or edits in the workflow but lacks read, so it sees no records",
    needs_update: "may edit in “{state}” but lacks update",
    unknown_actions: "unknown actions: {list} (the check refuses them)",
    unknown_forms: "roles.toml grants forms that are not in this pack:", drop_grant: "Remove this grant",
    roles: "Roles", key: "Key", label: "Name", scope: "Data scope", remove: "Remove role",
    holders: "Users holding this role", no_holders: "No users", and_more: "and {n} more",
    workflow_names: "The workflow names this role: {refs}. Removing it fails the check until the workflow is changed.",
    remove_anyway: "Remove anyway", keep: "Keep",
    removed: "Removed (not published): {key}", undo: "Undo",
    add_role: "Add a role", add: "Add", key_hint: "Starts with a lowercase letter; lowercase letters, digits and underscores, e.g. auditor",
    key_required: "Give the role a key", key_invalid: "“{key}” is not a valid key: it must start with a lowercase letter and contain only lowercase letters, digits and underscores (at most 63 characters)",
    key_admin: "admin is the administrator role built into every tenant; a pack cannot redefine it. Choose another key",
    key_taken: "There is already a role “{key}”", label_required: "Give the role a name",
    role_added: "Role {key} added; it takes effect once published",
    scope_own: "Own", scope_org: "Own unit", scope_org_tree: "Unit and below", scope_tenant: "Everything",
    scope_help_own: "sees the records the user created", scope_help_org: "sees the records of the user's unit", scope_help_org_tree: "sees the records of the user's unit and every unit below it", scope_help_tenant: "sees every record of the tenant",
    act_read: "Read", act_create: "Create", act_update: "Update", act_delete: "Delete", act_unmask: "Unmask", act_export: "Export", act_import: "Import", act_design: "Design",
    active: "The permissions are active: the new policies are loaded and apply to every user's next request, with no restart.",
    users: "Users and roles", users_help: "Ticking gives or takes a role at once (no publishing needed). To change a user's unit, lock them or reset a password, use user administration.",
    search: "Search username or name", search_btn: "Search", user: "User", unit: "Unit", user_roles: "Roles", other_roles: "Other roles: {list}",
    edit_user: "Edit in user administration", manage_users: "User administration", manage_org: "Organisation", no_users: "No matching users",
    locked: "locked", prev: "Previous", next: "Next", page_of: "Page {page} of {pages}, {total} users",
    unpublished_role: "Publish first to give this role to users", saved_roles: "{user}'s roles updated, effective now", loading: "Loading…",
    roles_unreadable: "roles.toml cannot be read; starting from empty below, and publishing replaces the file.",
    problem_here: "The check found a problem", unsaved_leave: "Unpublished changes",
  },
});

const root = document.getElementById("designer");
const packId = root.dataset.pack;
const FILE = "roles.toml";
const clone = (v) => JSON.parse(JSON.stringify(v));
const SEP = lang === "en" ? ", " : "、";
const paren = (x) => (lang === "en" ? ` (${x})` : `（${x}）`);
/** The roles as comparable text: the same roles in another order compare equal. */
const canon = () => JSON.stringify(Object.keys(roles).sort().map((k) => [k, roles[k].label, roles[k].scope,
  Object.keys(roles[k].grants ?? {}).sort().map((f) => [f, roles[k].grants[f]])]));

let pack, draft, FORM_ACTIONS, SCOPES;
let roles = {};            // key → {label, scope, grants}, the draft
let baseline = "";         // canon() of the roles as published
let removed = [];          // [{key, def}] published roles removed since, for undo
let published = new Set(); // role keys as published
let confirming = null;     // key of a role whose removal awaits confirmation
let tenantRoles = new Set(); // roles users can be given now (published)
let allUsers = [];         // every user, for the holders of each role
let problemsByRole = {};   // role → [reasons] from the last check
const userQuery = { q: "", page: 1 };
let usersDrawnFor = null;  // the role keys the user rows were drawn with

const ui = {};

// ---- grants ---------------------------------------------------------------------------

function list(role, form) { return roles[role]?.grants?.[form] ?? []; }
function grants(role, form, action) {
  const l = list(role, form);
  return l.includes("*") || l.includes(action);
}
/** Whether the `"*"` form key covers `action` for `role`. */
function viaAllForms(role, action) { return grants(role, "*", action); }

function order(actions) {
  const idx = (a) => { const i = FORM_ACTIONS.indexOf(a); return i < 0 ? 1e3 : i; };
  return [...new Set(actions)].sort((a, b) => idx(a) - idx(b));
}

/** Ticks or unticks one action (or `*`) of a role on a form key (or `*`). */
function setGrant(role, form, action, on) {
  const def = roles[role];
  def.grants ??= {};
  let l = list(role, form);
  if (action === "*") l = on ? ["*"] : [];
  else if (l.includes("*")) l = on ? l : FORM_ACTIONS.filter((a) => a !== action);
  else l = on ? order([...l, action]) : l.filter((a) => a !== action);
  if (l.length) def.grants[form] = l; else delete def.grants[form];
  sync();
}

// ---- roles.toml -------------------------------------------------------------------------
// The draft sends the roles as JSON; the server writes them into roles.toml in place
// (toml_edit: comments, the order of roles and grants and each role's grants style stay), so
// the diff before publishing shows only what the admin changed.

const HEADER = /^\s*\[\s*roles\s*\.\s*(?:"([^"]+)"|([A-Za-z0-9_-]+))\s*(?:\.\s*grants\s*)?\]\s*(?:#.*)?$/;

/** Role keys in the order roles.toml lists them (the JSON comes sorted by key). */
function roleOrder(text) {
  const order = [];
  for (const line of String(text ?? "").split(/\r?\n/)) {
    const m = HEADER.exec(line);
    const key = m && (m[1] ?? m[2]);
    if (key && !order.includes(key)) order.push(key);
  }
  return order;
}

// ---- the workflow's view of a role ------------------------------------------------------

function workflowOf(schema) {
  const key = schema?.["x-workflow"];
  return key ? { key, def: pack.json(`workflows/${key}.json`) } : null;
}

const asList = (v) => (Array.isArray(v) ? v : v ? [v] : []);

/** What the form's workflow gives `role`: steps `[{action, labels}]` and states it edits in. */
function workflowFor(role, wf) {
  const steps = new Map();
  for (const t of wf?.def?.transitions ?? []) {
    if (!asList(t.roles).includes(role)) continue;
    const s = steps.get(t.action) ?? { action: t.action, labels: [] };
    if (t.label && !s.labels.includes(t.label)) s.labels.push(t.label);
    steps.set(t.action, s);
  }
  const edits = (wf?.def?.states ?? []).filter((s) => asList(s.edit?.roles).includes(role));
  return { steps: [...steps.values()], edits };
}

/** Where any workflow of the pack names `role`, as readable strings. */
function workflowRefs(role) {
  const refs = [];
  const inAccess = (fields, where) => {
    for (const [f, a] of Object.entries(fields ?? {})) {
      if (asList(a?.visible).includes(role) || asList(a?.required).includes(role)) refs.push(`${where}${f}`);
    }
  };
  for (const { key, def } of pack.workflows()) {
    for (const t of def.transitions ?? []) {
      if (asList(t.roles).includes(role) || asList(t.countersign?.roles).includes(role)) refs.push(`${key}: ${t.label ?? t.action} (${t.action})`);
    }
    for (const s of def.states ?? []) {
      if (asList(s.edit?.roles).includes(role)) refs.push(`${key}: ${s.label ?? s.key} (edit)`);
      inAccess(s.fields, `${key}: ${s.label ?? s.key} · `);
    }
    inAccess(def.fields, `${key}: `);
  }
  return [...new Set(refs)];
}

// ---- drawing ----------------------------------------------------------------------------

/** Re-renders `fn`'s part of the page, keeping the focus on the same control. */
function redraw(fn) {
  const focus = document.activeElement?.dataset?.focus;
  fn();
  if (focus) document.querySelector(`[data-focus="${CSS.escape(focus)}"]`)?.focus();
}

/** Puts the roles into the draft, or takes roles.toml out of it when nothing changed. */
function toDraft() {
  if (canon() === baseline) {
    delete draft.files[FILE];
    draft.changed();
  } else {
    draft.set(FILE, { roles });
  }
}

function sync() {
  toDraft();
  redraw(drawAll);
  if (usersDrawnFor !== roleKeys().join()) drawUsers();
}

function drawAll() {
  drawMatrix();
  drawRoles();
}

const actionName = (a) => (a === "*" ? T("all_actions") : T(`act_${a}`));
const roleKeys = () => Object.keys(roles);

function roleHead(key) {
  return h("th", { scope: "row" },
    h("span", { class: "role-label", text: roles[key].label || key }),
    h("code", { class: "role-key", text: key }));
}

function matrixTable(form, wf) {
  const isAll = form === "*";
  const cols = ["*", ...FORM_ACTIONS];
  const head = h("tr", {}, h("th", { scope: "col", class: "corner", text: T("role") }),
    cols.map((a) => h("th", { scope: "col" }, h("span", { text: actionName(a) }), a === "*" ? null : h("code", { text: a }))),
    isAll ? null : h("th", { scope: "col", class: "wf-col", text: T("wf") }));
  const rows = roleKeys().map((role) => {
    const cells = cols.map((a) => {
      const locked = !isAll && viaAllForms(role, a);
      const checked = locked || (a === "*" ? list(role, form).includes("*") : grants(role, form, a));
      const id = `${form}:${role}:${a}`;
      return h("td", { class: locked ? "locked" : null, title: locked ? T("from_all_forms") : null },
        h("input", {
          type: "checkbox", checked,
          disabled: locked, "aria-label": `${roles[role].label || role}: ${actionName(a)}`,
          dataset: { role, form, action: a, focus: id },
          on: { change: (e) => setGrant(role, form, a, e.target.checked) },
        }));
    });
    let wfCell = null;
    if (!isAll) {
      const { steps, edits } = workflowFor(role, wf);
      const notes = [];
      const reads = grants(role, form, "read") || viaAllForms(role, "read");
      if ((steps.length || edits.length) && !reads) notes.push(T("needs_read"));
      const updates = grants(role, form, "update") || viaAllForms(role, "update");
      for (const s of edits) if (!updates) notes.push(T("needs_update", { state: s.label ?? s.key }));
      const unknown = list(role, form).filter((a) => a !== "*" && !FORM_ACTIONS.includes(a));
      if (unknown.length) notes.push(T("unknown_actions", { list: unknown.join(", ") }));
      wfCell = h("td", { class: "wf", dataset: { wf: role } },
        steps.length ? steps.map((s, i) => [i ? SEP : null, h("span", { class: "wf-step", title: s.action }, s.labels.join("/") || s.action, " ", h("code", { text: s.action }))]) : null,
        edits.length ? h("div", { class: "help", text: T("edits_in", { states: edits.map((s) => s.label ?? s.key).join(SEP) }) }) : null,
        !steps.length && !edits.length ? T("none") : null,
        notes.map((n) => h("div", { class: "warn", text: `⚠ ${n}` })));
    } else {
      const unknown = list(role, "*").filter((a) => a !== "*" && !FORM_ACTIONS.includes(a));
      if (unknown.length) cells.push(h("td", { class: "warn", text: T("unknown_actions", { list: unknown.join(", ") }) }));
    }
    return h("tr", { dataset: { row: role } }, roleHead(role), cells, wfCell);
  });
  return h("div", { class: isAll ? "matrix-wrap all-forms" : "matrix-wrap", tabindex: "0", role: "region", "aria-label": isAll ? T("all_forms") : form },
    h("table", { class: "matrix roles-matrix", dataset: { form } }, h("thead", {}, head), h("tbody", {}, rows)));
}

function drawMatrix() {
  const forms = pack.forms();
  const out = [h("h2", { id: "matrix-h", text: T("matrix") }), h("p", { class: "help", text: T("wildcard_help") })];
  if (!forms.length) out.push(h("p", { class: "empty", "data-empty": "forms", text: T("no_forms") }));
  else if (!roleKeys().length) out.push(h("p", { class: "empty", "data-empty": "roles", text: T("no_roles") }));
  else {
    for (const { key, schema } of forms) {
      const wf = workflowOf(schema);
      out.push(h("div", { class: "form-block", dataset: { formBlock: key } },
        h("h3", {}, schema.title ?? key, " ", h("code", { text: key }),
          wf ? h("small", { class: "help", text: ` · ${T("wf_of", { wf: wf.def?.label ?? wf.key })}` }) : null),
        matrixTable(key, wf)));
    }
    out.push(h("div", { class: "form-block", dataset: { formBlock: "*" } },
      h("h3", {}, T("all_forms")), h("p", { class: "help", text: T("all_forms_help") }), matrixTable("*", null)));
    // Grants for forms the pack does not have: the check refuses them; offer to drop them.
    const known = new Set(forms.map((f) => f.key));
    const stray = roleKeys().flatMap((r) => Object.keys(roles[r].grants ?? {}).filter((f) => f !== "*" && !known.has(f)).map((f) => [r, f]));
    if (stray.length) {
      out.push(h("div", { class: "notice" }, h("p", { text: T("unknown_forms") }),
        h("ul", {}, stray.map(([r, f]) => h("li", {}, h("code", { text: `${r} → ${f}` }), " ",
          h("button", { type: "button", class: "link danger", text: T("drop_grant"), on: { click: () => { delete roles[r].grants[f]; sync(); } } }))))));
    }
  }
  ui.matrix.replaceChildren(...out);
}

function scopeSelect(value, attrs) {
  return h("select", attrs, SCOPES.map((s) => h("option", { value: s, selected: s === value || null, text: `${T(`scope_${s}`)}${paren(s)}` })));
}

function holdersOf(role) {
  const held = allUsers.filter((u) => u.roles?.includes(role));
  if (!held.length) return h("p", { class: "empty help", text: T("no_holders") });
  const shown = held.slice(0, 6);
  return h("p", { class: "holders" },
    shown.map((u, i) => [i ? SEP : null, h("span", { title: u.username }, u.display_name || u.username, h("small", { text: paren(u.unit_name || u.unit) }))]),
    held.length > shown.length ? ` ${T("and_more", { n: held.length })}` : null);
}

function roleCard(key) {
  const def = roles[key];
  const label = h("input", {
    value: def.label ?? "", required: true, dataset: { label: key, focus: `label:${key}` },
    "aria-invalid": def.label?.trim() ? null : "true",
    on: {
      input: (e) => {
        def.label = e.target.value;
        if (def.label.trim()) e.target.removeAttribute("aria-invalid"); else e.target.setAttribute("aria-invalid", "true");
        toDraft();
        for (const el of document.querySelectorAll(`tr[data-row="${CSS.escape(key)}"] .role-label`)) el.textContent = def.label || key;
      },
    },
  });
  const scopeHelp = h("p", { class: "help", text: T(`scope_help_${def.scope}`) });
  const scope = scopeSelect(def.scope, {
    dataset: { scope: key, focus: `scope:${key}` },
    on: { change: (e) => { def.scope = e.target.value; sync(); } },
  });
  const id = (s) => `role-${key}-${s}`;
  label.id = id("label");
  scope.id = id("scope");
  const refs = confirming === key ? workflowRefs(key) : [];
  const problems = problemsByRole[key] ?? [];
  return h("li", { class: `role-card${problems.length ? " has-problem" : ""}`, dataset: { roleCard: key } },
    h("div", { class: "role-card-head" }, h("code", { class: "role-key", text: key }),
      h("button", { type: "button", class: "link danger", text: T("remove"), dataset: { removeRole: key, focus: `remove:${key}` }, on: { click: () => askRemove(key) } })),
    h("label", { for: id("label"), text: T("label") }), label,
    h("label", { for: id("scope"), text: T("scope") }), scope, scopeHelp,
    refs.length ? h("div", { class: "alert", role: "alert", "data-remove-warning": key },
      h("p", { text: T("workflow_names", { refs: refs.join(lang === "en" ? "; " : "；") }) }),
      h("div", { class: "tools" },
        h("button", { type: "button", text: T("remove_anyway"), dataset: { confirmRemove: key }, on: { click: () => removeRole(key) } }),
        h("button", { type: "button", text: T("keep"), on: { click: () => { confirming = null; redraw(drawRoles); } } }))) : null,
    problems.length ? h("ul", { class: "problems" }, problems.map((p) => h("li", { class: "fw-error", text: p }))) : null,
    h("div", { class: "help", text: T("holders") }), holdersOf(key));
}

function askRemove(key) {
  if (workflowRefs(key).length && confirming !== key) {
    confirming = key;
    redraw(drawRoles);
    document.querySelector(`[data-confirm-remove="${CSS.escape(key)}"]`)?.focus();
    return;
  }
  removeRole(key);
}

function removeRole(key) {
  confirming = null;
  if (published.has(key)) removed.push({ key, def: roles[key] });
  delete roles[key];
  sync();
}

function undoRemove(key) {
  const i = removed.findIndex((r) => r.key === key);
  if (i < 0) return;
  const [{ def }] = removed.splice(i, 1);
  if (!(key in roles)) roles[key] = def;
  sync();
}

function addForm() {
  const err = h("p", { class: "fw-error", role: "alert", "data-add-error": "", hidden: true });
  const ok = h("p", { class: "help", role: "status", "data-add-ok": "" });
  const key = h("input", { id: "new-role-key", autocomplete: "off", spellcheck: "false", placeholder: "auditor", "aria-describedby": "new-role-key-hint", dataset: { newRole: "key", focus: "new:key" } });
  const label = h("input", { id: "new-role-label", placeholder: lang === "en" ? "Auditor" : "审计员", dataset: { newRole: "label", focus: "new:label" } });
  const scope = scopeSelect("own", { id: "new-role-scope", dataset: { newRole: "scope", focus: "new:scope" } });
  const fail = (text, field) => {
    err.textContent = text;
    err.hidden = false;
    ok.textContent = "";
    field.setAttribute("aria-invalid", "true");
    field.focus();
  };
  const submit = (e) => {
    e.preventDefault();
    key.removeAttribute("aria-invalid");
    label.removeAttribute("aria-invalid");
    const k = key.value.trim();
    if (!k) return fail(T("key_required"), key);
    if (k === "admin") return fail(T("key_admin"), key);
    if (!isKey(k)) return fail(T("key_invalid", { key: k }), key);
    if (k in roles) return fail(T("key_taken", { key: k }), key);
    if (!label.value.trim()) return fail(T("label_required"), label);
    err.hidden = true;
    roles[k] = { label: label.value.trim(), scope: scope.value, grants: {} };
    removed = removed.filter((r) => r.key !== k);
    key.value = "";
    label.value = "";
    ok.textContent = T("role_added", { key: k });
    document.querySelector(`[data-row="${CSS.escape(k)}"]`)?.scrollIntoView?.({ block: "nearest" });
    sync();
  };
  return h("form", { class: "add-role", "data-add-role": "", novalidate: true, on: { submit } },
    h("h3", { text: T("add_role") }),
    h("label", { for: "new-role-key", text: T("key") }), key,
    h("p", { class: "help", id: "new-role-key-hint", text: T("key_hint") }),
    h("label", { for: "new-role-label", text: T("label") }), label,
    h("label", { for: "new-role-scope", text: T("scope") }), scope,
    err,
    h("div", { class: "tools" }, h("button", { type: "submit", text: T("add"), dataset: { focus: "new:add" } })),
    ok);
}

function drawRoles() {
  const keys = roleKeys();
  ui.roleList.replaceChildren(...(keys.length ? keys.map(roleCard) : [h("li", { class: "empty", "data-empty": "roles", text: T("no_roles_here") })]),
    h("li", { class: "role-card add" }, ui.addForm));
  ui.removed.replaceChildren(...removed.map(({ key }) => h("p", { class: "notice", "data-removed": key },
    T("removed", { key }), " ", h("button", { type: "button", class: "link", text: T("undo"), on: { click: () => undoRemove(key) } }))));
}

// ---- users ------------------------------------------------------------------------------

async function loadAllUsers() {
  const out = [];
  for (let page = 1; page <= 40; page++) {
    const r = await api("GET", `/api/v1/admin/users?page=${page}`);
    if (!r.ok) break;
    out.push(...(r.body.items ?? []));
    if (out.length >= (r.body.total ?? 0) || !(r.body.items ?? []).length) break;
  }
  allUsers = out;
}

async function loadTenantRoles() {
  const r = await api("GET", "/api/v1/admin/org");
  if (r.ok) tenantRoles = new Set((r.body.roles ?? []).map((x) => x.key));
}

async function toggleUserRole(user, role, on, box) {
  const next = on ? [...new Set([...user.roles, role])] : user.roles.filter((x) => x !== role);
  box.disabled = true;
  const r = await api("PUT", `/api/v1/admin/users/${encodeURIComponent(user.id)}/roles`, { roles: next });
  box.disabled = false;
  if (!r.ok) {
    box.checked = !on;
    ui.userStatus.replaceChildren(h("p", { class: "alert", text: r.body?.error?.message ?? r.body?.error?.fields?.[0]?.message ?? String(r.status) }));
    return;
  }
  const updated = r.body.user ?? { ...user, roles: next };
  Object.assign(user, updated);
  const inAll = allUsers.find((u) => u.id === user.id);
  if (inAll) Object.assign(inAll, updated); else allUsers.push(updated);
  ui.userStatus.replaceChildren(h("p", { class: "notice ok", "data-user-saved": user.username, text: T("saved_roles", { user: user.display_name || user.username }) }));
  redraw(drawRoles);
}

function userRow(u) {
  const mine = roleKeys();
  const others = (u.roles ?? []).filter((r) => !mine.includes(r));
  return h("tr", { dataset: { user: u.username } },
    h("td", { "data-label": T("user") }, h("span", {}, h("strong", { text: u.display_name || u.username }), " ", h("code", { text: u.username }),
      u.locked ? h("span", { class: "badge state-rejected", text: T("locked") }) : null)),
    h("td", { "data-label": T("unit"), text: u.unit_name || u.unit }),
    h("td", { "data-label": T("user_roles"), class: "roles-cell" }, h("div", {},
      h("div", { class: "chips" }, mine.map((r) => {
        const live = tenantRoles.has(r);
        return h("label", { title: live ? r : T("unpublished_role"), class: live ? null : "off" },
          h("input", {
            type: "checkbox", checked: u.roles?.includes(r), disabled: !live,
            dataset: { userRole: r, focus: `user:${u.id}:${r}` },
            on: { change: (e) => toggleUserRole(u, r, e.target.checked, e.target) },
          }), roles[r].label || r);
      })),
      others.length ? h("div", { class: "help" }, T("other_roles", { list: others.join(SEP) })) : null)),
    h("td", { "data-label": "" }, h("a", { href: `/admin/users?q=${encodeURIComponent(u.username)}`, text: T("edit_user") })));
}

async function drawUsers() {
  const { q, page } = userQuery;
  usersDrawnFor = roleKeys().join();
  const r = await api("GET", `/api/v1/admin/users?q=${encodeURIComponent(q)}&page=${page}`);
  if (!r.ok) {
    ui.users.replaceChildren(h("p", { class: "alert", text: r.body?.error?.message ?? String(r.status) }));
    return;
  }
  const { items = [], total = 0, page_size: size = 50 } = r.body;
  const pages = Math.max(1, Math.ceil(total / size));
  const go = (p) => { userQuery.page = p; drawUsers(); };
  ui.users.replaceChildren(...[
    items.length
      ? h("div", { class: "table-wrap" }, h("table", { class: "grid users-grid" },
        h("thead", {}, h("tr", {}, [T("user"), T("unit"), T("user_roles"), ""].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, items.map(userRow))))
      : h("p", { class: "empty", "data-empty": "users", text: T("no_users") }),
    pages > 1 ? h("nav", { class: "pager", "aria-label": "pages" },
      page > 1 ? h("button", { type: "button", class: "link", text: `← ${T("prev")}`, on: { click: () => go(page - 1) } }) : null,
      h("span", { text: T("page_of", { page, pages, total }) }),
      page < pages ? h("button", { type: "button", class: "link", text: `${T("next")} →`, on: { click: () => go(page + 1) } }) : null) : null,
  ].filter(Boolean));
}

function usersSection() {
  const q = h("input", { type: "search", id: "user-q", placeholder: T("search"), "aria-label": T("search") });
  ui.users = h("div", { "data-users": "" }, h("p", { class: "help", text: T("loading") }));
  ui.userStatus = h("div", { role: "status", "aria-live": "polite" });
  return h("section", { class: "card roles-users" },
    h("h2", { text: T("users") }),
    h("p", { class: "help" }, T("users_help"), " ",
      h("a", { href: "/admin/users", text: T("manage_users") }), " · ", h("a", { href: "/admin/org", text: T("manage_org") })),
    h("form", { class: "user-search", role: "search", on: { submit: (e) => { e.preventDefault(); userQuery.q = q.value.trim(); userQuery.page = 1; drawUsers(); } } },
      q, h("button", { type: "submit", text: T("search_btn") })),
    ui.userStatus, ui.users);
}

// ---- the page ---------------------------------------------------------------------------

function onChecked(result) {
  problemsByRole = {};
  for (const p of result.problems ?? []) {
    const m = p.file === FILE && /^\/roles\/([^/]+)/.exec(p.pointer ?? "");
    if (m) (problemsByRole[decodeURIComponent(m[1])] ??= []).push(`${p.pointer}: ${p.reason}`);
  }
  redraw(drawRoles);
}

function validate() {
  const out = [];
  for (const [k, def] of Object.entries(roles)) {
    if (!def.label?.trim()) out.push({ file: FILE, pointer: `/roles/${k}/label`, reason: T("label_required") });
  }
  return out;
}

async function onPublished(body) {
  pack.revision = body.revision;
  pack.files = (await Pack.open(packId)).files;
  baseline = canon();
  published = new Set(Object.keys(roles));
  removed = [];
  problemsByRole = {};
  delete draft.files[FILE];
  draft.changed();
  ui.active.replaceChildren(h("p", { class: "notice ok", "data-policies-active": "", text: T("active") }));
  ui.version.textContent = `${pack.name ?? packId}${paren(`${packId} v${body.version}`)}`;
  await loadTenantRoles();
  redraw(drawAll);
  drawUsers();
}

async function main() {
  try {
    pack = await Pack.open(packId);
  } catch (e) {
    root.replaceChildren(h("p", { class: "alert", text: e.message }));
    return;
  }
  FORM_ACTIONS = pack.form_actions ?? ["read", "create", "update", "delete", "unmask", "export", "import", "design"];
  SCOPES = pack.scopes ?? ["own", "org", "org_tree", "tenant"];
  const unreadable = pack.roles === null && FILE in pack.files;
  // The roles in the file's order (the JSON comes sorted by key).
  const loaded = clone(pack.roles?.roles ?? {});
  roles = {};
  for (const k of [...roleOrder(pack.files[FILE]).filter((k) => k in loaded), ...Object.keys(loaded)]) roles[k] ??= loaded[k];
  for (const def of Object.values(roles)) def.grants ??= {};
  baseline = canon();
  published = new Set(Object.keys(roles));
  draft = new Draft(pack);
  document.title = `${T("title")} · ${pack.name ?? packId}`;

  ui.matrix = h("section", { class: "card roles-matrix-section", "aria-labelledby": "matrix-h" });
  ui.addForm = addForm();
  ui.roleList = h("ul", { class: "role-cards" });
  ui.removed = h("div", { class: "removed-roles" });
  ui.active = h("div", { role: "status", "aria-live": "polite" });
  const bar = publishBar(draft, { file: FILE, validate, onPublished, onChecked });

  ui.version = h("small", { class: "help", text: `${pack.name ?? packId}${paren(`${packId} v${pack.version}`)}` });
  root.replaceChildren(...[
    h("div", { class: "head" }, h("h1", {}, T("title"), " ", ui.version)),
    h("p", { class: "help roles-intro", text: T("intro") }),
    unreadable ? h("p", { class: "alert", text: T("roles_unreadable") }) : null,
    ui.matrix,
    h("section", { class: "card roles-panel", "aria-labelledby": "roles-h" },
      h("h2", { id: "roles-h", text: T("roles") }),
      h("p", { class: "help admin-note", text: T("admin_note") }),
      ui.removed, ui.roleList),
    bar, ui.active,
    usersSection(),
  ].filter(Boolean));

  addEventListener("beforeunload", (e) => { if (draft.dirty) { e.preventDefault(); e.returnValue = T("unsaved_leave"); } });
  drawAll();
  await Promise.all([loadTenantRoles(), loadAllUsers()]);
  redraw(drawAll);
  drawUsers();
}

main();
