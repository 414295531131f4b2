// form.js — enhances a form page rendered by form_runtime::html, i.e. any
// <form data-fw-form data-evaluate-url="…">:
//   1. repeating sections: add and remove rows (within data-min / data-max);
//   2. attachments: upload chosen files at once, with progress, and keep their ids;
//   3. live evaluation: computed values and conditional fields follow the answers.
// The form works without it: every input is posted under its JSON pointer, the server
// computes, hides and checks on save, and offers enough empty rows for a first entry.
// A plain ES module: no build step, no dependencies.

const DEBOUNCE_MS = 400;
const english = document.documentElement.lang.startsWith("en");
const WORDS = english
  ? { keep: "Keep", failed: "Upload failed", offline: "Upload failed: no connection" }
  : { keep: "保留", failed: "上传失败", offline: "上传失败：网络连接中断" };

for (const form of document.querySelectorAll("form[data-fw-form]")) enhance(form);

function enhance(form) {
  const evaluate = liveEvaluation(form);
  for (const repeat of form.querySelectorAll("fieldset.fw-repeat")) {
    repeatingSection(repeat, evaluate);
  }
  for (const input of form.querySelectorAll("input[type=file][data-upload-url]")) {
    uploads(form, input);
  }
}

// ---- 1. Repeating sections -------------------------------------------------------------

function repeatingSection(fieldset, changed) {
  const rows = fieldset.querySelector(".fw-rows");
  const template = fieldset.querySelector(":scope > template");
  const add = fieldset.querySelector(":scope > .fw-add");
  if (!rows || !template || !add) return;
  const pointer = fieldset.dataset.pointer;
  const idPrefix = fieldset.id;
  const min = Number(fieldset.dataset.min || 0);
  const max = fieldset.dataset.max ? Number(fieldset.dataset.max) : Infinity;
  const list = () => [...rows.querySelectorAll(":scope > .fw-row")];

  const bounds = () => {
    const n = list().length;
    add.disabled = n >= max;
    for (const row of list()) row.querySelector(":scope > .fw-remove").disabled = n <= min;
  };
  const wire = (row) => {
    const remove = row.querySelector(":scope > .fw-remove");
    remove.hidden = false;
    remove.addEventListener("click", () => {
      row.remove();
      list().forEach((r, i) => renumber(r, i, pointer, idPrefix));
      bounds();
      add.focus();
      changed();
    });
  };

  add.hidden = false;
  list().forEach(wire);
  bounds();
  add.addEventListener("click", () => {
    const index = String(list().length);
    rows.insertAdjacentHTML("beforeend", template.innerHTML.replaceAll("__i__", index));
    const row = rows.lastElementChild;
    wire(row);
    bounds();
    row.querySelector("input:not([type=hidden]), select, textarea")?.focus();
    changed();
  });
}

// Gives a row the index `to`: its pointer names and the ids derived from them.
function renumber(row, to, pointer, idPrefix) {
  const from = row.dataset.pointer.slice(pointer.length + 1);
  if (from === String(to)) return;
  const swap = (v) =>
    v.replaceAll(`${pointer}/${from}/`, `${pointer}/${to}/`).replaceAll(`${idPrefix}-${from}-`, `${idPrefix}-${to}-`);
  row.dataset.pointer = `${pointer}/${to}`;
  for (const el of row.querySelectorAll("[name], [id], [for], [aria-describedby], [data-pointer]")) {
    for (const attr of ["name", "id", "for", "aria-describedby", "data-pointer"]) {
      const v = el.getAttribute(attr);
      if (v !== null) el.setAttribute(attr, swap(v));
    }
  }
}

// ---- 2. Attachments --------------------------------------------------------------------

let uploadCount = 0;

function uploads(form, input) {
  const field = input.closest(".fw-field");
  const list = field.querySelector(".fw-files");
  const csrf = form.querySelector("input[name=_csrf]")?.value;

  input.addEventListener("change", () => {
    for (const file of input.files) upload(file);
    input.value = "";
  });

  function upload(file) {
    const item = document.createElement("li");
    const progress = document.createElement("progress");
    progress.max = 1;
    progress.value = 0;
    item.append(file.name, " ", progress);
    list.append(item);

    const xhr = new XMLHttpRequest();
    xhr.open("POST", input.dataset.uploadUrl);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Accept-Language", document.documentElement.lang);
    if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress.value = e.loaded / e.total;
    });
    xhr.addEventListener("load", () => {
      let answer = null;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch {
        // Not JSON: a proxy's error page. The status says enough.
      }
      if (xhr.status === 201 && answer?.id) {
        uploaded(item, answer, file.name);
      } else {
        item.remove();
        const e = answer?.error;
        uploadError(e?.fields?.[0]?.message || e?.message || `${WORDS.failed} (${xhr.status})`);
      }
    });
    xhr.addEventListener("error", () => {
      item.remove();
      uploadError(WORDS.offline);
    });
    xhr.send(file);
  }

  // The id goes into the form like the files already kept: a ticked box under the field's
  // pointer, so unticking lets go of it. A one-file field keeps only the newest.
  function uploaded(item, answer, name) {
    clearErrors(field);
    if (!input.multiple) for (const other of list.querySelectorAll("li")) if (other !== item) other.remove();
    const id = `${input.id}--upload${++uploadCount}`;
    const box = Object.assign(document.createElement("input"), {
      type: "checkbox", id, name: field.dataset.pointer, value: answer.id, checked: true,
    });
    const link = Object.assign(document.createElement("a"), {
      href: `/api/v1/attachments/${encodeURIComponent(answer.id)}`, textContent: answer.name || name,
    });
    const label = Object.assign(document.createElement("label"), { htmlFor: id });
    label.append(`${WORDS.keep} `, link);
    item.replaceChildren(box, label);
    box.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function uploadError(message) {
    clearErrors(field);
    const p = Object.assign(document.createElement("p"), {
      className: "fw-error", id: `${input.id}--upload-error`, textContent: message,
    });
    p.setAttribute("role", "alert");
    input.after(p);
    input.setAttribute("aria-invalid", "true");
    const described = input.getAttribute("aria-describedby");
    input.setAttribute("aria-describedby", described ? `${described} ${p.id}` : p.id);
  }
}

// ---- 3. Live evaluation ----------------------------------------------------------------

// Returns a function that asks for an evaluation soon (debounced).
function liveEvaluation(form) {
  const url = form.dataset.evaluateUrl;
  let timer = 0;
  let inFlight = null;

  async function evaluate() {
    inFlight?.abort();
    inFlight = new AbortController();
    try {
      const res = await fetch(url, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: inFlight.signal,
      });
      if (res.ok) apply(form, await res.json());
    } catch {
      // Superseded or offline: the server computes and checks again on save.
    }
  }
  const soon = () => {
    if (!url) return;
    clearTimeout(timer);
    timer = setTimeout(evaluate, DEBOUNCE_MS);
  };
  const changed = (e) => {
    if (e.target.type === "file") return; // an upload reports its own outcome
    clearErrors(e.target.closest(".fw-field"));
    soon();
  };
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  return soon;
}

// Errors are not shown live (half-typed values would flash red): the answer's `errors`
// are left for the save, and only computed values and visibility follow.
function apply(form, answer) {
  for (const [pointer, text] of Object.entries(answer.computed || {})) {
    for (const el of form.querySelectorAll(`[data-computed][data-pointer="${CSS.escape(pointer)}"]`)) {
      el.value = text ?? "";
    }
  }
  const hidden = new Set(answer.hidden || []);
  for (const el of form.querySelectorAll(".fw-field[data-pointer]")) {
    if (hidden.has(el.dataset.pointer)) el.hidden = true;
    else if (el.hasAttribute("data-visible-if")) el.hidden = false;
  }
}

// Takes the error messages off a field the user has just changed.
function clearErrors(field) {
  if (!field) return;
  for (const p of field.querySelectorAll(":scope > .fw-error")) p.remove();
  for (const el of [field, ...field.querySelectorAll("[aria-invalid]")]) {
    el.removeAttribute("aria-invalid");
    const ids = (el.getAttribute("aria-describedby") || "").split(" ").filter((id) => document.getElementById(id));
    if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
    else el.removeAttribute("aria-describedby");
  }
}
