// The workflow designer (流程设计): a workflow's states and transitions as two editable
// tables, the same workflow drawn as a diagram (SVG, left to right from the initial state)
// that follows every edit, and the whole workflow as JSON text.
//
// It edits only the keywords it shows — the workflow's label and initial state; a state's
// key, label, complete and edit; a transition's action, label, from, to, roles, org,
// comment_required and fields — in place, so every other keyword (timers, guards, effects,
// unlock, …) stays exactly as it was; the JSON tab reaches those. Fields offered are the
// top-level fields of the forms whose `x-workflow` names this workflow (pack format 5.6).
// Local checks catch what the tables can get wrong; the server checks the rest and
// publishes (common.js).
import { lang, tr, h, Pack, Draft, publishBar, keyFrom, isKey, move } from "./common.js";

const T = tr({
  zh: {
    title: "流程设计：{label}", new_title: "新建流程", file: "文件：", key: "键", label: "名称",
    wf_label: "流程名称", initial: "初始状态", used_by: "使用此流程的表单：",
    unused: "还没有表单使用此流程（表单的 x-workflow 写 {key} 即可），所以还不能选择字段。",
    wf_fields_kept: "流程另有字段权限（fields）未在此编辑，保留不变；可在 JSON 中修改。",
    no_roles: "表单包还没有角色，流转至少要有一个角色。先到角色矩阵添加角色：",
    roles_matrix: "角色矩阵",
    diagram: "流程图", diagram_label: "流程图：状态与流转",
    legend: "▶ 初始状态 · 双线框：结束状态 · 橙色虚线：退回 · 点击状态或流转可在表格中定位",
    tab_tables: "状态与流转", tab_json: "JSON",
    states: "状态", transitions: "流转", order: "顺序", complete: "数据须完整",
    complete_help: "不勾选：如草稿，数据可以不完整", edit_roles: "可编辑角色", edit_fields: "可编辑字段",
    other: "其他", action: "动作键", button: "按钮名称", from: "从", to: "到", roles: "角色",
    org: "单位关系", comment_required: "须填理由", fields: "可填字段",
    add_state: "添加状态", add_transition: "添加流转", up: "上移", down: "下移", remove: "删除",
    new_state: "新状态", new_transition: "新流转",
    all_fields: "全部字段", n_fields: "{n} 个字段", no_fields: "无", pick_all: "全选", pick_none: "清空",
    need_roles_first: "先选可编辑角色", nobody: "无人可编辑", choose: "请选择",
    unknown: "（包中没有）",
    org_: "不限", org_same: "本单位", org_parent: "上级单位", org_subtree: "本单位或上级",
    org_level: "按层级", org_unit: "指定单位", org_other: "其他（见 JSON）",
    orgh_: "操作人数据范围内的任意单位", orgh_same: "操作人须属于记录所在的单位",
    orgh_parent: "操作人须属于记录所在单位的直接上级", orgh_subtree: "操作人须属于记录所在单位或其上级",
    orgh_level: "操作人须属于记录所在单位在第 N 级的上级（1 = 根单位，如市；2 = 区）",
    orgh_unit: "操作人须属于这个代码的单位（把表单包绑定到某个租户的代码；尽量用按层级）", orgh_other: "JSON 中的写法，此处不能编辑", org_level_n: "层级（1 = 根单位，如市；2 = 区）", org_level_pre: "第", org_level_post: "级", org_unit_code: "单位代码",
    kept: "另有 {n} 项（{names}）未在此编辑，保留不变；可在 JSON 中修改。",
    kw_guards: "守卫", kw_effects: "效果", kw_unlock: "指定字段退回", kw_recall: "撤回",
    kw_countersign: "会签", kw_unique: "唯一性", kw_required: "必填字段", kw_timer: "定时",
    kw_fields: "字段权限",
    json_apply: "应用 JSON", json_reset: "还原", json_error: "JSON 有误：{message}",
    json_shape: "需要一个对象，含 states 和 transitions 两个数组", json_applied: "已应用到表格和流程图",
    v_label: "请填写名称", v_initial: "初始状态「{key}」不是本流程的状态",
    v_key: "「{key}」不是合法的键（小写字母开头，只含小写字母、数字和下划线）",
    v_dup_state: "状态键「{key}」重复", v_edit_roles: "可编辑时至少要有一个角色",
    v_from: "请选择从哪个状态出发", v_state: "「{key}」不是本流程的状态", v_roles: "至少选择一个角色",
    v_twice: "动作「{action}」已在第 {n} 条流转中离开状态「{state}」",
    start_help: "从一个常用的模板开始：草稿 → 已提交 → 已批准，含提交、批准和退回修改。创建后都可以修改。",
    wf_key: "流程键（英文，发布后不能改）", filer: "填报角色（草稿中可编辑）", reviewer: "审核角色",
    start: "开始设计", key_taken: "已有流程使用键「{key}」",
    tpl_label: "新流程", tpl_draft: "草稿", tpl_submitted: "已提交", tpl_approved: "已批准",
    tpl_submit: "提交", tpl_approve: "批准", tpl_reject: "退回修改",
    gone: "已发布的状态 {keys} 不在了：处于这些状态的现有记录将无法再流转。改名请慎重，或保留原状态。",
    published: "已发布。", back: "返回设计器首页", no_workflow: "找不到流程 {key}",
  },
  en: {
    title: "Workflow: {label}", new_title: "New workflow", file: "File: ", key: "Key", label: "Label",
    wf_label: "Workflow name", initial: "Initial state", used_by: "Forms using this workflow: ",
    unused: "No form uses this workflow yet (set x-workflow to {key} in a form), so no fields can be chosen.",
    wf_fields_kept: "The workflow also has field access rules (fields), not edited here and kept as they are; edit them in JSON.",
    no_roles: "The pack has no roles yet, and every transition needs one. Add roles in the roles matrix first: ",
    roles_matrix: "Roles matrix",
    diagram: "Diagram", diagram_label: "Diagram: states and transitions",
    legend: "▶ initial state · double border: end state · dashed orange: return · click a state or transition to find it in the tables",
    tab_tables: "States and transitions", tab_json: "JSON",
    states: "States", transitions: "Transitions", order: "Order", complete: "Complete data",
    complete_help: "Untick for a draft: data may be incomplete", edit_roles: "Roles that edit", edit_fields: "Fields they edit",
    other: "Other", action: "Action key", button: "Button label", from: "From", to: "To", roles: "Roles",
    org: "Org relation", comment_required: "Reason required", fields: "Fields filled",
    add_state: "Add state", add_transition: "Add transition", up: "Move up", down: "Move down", remove: "Remove",
    new_state: "New state", new_transition: "New transition",
    all_fields: "All fields", n_fields: "{n} field(s)", no_fields: "None", pick_all: "All", pick_none: "None",
    need_roles_first: "Choose roles that edit first", nobody: "Nobody edits", choose: "Choose…",
    unknown: "(not in the pack)",
    org_: "Any", org_same: "Same unit", org_parent: "Parent unit", org_subtree: "Unit or above",
    org_level: "By level", org_unit: "A given unit", org_other: "Other (see JSON)",
    orgh_: "Any unit in the actor's scope", orgh_same: "The actor belongs to the record's own unit",
    orgh_parent: "The actor belongs to the direct parent of the record's unit", orgh_subtree: "The actor belongs to the record's unit or one above it",
    orgh_level: "The actor belongs to the record's ancestor at level N (1 = root, e.g. the city; 2 = a district)",
    orgh_unit: "The actor belongs to the unit with this code (ties the pack to a tenant's codes; prefer a level)", orgh_other: "As written in the JSON; not editable here", org_level_n: "Level (1 = root, e.g. the city; 2 = a district)", org_level_pre: "Level", org_level_post: "", org_unit_code: "Unit code",
    kept: "{n} more keyword(s) ({names}) are not edited here and kept as they are; edit them in JSON.",
    kw_guards: "guards", kw_effects: "effects", kw_unlock: "unlock", kw_recall: "recall",
    kw_countersign: "countersign", kw_unique: "unique", kw_required: "required", kw_timer: "timer",
    kw_fields: "field access",
    json_apply: "Apply JSON", json_reset: "Reset", json_error: "The JSON is invalid: {message}",
    json_shape: "Needs an object with two arrays, states and transitions", json_applied: "Applied to the tables and the diagram",
    v_label: "Give it a label", v_initial: "The initial state `{key}` is not a state of this workflow",
    v_key: "`{key}` is not a key (a lowercase letter, then lowercase letters, digits and underscores)",
    v_dup_state: "State key `{key}` is used twice", v_edit_roles: "Editing needs at least one role",
    v_from: "Choose the state it leaves", v_state: "`{key}` is not a state of this workflow", v_roles: "Choose at least one role",
    v_twice: "Action `{action}` already leaves state `{state}` in transition {n}",
    start_help: "Start from a common template: draft → submitted → approved, with submit, approve and return for changes. Everything can be changed afterwards.",
    wf_key: "Workflow key (cannot change once published)", filer: "Filing role (edits the draft)", reviewer: "Reviewing role",
    start: "Start designing", key_taken: "A workflow with key `{key}` exists",
    tpl_label: "New workflow", tpl_draft: "Draft", tpl_submitted: "Submitted", tpl_approved: "Approved",
    tpl_submit: "Submit", tpl_approve: "Approve", tpl_reject: "Return for changes",
    gone: "Published state(s) {keys} are gone: existing records in them can no longer move. Rename with care, or keep the old state.",
    published: "Published.", back: "Back to the designer", no_workflow: "No workflow {key}",
  },
});

// Keywords the tables edit; any other keyword of a state or transition is kept untouched.
const STATE_EDITED = ["key", "label", "complete", "edit"];
const TRANSITION_EDITED = ["action", "label", "from", "to", "roles", "org", "comment_required", "fields"];
const ORG_KINDS = ["", "same", "parent", "subtree", "level", "unit"];

/** A transition's `from` as a list, whether written as one state or several. */
const fromList = (t) => (Array.isArray(t.from) ? t.from : typeof t.from === "string" ? [t.from] : []);

/** Replaces an element's children; unlike `replaceChildren`, skips null and flattens arrays. */
function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

/** A title that may be `{zh, en}` in the page's language. */
const text = (v) => (v && typeof v === "object" ? v[lang] ?? v.zh ?? "" : v ?? "");

function kwName(k) {
  const name = T(`kw_${k}`);
  return name === `kw_${k}` ? k : name;
}

/** Which of the org rules of 5.8 `org` is: "" (none), a named relation, level, unit or other. */
function orgKind(org) {
  if (org === undefined || org === null) return "";
  if (typeof org === "string") return ["same", "parent", "subtree"].includes(org) ? org : "other";
  if (typeof org === "object" && !Array.isArray(org)) {
    const keys = Object.keys(org);
    if (keys.length === 1 && keys[0] === "level") return "level";
    if (keys.length === 1 && keys[0] === "unit") return "unit";
  }
  return "other";
}

// ---------------------------------------------------------------------------------------
// Local checks: what the tables can get wrong, as `{file, pointer, reason}` like the server's.

export function validate(wf, file) {
  const out = [];
  const bad = (pointer, reason) => out.push({ file, pointer, reason });
  if (!String(wf.label ?? "").trim()) bad("/label", T("v_label"));
  const states = Array.isArray(wf.states) ? wf.states : [];
  const keys = new Set();
  states.forEach((s, i) => {
    if (!isKey(s?.key)) bad(`/states/${i}/key`, T("v_key", { key: s?.key ?? "" }));
    else if (keys.has(s.key)) bad(`/states/${i}/key`, T("v_dup_state", { key: s.key }));
    keys.add(s?.key);
    if (!String(s?.label ?? "").trim()) bad(`/states/${i}/label`, T("v_label"));
    if (s?.edit && !(s.edit.roles ?? []).length) bad(`/states/${i}/edit/roles`, T("v_edit_roles"));
  });
  if (!keys.has(wf.initial)) bad("/initial", T("v_initial", { key: wf.initial ?? "" }));
  const leaves = new Map(); // "action state" → index of the transition that leaves it
  (Array.isArray(wf.transitions) ? wf.transitions : []).forEach((t, i) => {
    const at = `/transitions/${i}`;
    if (!isKey(t?.action)) bad(`${at}/action`, T("v_key", { key: t?.action ?? "" }));
    if (!String(t?.label ?? "").trim()) bad(`${at}/label`, T("v_label"));
    const from = fromList(t ?? {});
    if (!from.length) bad(`${at}/from`, T("v_from"));
    from.forEach((f, j) => {
      const ptr = Array.isArray(t.from) ? `${at}/from/${j}` : `${at}/from`;
      if (!keys.has(f)) return bad(ptr, T("v_state", { key: f }));
      const seen = leaves.get(`${t.action} ${f}`);
      if (seen !== undefined) bad(ptr, T("v_twice", { action: t.action, state: f, n: seen }));
      else leaves.set(`${t.action} ${f}`, i);
    });
    if (!keys.has(t?.to)) bad(`${at}/to`, T("v_state", { key: t?.to ?? "" }));
    if (!Array.isArray(t?.roles) || !t.roles.length) bad(`${at}/roles`, T("v_roles"));
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// The diagram: states as boxes in layers (breadth-first from the initial state, states it
// cannot reach after), transitions as arrows. An arrow to the next layer is straight; one
// that skips layers arcs above; one going back (a return) arcs below, each in its own lane.

const SVG = { svg: true };
const s = (tag, attrs = {}, ...children) => h(tag, { ...SVG, ...attrs }, ...children);
const BOX_W = 124, BOX_H = 58, GAP_Y = 26, PAD = 22, LANE = 24;
const INK = "#5f6b7a", BACK = "#a15c00", PICKED = "#0b57d0", ACCENT = "#c8102e";

/** Rough width of a text in px: CJK characters are square, others a bit over half. */
function textWidth(str, size = 12) {
  let w = 0;
  for (const ch of String(str)) w += ch.codePointAt(0) > 0x2e80 ? size : size * 0.6;
  return w;
}

/** Breaks a label into at most `lines` lines of `width` px, with an ellipsis if cut. */
function wrap(str, width, lines = 2, size = 12) {
  const out = [""];
  for (const ch of String(str)) {
    if (textWidth(out[out.length - 1] + ch, size) > width) {
      if (out.length === lines) { out[lines - 1] = out[lines - 1].slice(0, -1) + "…"; return out; }
      out.push("");
    }
    out[out.length - 1] += ch;
  }
  return out;
}

/** Lanes for arcs: each arc's interval of layers, packed so arcs in a lane do not overlap. */
function lanes(arcs) {
  const taken = [];
  for (const arc of [...arcs].sort((a, b) => (a.hi - a.lo) - (b.hi - b.lo) || a.t - b.t)) {
    let lane = 0;
    while ((taken[lane] ?? []).some((o) => arc.lo < o.hi && o.lo < arc.hi)) lane++;
    (taken[lane] ??= []).push(arc);
    arc.lane = lane;
  }
  return taken.length;
}

function diagram(wf, { selected, onPick, fitWidth }) {
  const states = Array.isArray(wf.states) ? wf.states : [];
  const transitions = Array.isArray(wf.transitions) ? wf.transitions : [];
  const index = new Map();
  states.forEach((st, i) => { if (st?.key && !index.has(st.key)) index.set(st.key, i); });

  const edges = [];
  transitions.forEach((t, ti) => {
    for (const f of fromList(t ?? {})) {
      if (index.has(f) && index.has(t.to)) edges.push({ t: ti, a: index.get(f), b: index.get(t.to), label: text(t.label) || t.action || "" });
    }
  });
  const out = states.map(() => []);
  for (const e of edges) out[e.a].push(e.b);

  // Layers: breadth-first from the initial state, then from each state still unplaced.
  const layer = states.map(() => -1);
  const seed = (start, l) => {
    layer[start] = l;
    const queue = [start];
    while (queue.length) {
      const x = queue.shift();
      for (const y of out[x]) if (layer[y] < 0) { layer[y] = layer[x] + 1; queue.push(y); }
    }
  };
  if (index.has(wf.initial)) seed(index.get(wf.initial), 0);
  states.forEach((_, i) => { if (layer[i] < 0) seed(i, Math.max(-1, ...layer) + 1); });
  const row = [], perLayer = [];
  states.forEach((_, i) => { row[i] = perLayer[layer[i]] = (perLayer[layer[i]] ?? -1) + 1; });
  const rows = Math.max(1, ...perLayer.map((n) => (n ?? 0) + 1));
  const layers = Math.max(1, perLayer.length);

  // Kinds of arrows, and the room they need.
  const above = [], below = [], direct = [];
  for (const e of edges) {
    const la = layer[e.a], lb = layer[e.b];
    if (e.a === e.b) above.push({ ...e, kind: "loop", lo: la - 0.3, hi: la + 0.3 });
    else if (lb === la + 1) direct.push({ ...e, kind: "direct" });
    else if (lb > la) above.push({ ...e, kind: "above", lo: la, hi: lb });
    else below.push({ ...e, kind: "below", lo: lb, hi: la });
  }
  const nAbove = lanes(above), nBelow = lanes(below);
  const gapX = Math.min(170, Math.max(64, ...direct.map((e) => textWidth(e.label, 11) + 30)));
  const top = PAD + (nAbove ? nAbove * LANE + 6 : 0);
  const x = (i) => PAD + layer[i] * (BOX_W + gapX);
  const y = (i) => top + row[i] * (BOX_H + GAP_Y);
  const boxesBottom = top + rows * (BOX_H + GAP_Y) - GAP_Y;
  const width = PAD * 2 + layers * BOX_W + (layers - 1) * gapX;
  const height = boxesBottom + (nBelow ? 20 + (nBelow - 1) * LANE + 12 : 0) + PAD;

  const isPicked = (kind, i) => selected?.kind === kind && selected.i === i;
  const pick = (kind, i) => ({ click: () => onPick(kind, i), keydown: (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); onPick(kind, i); } } });
  const marker = (id, colour) => s("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    s("path", { d: "M0,0 L10,5 L0,10 z", fill: colour }));
  const edgeLayer = s("g", { class: "wf-edges" }), boxLayer = s("g", { class: "wf-states" }), labelLayer = s("g", { class: "wf-labels" });

  // Parallel straight arrows between the same two states are spread vertically.
  const pairs = new Map();
  for (const e of direct) pairs.set(`${e.a} ${e.b}`, [...(pairs.get(`${e.a} ${e.b}`) ?? []), e]);

  for (const e of [...direct, ...above, ...below]) {
    let d, lx, ly;
    const cxA = x(e.a) + BOX_W / 2, cxB = x(e.b) + BOX_W / 2;
    if (e.kind === "direct") {
      const group = pairs.get(`${e.a} ${e.b}`);
      const dy = (group.indexOf(e) - (group.length - 1) / 2) * 16;
      const x1 = x(e.a) + BOX_W, y1 = y(e.a) + BOX_H / 2 + dy, x2 = x(e.b), y2 = y(e.b) + BOX_H / 2 + dy;
      d = `M${x1},${y1} C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2} ${x2},${y2}`;
      lx = (x1 + x2) / 2; ly = (y1 + y2) / 2;
    } else {
      // A cubic whose lowest (or highest) point, halfway, lies on the lane's line.
      const up = e.kind !== "below";
      const off = e.kind === "loop" ? 16 : 10 + (e.lane % 3) * 9;
      const ya = up ? y(e.a) : y(e.a) + BOX_H, yb = up ? y(e.b) : y(e.b) + BOX_H;
      const laneY = up ? top - 14 - e.lane * LANE : boxesBottom + 20 + e.lane * LANE;
      const c = (8 * laneY - ya - yb) / 6;
      const toRight = cxB > cxA || e.kind === "loop";
      const x1 = cxA + (toRight ? off : -off), x2 = cxB + (toRight ? -off : off);
      d = e.kind === "loop"
        ? `M${cxA - off},${ya} C${cxA - off - 14},${c} ${cxA + off + 14},${c} ${cxA + off},${yb}`
        : `M${x1},${ya} C${x1},${c} ${x2},${c} ${x2},${yb}`;
      lx = (x1 + x2) / 2; ly = laneY;
      if (e.kind === "loop") lx = cxA;
    }
    const picked = isPicked("transition", e.t), back = e.kind === "below";
    const colour = picked ? PICKED : back ? BACK : INK;
    const attrs = { class: `wf-edge${picked ? " picked" : ""}`, "data-transition": e.t, role: "button", tabindex: 0, on: pick("transition", e.t) };
    edgeLayer.append(s("g", attrs,
      s("title", { text: `${e.label} (${transitions[e.t].action ?? ""})` }),
      s("path", { d, fill: "none", stroke: "transparent", "stroke-width": 14 }),
      s("path", { d, fill: "none", stroke: colour, "stroke-width": picked ? 2.5 : 1.5, "stroke-dasharray": back ? "5 3" : null,
        "marker-end": `url(#wf-arrow-${picked ? "picked" : back ? "back" : "ink"})` })));
    const w = textWidth(e.label, 11) + 8;
    labelLayer.append(s("g", { class: "wf-edge-label", "data-transition": e.t, on: { click: () => onPick("transition", e.t) } },
      s("rect", { x: lx - w / 2, y: ly - 8, width: w, height: 16, rx: 3, fill: "#fff", stroke: picked ? PICKED : "none" }),
      s("text", { x: lx, y: ly + 4, "text-anchor": "middle", "font-size": 11, fill: picked ? PICKED : back ? BACK : "#1f2933", text: e.label })));
  }

  states.forEach((st, i) => {
    const bx = x(i), by = y(i), picked = isPicked("state", i), initial = st?.key === wf.initial;
    const end = out[i].length === 0;
    const lines = wrap(text(st?.label) || st?.key || "?", BOX_W - 14);
    const first = by + BOX_H / 2 - (lines.length * 15 + 12) / 2 + 12;
    boxLayer.append(s("g", { class: `wf-state${picked ? " picked" : ""}`, "data-state": i, "data-key": st?.key ?? "", role: "button", tabindex: 0, on: pick("state", i) },
      s("title", { text: `${text(st?.label)} (${st?.key ?? ""})` }),
      s("rect", { x: bx, y: by, width: BOX_W, height: BOX_H, rx: 10, fill: picked ? "#eef3fd" : initial ? "#fff5f6" : "#fff",
        stroke: picked ? PICKED : initial ? ACCENT : "#8b97a6", "stroke-width": picked || initial ? 2.5 : 1.5 }),
      end ? s("rect", { x: bx + 3, y: by + 3, width: BOX_W - 6, height: BOX_H - 6, rx: 8, fill: "none", stroke: "#8b97a6" }) : null,
      lines.map((line, k) => s("text", { x: bx + BOX_W / 2, y: first + k * 15, "text-anchor": "middle", "font-size": 12, "font-weight": 600, fill: "#1f2933", text: line })),
      s("text", { x: bx + BOX_W / 2, y: first + lines.length * 15, "text-anchor": "middle", "font-size": 10, fill: INK, text: st?.key ?? "" }),
      initial ? s("path", { d: `M${bx - 16},${by + BOX_H / 2 - 6} L${bx - 4},${by + BOX_H / 2} L${bx - 16},${by + BOX_H / 2 + 6} z`, fill: ACCENT }) : null));
  });

  // Wide enough: natural size. A little too wide: scaled down to fit. Much too wide (a
  // phone): natural size, and the container scrolls.
  const fit = fitWidth && width > fitWidth && width * 0.75 <= fitWidth ? fitWidth / width : 1;
  return s("svg", { viewBox: `0 0 ${width} ${height}`, width: Math.floor(width * fit), height: Math.ceil(height * fit),
    role: "group", "aria-label": T("diagram_label"), "font-family": "system-ui, sans-serif" },
    s("defs", {}, marker("wf-arrow-ink", INK), marker("wf-arrow-back", BACK), marker("wf-arrow-picked", PICKED)),
    edgeLayer, boxLayer, labelLayer);
}

// ---------------------------------------------------------------------------------------
// Ticks: chips of checkboxes over a list. Ticking appends and unticking removes, so a list
// keeps its order and the JSON diff stays small. Values the list names but the options do
// not offer (a role the pack lost) stay ticked, marked, so they can be seen and removed.

function chips(name, options, get, set, { disabled = false } = {}) {
  const list = get() ?? [];
  const known = new Set(options.map((o) => o.value));
  const all = [...options, ...list.filter((v) => !known.has(v)).map((v) => ({ value: v, label: `${v} ${T("unknown")}`, unknown: true }))];
  return h("div", { class: "chips" }, all.map((o) => h("label", { class: o.unknown ? "unknown" : null, title: o.value },
    h("input", { type: "checkbox", name, value: o.value, checked: list.includes(o.value), disabled,
      on: { change: (ev) => {
        const rest = (get() ?? []).filter((v) => v !== o.value);
        set(ev.target.checked ? [...rest, o.value] : rest);
      } } }),
    o.label)));
}

/**
 * A folded chooser for long lists (fields, states): its summary says what is chosen.
 * `all` (for edit.fields): a list of null means every field, shown as its own tick.
 */
function picker(name, options, get, set, { summary, all = false, disabled = false, note } = {}) {
  const head = h("summary");
  const body = h("div", { class: "pick-body" });
  const box = h("details", { class: "pick" }, head, body);
  const draw = () => {
    const list = get();
    head.textContent = summary(list);
    const everything = all && list == null;
    fill(body,
      note ? h("p", { class: "help", text: note }) : null,
      all ? h("label", { class: "check" }, h("input", { type: "checkbox", name: `${name}_all`, checked: everything, disabled,
        on: { change: (ev) => { set(ev.target.checked ? null : []); draw(); } } }), T("all_fields")) : null,
      everything || disabled ? null : h("div", { class: "tools" },
        h("button", { type: "button", class: "small", text: T("pick_all"), on: { click: () => { set([...(get() ?? []), ...options.map((o) => o.value).filter((v) => !(get() ?? []).includes(v))]); draw(); } } }),
        h("button", { type: "button", class: "small", text: T("pick_none"), on: { click: () => { set([]); draw(); } } })),
      chips(name, options, () => (everything ? [] : get()), (l) => { set(l); head.textContent = summary(get()); }, { disabled: disabled || everything }));
  };
  draw();
  return box;
}

// ---------------------------------------------------------------------------------------
// The designer page.

class WorkflowDesigner {
  constructor(pack, key, wf, isNew) {
    this.pack = pack;
    this.key = key;
    this.path = `workflows/${key}.json`;
    this.wf = wf;
    this.isNew = isNew;
    this.selected = null;
    // States records may be in now: renaming or removing one strands them (the check allows it).
    this.publishedStates = isNew ? [] : (Array.isArray(wf.states) ? wf.states.map((st) => st?.key) : []);
    this.draft = new Draft(pack);
    this.roleOptions = Object.entries(pack.roles?.roles ?? {}).map(([k, r]) => ({ value: k, label: text(r?.label) || k }));
    this.forms = pack.forms().filter((f) => f.schema?.["x-workflow"] === key);
    const fields = new Map();
    for (const f of this.forms) {
      for (const [k, def] of Object.entries(f.schema.properties ?? {})) if (!fields.has(k)) fields.set(k, text(def?.title) || k);
    }
    this.fieldOptions = [...fields].map(([value, label]) => ({ value, label }));
    if (isNew) this.draft.set(this.path, this.wf);
    addEventListener("beforeunload", (ev) => { if (this.draft.dirty) ev.preventDefault(); });
    let pending;
    addEventListener("resize", () => { clearTimeout(pending); pending = setTimeout(() => this.drawDiagram(), 150); });
  }

  get states() { return Array.isArray(this.wf.states) ? this.wf.states : []; }
  get transitions() { return Array.isArray(this.wf.transitions) ? this.wf.transitions : []; }

  /** After every edit: the draft holds the workflow; `parts` names what to redraw besides the diagram. */
  changed(...parts) {
    this.draft.set(this.path, this.wf);
    if (parts.includes("states")) this.renderStates();
    if (parts.includes("states") || parts.includes("state-names")) { this.renderInitial(); this.renderTransitions(); }
    else if (parts.includes("transitions")) this.renderTransitions();
    if (parts.includes("head")) this.renderHead();
    this.drawDiagram();
    this.warnGone();
  }

  warnGone() {
    const keys = new Set(this.states.map((st) => st?.key));
    const gone = this.publishedStates.filter((k) => !keys.has(k));
    fill(this.goneEl, gone.length ? h("p", { class: "notice", "data-gone": "", text: T("gone", { keys: gone.join(lang === "zh" ? "、" : ", ") }) }) : null);
  }

  render() {
    this.titleEl = h("h2");
    this.headEl = h("div", { class: "head wf-head" });
    this.formsEl = h("div", { class: "wf-forms" });
    this.diagramEl = h("div", { class: "wf-diagram", "data-diagram": "" });
    this.goneEl = h("div", { class: "wf-gone" });
    this.statesEl = h("div", { class: "wf-states-panel" });
    this.transitionsEl = h("div", { class: "wf-transitions-panel" });
    this.jsonEl = this.jsonPanel();
    this.tablesEl = h("div", { class: "wf-tables" }, this.statesEl, this.transitionsEl);
    this.doneEl = h("div", { class: "wf-done" });
    const tab = (id, label) => h("button", { type: "button", role: "tab", "data-tab": id, text: label, on: { click: () => this.showTab(id) } });
    this.tabs = h("div", { class: "tabs", role: "tablist" }, tab("tables", T("tab_tables")), tab("json", T("tab_json")));
    fill(root,
      this.titleEl, this.headEl, this.formsEl,
      h("section", { class: "card wf-diagram-card" }, h("h3", { text: T("diagram") }), this.diagramEl, h("p", { class: "help", text: T("legend") })),
      h("section", { class: "card wf-editor" }, this.goneEl, this.tabs, this.tablesEl, this.jsonEl),
      this.publishBar(),
      this.doneEl);
    this.renderHead();
    this.renderStates();
    this.renderTransitions();
    this.showTab("tables");
    this.drawDiagram();
  }

  renderHead() {
    this.titleEl.textContent = T("title", { label: text(this.wf.label) || this.key });
    this.initialEl = h("select", { name: "initial", on: { change: (ev) => { this.wf.initial = ev.target.value; this.changed(); } } });
    this.renderInitial();
    fill(this.headEl,
      h("label", {}, T("wf_label"), h("input", { name: "wf_label", value: text(this.wf.label), required: true,
        on: { input: (ev) => { this.wf.label = ev.target.value; this.titleEl.textContent = T("title", { label: ev.target.value || this.key }); this.changed(); } } })),
      h("label", {}, T("initial"), this.initialEl),
      h("p", { class: "meta" }, T("file"), h("code", { text: this.path })));
    const roles = this.roleOptions.length ? null
      : h("p", { class: "notice" }, T("no_roles"), h("a", { href: `/designer/${encodeURIComponent(this.pack.id)}/roles`, text: T("roles_matrix") }));
    fill(this.formsEl,
      this.forms.length
        ? h("p", { class: "help" }, T("used_by"), this.forms.map((f, i) => [i ? "、" : "",
          h("a", { href: `/designer/${encodeURIComponent(this.pack.id)}/forms/${encodeURIComponent(f.key)}`, text: text(f.schema.title) || f.key }), ` (${f.key})`]))
        : h("p", { class: "notice", text: T("unused", { key: this.key }) }),
      this.wf.fields && Object.keys(this.wf.fields).length ? h("p", { class: "help", text: T("wf_fields_kept") }) : null,
      roles);
  }

  renderInitial() {
    const keys = this.states.map((st) => st?.key);
    fill(this.initialEl,
      keys.includes(this.wf.initial) ? null : h("option", { value: this.wf.initial ?? "", selected: true, text: this.wf.initial || T("choose") }),
      this.states.map((st) => h("option", { value: st.key ?? "", selected: st.key === this.wf.initial, text: `${text(st.label)} (${st.key})` })));
  }

  /** Up, down and remove buttons for row `i` of `list`. */
  rowTools(list, i, kind, redraw) {
    const btn = (label, glyph, act, disabled) => h("button", { type: "button", class: "small", title: label, "aria-label": label, "data-do": act, text: glyph, disabled,
      on: { click: () => {
        if (act === "remove") { list.splice(i, 1); this.selected = null; }
        else { const to = act === "up" ? i - 1 : i + 1; move(list, i, to); this.selected = { kind, i: to }; }
        redraw();
        const row = root.querySelector(`tr[data-${kind}="${this.selected?.i}"] [data-do="${act}"]:not(:disabled)`);
        row?.focus();
      } } });
    return [btn(T("up"), "↑", "up", i === 0), btn(T("down"), "↓", "down", i === list.length - 1), btn(T("remove"), "✕", "remove", false)];
  }

  /** Tags naming the keywords of `obj` that the tables leave alone. */
  keptTags(obj, edited) {
    const kept = Object.keys(obj ?? {}).filter((k) => !edited.includes(k));
    return h("div", { class: "wf-kept" }, kept.map((k) => h("span", { class: "wf-kw", title: JSON.stringify(obj[k]).slice(0, 300), text: kwName(k) })));
  }

  keptNote(objs, edited) {
    const names = new Set();
    let n = 0;
    for (const o of objs) for (const k of Object.keys(o ?? {})) if (!edited.includes(k)) { n++; names.add(kwName(k)); }
    return n ? h("p", { class: "help wf-kept-note", "data-kept": n, text: T("kept", { n, names: [...names].join(lang === "zh" ? "、" : ", ") }) }) : null;
  }

  row(kind, i, cells) {
    const picked = this.selected?.kind === kind && this.selected.i === i;
    return h("tr", { [`data-${kind}`]: i, class: picked ? "selected" : null, on: { focusin: () => this.select(kind, i, false) } }, cells);
  }

  renderStates() {
    const cell = (label, ...c) => h("td", { "data-label": label }, ...c);
    const rows = this.states.map((st, i) => {
      const fieldsCell = cell(T("edit_fields"));
      const drawFields = () => fill(fieldsCell, st.edit
        ? picker("edit_fields", this.fieldOptions, () => st.edit.fields ?? null,
          (l) => { if (l === null) delete st.edit.fields; else st.edit.fields = l; this.changed(); },
          { all: true, summary: (l) => (l == null ? T("all_fields") : l.length ? T("n_fields", { n: l.length }) : T("no_fields")) })
        : h("span", { class: "help nowrap", title: T("need_roles_first"), text: T("nobody") }));
      drawFields();
      return this.row("state", i, [
        h("td", { class: "order", "data-label": T("order") }, this.rowTools(this.wf.states, i, "state", () => this.changed("states"))),
        cell(T("key"), h("input", { name: "key", value: st.key ?? "", autocapitalize: "none", spellcheck: "false", "aria-label": T("key"),
          on: { change: (ev) => this.renameState(i, ev.target.value.trim()) } })),
        cell(T("label"), h("input", { name: "label", value: text(st.label), "aria-label": T("label"),
          on: { input: (ev) => { st.label = ev.target.value; this.changed("state-names"); } } })),
        cell(T("complete"), h("label", { class: "check", title: T("complete_help") }, h("input", { type: "checkbox", name: "complete", checked: st.complete !== false, "aria-label": T("complete"),
          on: { change: (ev) => { if (ev.target.checked) delete st.complete; else st.complete = false; this.changed(); } } }))),
        cell(T("edit_roles"), chips("edit_roles", this.roleOptions, () => st.edit?.roles ?? [], (l) => {
          const had = !!st.edit;
          if (l.length) { st.edit ??= {}; st.edit.roles = l; } else delete st.edit;
          if (had !== !!st.edit) drawFields();
          this.changed();
        })),
        fieldsCell,
        h("td", { class: "kept", "data-label": T("other") }, this.keptTags(st, STATE_EDITED)),
      ]);
    });
    fill(this.statesEl,
      h("h3", { text: T("states") }),
      this.keptNote(this.states, STATE_EDITED),
      h("table", { class: "edit-table wf-table", "data-states": "" },
        h("thead", {}, h("tr", {}, [T("order"), T("key"), T("label"), T("complete"), T("edit_roles"), T("edit_fields"), T("other")].map((t) => h("th", { text: t })))),
        h("tbody", {}, rows)),
      h("div", { class: "tools" }, h("button", { type: "button", "data-add-state": "", text: `＋ ${T("add_state")}`, on: { click: () => this.addState() } })));
  }

  /** Renames a state and what names it (initial, from, to) — unless the new key is taken. */
  renameState(i, key) {
    const st = this.states[i], old = st.key;
    if (key === old) return;
    st.key = key;
    if (old && !this.states.some((o, j) => j !== i && o.key === key)) {
      if (this.wf.initial === old) this.wf.initial = key;
      for (const t of this.transitions) {
        if (Array.isArray(t.from)) t.from = t.from.map((f) => (f === old ? key : f));
        else if (t.from === old) t.from = key;
        if (t.to === old) t.to = key;
      }
    }
    this.changed("state-names");
  }

  addState() {
    const taken = new Set(this.states.map((st) => st.key));
    const at = this.selected?.kind === "state" ? this.selected.i + 1 : this.states.length;
    this.wf.states.splice(at, 0, { key: keyFrom("", taken, "state"), label: T("new_state") });
    this.selected = { kind: "state", i: at };
    this.changed("states");
    root.querySelector(`tr[data-state="${at}"] input[name=key]`)?.focus();
  }

  renderTransitions() {
    const cell = (label, ...c) => h("td", { "data-label": label }, ...c);
    const stateOptions = this.states.map((st) => ({ value: st.key, label: text(st.label) || st.key }));
    const rows = this.transitions.map((t, i) => {
      const keys = stateOptions.map((o) => o.value);
      return this.row("transition", i, [
        h("td", { class: "order", "data-label": T("order") }, this.rowTools(this.wf.transitions, i, "transition", () => this.changed("transitions"))),
        cell(T("action"), h("input", { name: "action", value: t.action ?? "", autocapitalize: "none", spellcheck: "false", "aria-label": T("action"),
          on: { input: (ev) => { t.action = ev.target.value.trim(); this.changed(); } } })),
        cell(T("button"), h("input", { name: "label", value: text(t.label), "aria-label": T("button"),
          on: { input: (ev) => { t.label = ev.target.value; this.changed(); } } })),
        cell(T("from"), picker("from", stateOptions, () => fromList(t),
          (l) => { t.from = l.length === 1 ? l[0] : l; this.changed(); },
          { summary: (l) => (l.length ? l.join(", ") : T("choose")) })),
        cell(T("to"), h("select", { name: "to", "aria-label": T("to"), on: { change: (ev) => { t.to = ev.target.value; this.changed(); } } },
          keys.includes(t.to) ? null : h("option", { value: t.to ?? "", selected: true, text: t.to || T("choose") }),
          stateOptions.map((o) => h("option", { value: o.value, selected: o.value === t.to, text: `${o.value} · ${o.label}` })))),
        h("td", { class: "roles", "data-label": T("roles") }, chips("roles", this.roleOptions, () => t.roles ?? [], (l) => { t.roles = l; this.changed(); })),
        this.orgCell(t),
        cell(T("comment_required"), h("label", { class: "check" }, h("input", { type: "checkbox", name: "comment_required", checked: t.comment_required === true,
          "aria-label": T("comment_required"),
          on: { change: (ev) => { if (ev.target.checked) t.comment_required = true; else delete t.comment_required; this.changed(); } } }))),
        cell(T("fields"), picker("fields", this.fieldOptions, () => t.fields ?? [],
          (l) => { if (l.length) t.fields = l; else delete t.fields; this.changed(); },
          { summary: (l) => (l.length ? T("n_fields", { n: l.length }) : T("no_fields")) })),
        h("td", { class: "kept", "data-label": T("other") }, this.keptTags(t, TRANSITION_EDITED)),
      ]);
    });
    fill(this.transitionsEl,
      h("h3", { text: T("transitions") }),
      this.keptNote(this.transitions, TRANSITION_EDITED),
      h("table", { class: "edit-table wf-table", "data-transitions": "" },
        h("thead", {}, h("tr", {}, [T("order"), T("action"), T("button"), T("from"), T("to"), T("roles"), T("org"), T("comment_required"), T("fields"), T("other")]
          .map((t) => h("th", { text: t })))),
        h("tbody", {}, rows)),
      h("div", { class: "tools" }, h("button", { type: "button", "data-add-transition": "", text: `＋ ${T("add_transition")}`, on: { click: () => this.addTransition() } })));
  }

  /** The org rule as a select of 5.8's forms, with the level or unit code beside it. */
  orgCell(t) {
    const td = h("td", { "data-label": T("org") });
    const draw = () => {
      const kind = orgKind(t.org);
      const select = h("select", { name: "org", "aria-label": T("org"), title: T(`orgh_${kind}`), on: { change: (ev) => {
        const k = ev.target.value;
        if (k === "") delete t.org;
        else if (k === "level") t.org = { level: 2 };
        else if (k === "unit") t.org = { unit: "" };
        else if (k !== "other") t.org = k;
        draw();
        this.changed();
      } } },
      ORG_KINDS.map((k) => h("option", { value: k, selected: k === kind, title: T(`orgh_${k}`), text: T(`org_${k}`) })),
      kind === "other" ? h("option", { value: "other", selected: true, text: T("org_other") }) : null);
      const extra = kind === "level"
        ? h("label", { class: "wf-org-extra", title: T("org_level_n") }, T("org_level_pre"), h("input", { type: "number", name: "org_level", min: 1, max: 20, value: t.org.level,
          "aria-label": T("org_level_n"), on: { input: (ev) => { const n = Number.parseInt(ev.target.value, 10); if (n >= 1) { t.org.level = n; this.changed(); } } } }), T("org_level_post"))
        : kind === "unit"
          ? h("label", { class: "wf-org-extra" }, T("org_unit_code"), h("input", { name: "org_unit", value: t.org.unit, autocapitalize: "none",
            on: { input: (ev) => { t.org.unit = ev.target.value.trim(); this.changed(); } } }))
          : null;
      fill(td, h("div", { class: "wf-org" }, select, extra));
    };
    draw();
    return td;
  }

  addTransition() {
    const taken = new Set(this.transitions.map((t) => t.action));
    const keys = this.states.map((st) => st.key);
    const from = this.selected?.kind === "state" ? keys[this.selected.i] : this.wf.initial ?? keys[0];
    const to = keys[keys.indexOf(from) + 1] ?? keys[0] ?? "";
    this.wf.transitions.push({ action: keyFrom("", taken, "action"), label: T("new_transition"), from: from ?? "", to, roles: [] });
    const i = this.transitions.length - 1;
    this.selected = { kind: "transition", i };
    this.changed("transitions");
    root.querySelector(`tr[data-transition="${i}"] input[name=action]`)?.focus();
  }

  drawDiagram() {
    const fitWidth = this.diagramEl.clientWidth - 2;
    this.diagramEl.replaceChildren(diagram(this.wf, { selected: this.selected, fitWidth, onPick: (kind, i) => this.select(kind, i, true) }));
  }

  /** Selects a state or transition: its row is marked (and shown, from the diagram) and its shape highlighted. */
  select(kind, i, reveal) {
    const same = this.selected?.kind === kind && this.selected.i === i;
    this.selected = { kind, i };
    for (const tr of root.querySelectorAll("tr.selected")) tr.classList.remove("selected");
    const row = root.querySelector(`tr[data-${kind}="${i}"]`);
    row?.classList.add("selected");
    if (reveal) {
      if (this.tab !== "tables") this.showTab("tables");
      row?.scrollIntoView({ block: "nearest", behavior: "smooth" });
      row?.querySelector("input, select")?.focus({ preventScroll: true });
    }
    if (!same) this.drawDiagram();
  }

  /** Check and publish; a problem in the list, clicked, shows the row it points at. */
  publishBar() {
    const bar = publishBar(this.draft, {
      file: this.path,
      validate: () => { const found = validate(this.wf, this.path); this.markProblems(found); return found; },
      onChecked: (result) => this.markProblems(result.problems ?? []),
      onPublished: () => this.published(),
    });
    bar.querySelector(".publish-problems").addEventListener("click", (ev) => {
      const where = ev.target.closest("li")?.querySelector("code")?.textContent ?? "";
      const m = /^([^#]+)#\/(states|transitions)\/(\d+)/.exec(where);
      if (m && m[1] === this.path) this.select(m[2] === "states" ? "state" : "transition", Number(m[3]), true);
    });
    return bar;
  }

  /** Marks the rows a problem points at (local or the server's). */
  markProblems(problems) {
    for (const tr of root.querySelectorAll("tr.has-problem")) tr.classList.remove("has-problem");
    for (const p of problems) {
      if (p.file !== this.path) continue;
      const m = /^\/(states|transitions)\/(\d+)/.exec(p.pointer ?? "");
      if (m) root.querySelector(`tr[data-${m[1] === "states" ? "state" : "transition"}="${m[2]}"]`)?.classList.add("has-problem");
    }
  }

  jsonPanel() {
    this.jsonText = h("textarea", { class: "json-view", name: "json", spellcheck: "false", "aria-label": "JSON" });
    this.jsonStatus = h("div", { class: "json-status", role: "status" });
    return h("div", { class: "wf-json", hidden: true }, this.jsonText, this.jsonStatus,
      h("div", { class: "tools" },
        h("button", { type: "button", text: T("json_reset"), on: { click: () => this.fillJson() } }),
        h("button", { type: "button", class: "primary", "data-apply-json": "", text: T("json_apply"), on: { click: () => this.applyJson() } })));
  }

  fillJson() {
    this.jsonText.value = JSON.stringify(this.wf, null, 2);
    fill(this.jsonStatus);
  }

  /** Replaces the workflow by the text, if it parses into the right shape. */
  applyJson() {
    let value;
    try { value = JSON.parse(this.jsonText.value); } catch (e) {
      fill(this.jsonStatus, h("p", { class: "alert", "data-json-error": "", text: T("json_error", { message: e.message }) }));
      return false;
    }
    if (!value || typeof value !== "object" || Array.isArray(value) || !Array.isArray(value.states) || !Array.isArray(value.transitions)) {
      fill(this.jsonStatus, h("p", { class: "alert", "data-json-error": "", text: T("json_shape") }));
      return false;
    }
    if (JSON.stringify(value) === JSON.stringify(this.wf)) { fill(this.jsonStatus); return true; }
    this.wf = value;
    this.selected = null;
    this.changed("head", "states");
    fill(this.jsonStatus, h("p", { class: "notice ok", text: T("json_applied") }));
    return true;
  }

  /** Shows a tab; leaving the JSON tab applies edited text first (and stays if it cannot). */
  showTab(id) {
    if (this.tab === "json" && id !== "json" && this.jsonText.value !== JSON.stringify(this.wf, null, 2) && !this.applyJson()) return;
    if (id === "json" && this.tab !== "json") this.fillJson();
    this.tab = id;
    for (const b of this.tabs.querySelectorAll("button")) b.setAttribute("aria-selected", String(b.dataset.tab === id));
    this.tablesEl.hidden = id !== "tables";
    this.jsonEl.hidden = id !== "json";
  }

  /** After publishing: the draft starts again on the pack's new revision. */
  async published() {
    fill(this.doneEl, h("p", { class: "notice ok", "data-done": "" }, T("published"), " ", h("a", { href: "/designer", text: T("back") })));
    if (this.isNew) { this.isNew = false; history.replaceState(null, "", `/designer/${encodeURIComponent(this.pack.id)}/workflows/${encodeURIComponent(this.key)}`); }
    try {
      this.draft.pack = await Pack.open(this.pack.id);
      this.pack = this.draft.pack;
    } catch { /* the next check reports the pack as changed */ }
    this.draft.files = {};
    this.draft.deleted.clear();
    this.draft.changed();
    this.publishedStates = this.states.map((st) => st?.key);
    this.warnGone();
  }
}

// ---------------------------------------------------------------------------------------
// A new workflow: its key and label, and the roles that file and review, fill a template.

function template(label, filer, reviewer) {
  const roles = (r) => (r ? [r] : []);
  return {
    label,
    initial: "draft",
    states: [
      { key: "draft", label: T("tpl_draft"), complete: false, edit: { roles: roles(filer) } },
      { key: "submitted", label: T("tpl_submitted") },
      { key: "approved", label: T("tpl_approved") },
    ],
    transitions: [
      { action: "submit", label: T("tpl_submit"), from: "draft", to: "submitted", roles: roles(filer) },
      { action: "approve", label: T("tpl_approve"), from: "submitted", to: "approved", roles: roles(reviewer) },
      { action: "reject", label: T("tpl_reject"), from: "submitted", to: "draft", roles: roles(reviewer), comment_required: true },
    ],
  };
}

function startForm(pack) {
  const taken = new Set(pack.keys("workflows"));
  const roles = Object.entries(pack.roles?.roles ?? {});
  const roleSelect = (name, pickIndex) => h("select", { name },
    roles.map(([k, r], i) => h("option", { value: k, selected: i === pickIndex, text: `${text(r?.label) || k} (${k})` })));
  const label = h("input", { name: "wf_label", value: T("tpl_label"), required: true });
  const key = h("input", { name: "wf_key", value: keyFrom("", taken, "workflow"), required: true, autocapitalize: "none", spellcheck: "false" });
  const filer = roleSelect("filer", 0), reviewer = roleSelect("reviewer", Math.min(1, roles.length - 1));
  const problem = h("div", { role: "status" });
  const form = h("form", { class: "card wf-start" },
    h("h2", { text: T("new_title") }),
    h("p", { class: "help", text: T("start_help") }),
    roles.length ? null : h("p", { class: "notice" }, T("no_roles"), h("a", { href: `/designer/${encodeURIComponent(pack.id)}/roles`, text: T("roles_matrix") })),
    h("div", { class: "head" },
      h("label", {}, T("wf_label"), label),
      h("label", {}, T("wf_key"), key),
      roles.length ? [h("label", {}, T("filer"), filer), h("label", {}, T("reviewer"), reviewer)] : null),
    problem,
    h("div", { class: "tools" }, h("button", { type: "submit", class: "primary", text: T("start") })));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const k = key.value.trim();
    const wrong = !isKey(k) ? T("v_key", { key: k }) : taken.has(k) ? T("key_taken", { key: k }) : !label.value.trim() ? T("v_label") : null;
    if (wrong) { problem.replaceChildren(h("p", { class: "alert", text: wrong })); return; }
    const wf = template(label.value.trim(), roles.length ? filer.value : null, roles.length ? reviewer.value : null);
    new WorkflowDesigner(pack, k, wf, true).render();
  });
  root.replaceChildren(form);
  label.focus();
}

const root = document.getElementById("designer");

// An open chooser folds again when one clicks elsewhere.
document.addEventListener("click", (ev) => {
  for (const d of document.querySelectorAll("details.pick[open]")) if (!d.contains(ev.target)) d.open = false;
});

async function main() {
  const pack = await Pack.open(root.dataset.pack);
  const key = root.dataset.key;
  if (!key) return startForm(pack);
  const wf = pack.json(`workflows/${key}.json`);
  if (!wf || typeof wf !== "object") throw new Error(T("no_workflow", { key }));
  new WorkflowDesigner(pack, key, wf, false).render();
}

main().catch((e) => root.replaceChildren(h("p", { class: "alert", text: e.message })));
