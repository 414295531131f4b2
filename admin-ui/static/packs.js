// The pack upload of the admin pages: sends the chosen .zip to POST /api/v1/admin/packs
// (with dry_run for "check only") and shows what was checked or installed, or every problem
// by file and pointer.
const form = document.querySelector("[data-pack-upload]");
const out = document.querySelector("[data-pack-result]");

function line(text, cls) {
  const p = document.createElement("p");
  p.textContent = text;
  if (cls) p.className = cls;
  return p;
}

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = form.querySelector("input[type=file]").files[0];
  if (!file) return;
  const dry = event.submitter?.name === "check";
  out.hidden = false;
  out.replaceChildren(line("…"));
  const r = await fetch(`/api/v1/admin/packs${dry ? "?dry_run=true" : ""}`, {
    method: "POST", body: file, headers: { "Content-Type": "application/zip", Accept: "application/json", "Accept-Language": document.documentElement.lang },
  });
  const body = await r.json().catch(() => ({}));
  if (r.ok) {
    const c = body.checked ?? {};
    const lines = [line(`${dry ? out.dataset.ok : out.dataset.installed} ${c.name ?? ""} (${c.pack} ${c.version})`, "notice")];
    for (const [form, version] of body.installed?.published ?? []) lines.push(line(`${form} → v${version}`));
    out.replaceChildren(...lines);
    if (!dry) setTimeout(() => location.reload(), 1500);
    return;
  }
  const lines = [line(body.error?.message ?? r.statusText, "alert")];
  for (const p of body.problems ?? []) lines.push(line(`${p.file}${p.pointer ? "#" + p.pointer : ""}: ${p.reason}`, "fw-error"));
  for (const f of body.error?.fields ?? []) lines.push(line(f.message, "fw-error"));
  out.replaceChildren(...lines);
});
