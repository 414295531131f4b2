// What every designer page shares: the pack being edited, the draft of changed files, the
// check and publish round trips with the diff shown before publishing, the problem panel,
// and a small DOM helper. The server is the judge: a draft is checked by the rules of
// `formwork pack check` (POST /api/v1/designer/packs/{pack}/check) and published by
// installing it as the pack's next version (…/publish).

export const lang = document.documentElement.lang.startsWith("en") ? "en" : "zh";

/** A translator over `{zh: {...}, en: {...}}`; `{name}` in a text is replaced from `vars`. */
export function tr(dict) {
  return (key, vars = {}) => {
    const text = dict[lang]?.[key] ?? dict.zh?.[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
  };
}

const T = tr({
  zh: {
    check: "检查", publish: "发布…", publishing: "正在发布…", checking: "正在检查…",
    ok: "检查通过，可以发布", problems: "有 {n} 处问题，修正后才能发布",
    confirm_title: "发布前确认改动", confirm: "确认发布", cancel: "取消",
    no_changes: "没有改动", stale: "表单包已被他人发布过新版本；请刷新页面后重做修改（当前的修改会丢失）",
    published: "已发布为表单包 v{version}", new_version: "{form}：v{from} → v{to}", first_version: "{form}：新表单 v1",
    added: "新增字段", removed: "删除字段", changed: "修改字段", other: "其他改动",
    file_added: "新增", file_deleted: "删除", file_changed: "修改", failed: "请求失败：{status}",
    reload: "刷新", unsaved: "有未发布的修改",
  },
  en: {
    check: "Check", publish: "Publish…", publishing: "Publishing…", checking: "Checking…",
    ok: "The check passed; ready to publish", problems: "{n} problem(s) to fix before publishing",
    confirm_title: "Confirm the changes before publishing", confirm: "Publish", cancel: "Cancel",
    no_changes: "Nothing changed", stale: "Someone published this pack since you opened it; reload the page and make your change again (the current edits will be lost)",
    published: "Published as pack v{version}", new_version: "{form}: v{from} → v{to}", first_version: "{form}: new form, v1",
    added: "Fields added", removed: "Fields removed", changed: "Fields changed", other: "Other changes",
    file_added: "added", file_deleted: "deleted", file_changed: "changed", failed: "The request failed: {status}",
    reload: "Reload", unsaved: "Unpublished changes",
  },
});

/**
 * Makes an element. `attrs`: `class`, `text`, `on: {event: fn}`, `dataset: {...}`; `value`,
 * `checked`, `disabled`, `hidden`, `selected` set as properties; others as attributes
 * (skipped when null/false). Children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = tag === "svg" || attrs?.svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "svg") continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k === "text") el.textContent = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (["value", "checked", "disabled", "hidden", "selected"].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A JSON request to the API in the page's language: `{ok, status, body}`. */
export async function api(method, url, body) {
  const headers = { Accept: "application/json", "Accept-Language": document.documentElement.lang };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  return { ok: r.ok, status: r.status, body: data };
}

/** A pack as installed: its files, roles as JSON, and the published version of each form. */
export class Pack {
  static async open(id) {
    const r = await api("GET", `/api/v1/designer/packs/${encodeURIComponent(id)}`);
    if (!r.ok) throw new Error(r.body?.error?.message ?? T("failed", { status: r.status }));
    return new Pack(r.body);
  }

  constructor(data) {
    Object.assign(this, data);
    this.id = data.pack;
  }

  /** The parsed JSON of a file, or null. */
  json(path) {
    const text = this.files[path];
    if (text === undefined) return null;
    try { return JSON.parse(text); } catch { return null; }
  }

  /** Keys of the files under `dir/` ending in `.json`, sorted. */
  keys(dir) {
    return Object.keys(this.files)
      .filter((p) => p.startsWith(`${dir}/`) && p.endsWith(".json"))
      .map((p) => p.slice(dir.length + 1, -5))
      .sort();
  }

  /** `[{key, schema}]` of every form. */
  forms() { return this.keys("forms").map((key) => ({ key, schema: this.json(`forms/${key}.json`) ?? {} })); }
  /** `[{key, def}]` of every workflow. */
  workflows() { return this.keys("workflows").map((key) => ({ key, def: this.json(`workflows/${key}.json`) ?? {} })); }
  /** `[{key, def}]` of every list. */
  lists() { return this.keys("lists").map((key) => ({ key, def: this.json(`lists/${key}.json`) ?? {} })); }
}

/** The files a designer changed, on top of the pack's revision. */
export class Draft {
  constructor(pack) {
    this.pack = pack;
    this.files = {};
    this.deleted = new Set();
    this.listeners = [];
  }

  /** Sets a file: a JSON value, roles JSON for `roles.toml`, or text. */
  set(path, value) {
    this.files[path] = value;
    this.deleted.delete(path);
    this.changed();
  }

  remove(path) {
    delete this.files[path];
    if (path in this.pack.files) this.deleted.add(path);
    this.changed();
  }

  get dirty() { return Object.keys(this.files).length > 0 || this.deleted.size > 0; }

  onChange(fn) { this.listeners.push(fn); }
  changed() { for (const fn of this.listeners) fn(this); }

  body(preview) {
    return { revision: this.pack.revision, files: this.files, delete: [...this.deleted], preview: preview ?? null };
  }

  /** Checks the draft: `{problems, changes, preview, stale}`. */
  async check(preview) {
    const r = await api("POST", `/api/v1/designer/packs/${this.pack.id}/check`, this.body(preview));
    if (!r.ok) throw new Error(r.body?.error?.message ?? T("failed", { status: r.status }));
    return r.body;
  }

  /** Publishes the draft: `{ok, status, body}` as the API answered. */
  publish() {
    return api("POST", `/api/v1/designer/packs/${this.pack.id}/publish`, this.body());
  }
}

/** A list of problems as `file#pointer: reason`; those of `file` first. */
export function problemList(problems, file) {
  const sorted = [...problems].sort((a, b) => (b.file === file) - (a.file === file));
  return h("ul", { class: "problems", "data-problems": "" },
    sorted.map((p) => h("li", { class: "fw-error" },
      h("code", { text: `${p.file}${p.pointer ? "#" + p.pointer : ""}` }), " ", p.reason)));
}

function diffBlock(lines) {
  return h("pre", { class: "diff" }, lines.map(([sign, text]) =>
    h("span", { class: sign === "+" ? "ins" : sign === "-" ? "del" : "ctx" }, `${sign} ${text}\n`)));
}

function fieldNames(list) {
  return list.map((f) => (typeof f === "string" ? f : f.field)).join("、");
}

/** What publishing changes: new form versions with their field differences, then each file. */
export function changesView(changes) {
  const out = [];
  for (const f of changes.forms ?? []) {
    const d = f.diff;
    out.push(h("div", { class: "change-form" },
      h("strong", { text: f.from ? T("new_version", f) : T("first_version", f) }),
      d && d.added.length ? h("p", {}, `${T("added")}：${fieldNames(d.added)}`) : null,
      d && d.removed.length ? h("p", {}, `${T("removed")}：${fieldNames(d.removed)}`) : null,
      d && d.changed.length ? h("p", {}, `${T("changed")}：${fieldNames(d.changed)}`) : null,
      d && d.other_changes?.length ? h("p", {}, `${T("other")}：${d.other_changes.join("、")}`) : null));
  }
  for (const f of changes.files ?? []) {
    out.push(h("details", { class: "change-file", open: (changes.files.length <= 3) || null },
      h("summary", {}, h("code", { text: f.path }), " ", T(`file_${f.status}`)),
      diffBlock(f.lines)));
  }
  if (!out.length) out.push(h("p", { class: "empty", text: T("no_changes") }));
  return h("div", { class: "changes" }, out);
}

/**
 * The bar with Check and Publish. `file` is the path this designer edits (its problems come
 * first); `validate()` may return a list of local problems that stop publishing;
 * `onPublished(body)` runs after a publish.
 */
export function publishBar(draft, { file, validate, onPublished, onChecked } = {}) {
  const status = h("div", { class: "publish-status", role: "status", "aria-live": "polite" });
  const problems = h("div", { class: "publish-problems" });
  const dialog = h("dialog", { class: "publish-dialog" });
  const checkBtn = h("button", { type: "button", text: T("check") });
  const publishBtn = h("button", { type: "button", class: "primary", text: T("publish") });
  const dirty = h("span", { class: "dirty", hidden: true, text: T("unsaved") });
  draft.onChange(() => { dirty.hidden = !draft.dirty; });

  const show = (result) => {
    problems.replaceChildren();
    if (result.stale) {
      status.replaceChildren(h("p", { class: "alert" }, T("stale"), " ", h("button", { type: "button", text: T("reload"), on: { click: () => location.reload() } })));
      return false;
    }
    if (result.problems.length) {
      status.replaceChildren(h("p", { class: "alert", text: T("problems", { n: result.problems.length }) }));
      problems.replaceChildren(problemList(result.problems, file));
      return false;
    }
    status.replaceChildren(h("p", { class: "notice ok", text: T("ok") }));
    return true;
  };

  const local = () => {
    const found = validate ? validate() : [];
    if (found.length) {
      status.replaceChildren(h("p", { class: "alert", text: T("problems", { n: found.length }) }));
      problems.replaceChildren(problemList(found, file));
      return false;
    }
    return true;
  };

  async function runCheck() {
    if (!local()) return null;
    status.replaceChildren(h("p", { text: T("checking") }));
    try {
      const result = await draft.check();
      onChecked?.(result);
      return show(result) ? result : null;
    } catch (e) {
      status.replaceChildren(h("p", { class: "alert", text: e.message }));
      return null;
    }
  }

  checkBtn.addEventListener("click", runCheck);
  publishBtn.addEventListener("click", async () => {
    const result = await runCheck();
    if (!result) return;
    const confirmBtn = h("button", { type: "button", class: "primary", text: T("confirm"), "data-confirm-publish": "" });
    const cancelBtn = h("button", { type: "button", text: T("cancel"), on: { click: () => dialog.close() } });
    dialog.replaceChildren(
      h("h2", { text: T("confirm_title") }),
      changesView(result.changes),
      h("div", { class: "tools" }, cancelBtn, confirmBtn));
    confirmBtn.addEventListener("click", async () => {
      confirmBtn.disabled = true;
      confirmBtn.textContent = T("publishing");
      const r = await draft.publish();
      dialog.close();
      if (r.ok) {
        status.replaceChildren(h("p", { class: "notice ok", "data-published": "", text: T("published", { version: r.body.version }) }),
          ...(r.body.installed?.published ?? []).map(([form, v]) => h("p", { class: "help", text: `${form} → v${v}` })));
        onPublished?.(r.body);
      } else if (r.body?.problems) {
        show({ problems: r.body.problems });
      } else if (r.body?.error?.code === "pack_changed") {
        show({ stale: true });
      } else {
        status.replaceChildren(h("p", { class: "alert", text: r.body?.error?.message ?? T("failed", { status: r.status }) }));
      }
    });
    dialog.showModal();
  });
  return h("div", { class: "publish-bar" }, h("div", { class: "tools" }, dirty, checkBtn, publishBtn), status, problems, dialog);
}

/** Turns a label into a key proposal: ASCII words become snake_case; else `prefix_n`. */
export function keyFrom(label, taken, prefix = "field") {
  let base = String(label ?? "").toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  if (!/^[a-z]/.test(base)) base = base ? `${prefix}_${base}` : prefix;
  let key = base;
  for (let n = 2; taken.has(key); n++) key = `${base}_${n}`;
  return key;
}

/** Whether `k` is a key of the pack format: lowercase snake_case starting with a letter. */
export function isKey(k) {
  return /^[a-z][a-z0-9_]*$/.test(k ?? "") && k.length <= 63;
}

/** Moves `list[from]` to index `to` in place. */
export function move(list, from, to) {
  if (to < 0 || to >= list.length || from === to) return;
  const [item] = list.splice(from, 1);
  list.splice(to, 0, item);
}
