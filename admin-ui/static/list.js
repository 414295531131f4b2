// The export buttons of a list page. A small export downloads at once; a large one runs as
// a job on the server, whose progress (rows done of rows in all) shows under the buttons with
// a cancel button, then a download link. Without JavaScript the links download directly.
const box = document.querySelector("[data-export-status]");
const say = (key) => box?.dataset[key] ?? key;
// The API answers in the page's language.
const lang = { "Accept-Language": document.documentElement.lang };

function show(...nodes) {
  box.hidden = false;
  box.replaceChildren(...nodes);
}

function text(t) {
  const p = document.createElement("span");
  p.textContent = t;
  return p;
}

function fileName(response, fallback) {
  const cd = response.headers.get("content-disposition") ?? "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd);
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="([^"]+)"/i.exec(cd);
  return plain ? plain[1] : fallback;
}

async function download(response, fallback) {
  const url = URL.createObjectURL(await response.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: fileName(response, fallback) });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function problem(response) {
  try {
    const body = await response.json();
    return body.error?.message ?? response.statusText;
  } catch {
    return response.statusText;
  }
}

async function follow(job) {
  const bar = Object.assign(document.createElement("progress"), { max: Math.max(job.rows_total, 1), value: 0 });
  const label = text("");
  const cancel = Object.assign(document.createElement("button"), { type: "button", textContent: say("cancel") });
  cancel.addEventListener("click", () => fetch(`/api/v1/export-jobs/${job.id}`, { method: "DELETE", headers: lang }));
  show(bar, label, cancel);
  for (;;) {
    const r = await fetch(`/api/v1/export-jobs/${job.id}`, { headers: lang });
    if (!r.ok) return show(text(await problem(r)));
    job = await r.json();
    bar.max = Math.max(job.rows_total, 1);
    bar.value = job.rows_done;
    label.textContent = `${say("running")} ${job.rows_done} / ${job.rows_total}`;
    if (job.status === "done") {
      const link = Object.assign(document.createElement("a"), { href: job.file_url, textContent: say("done"), className: "button primary" });
      return show(link);
    }
    if (job.status === "failed" || job.status === "cancelled") return show(text(`${say(job.status)} ${job.error ?? ""}`));
    await new Promise((resolve) => setTimeout(resolve, 800));
  }
}

for (const a of document.querySelectorAll("a[data-export]")) {
  a.addEventListener("click", async (event) => {
    if (!box) return;
    event.preventDefault();
    show(text(say("preparing")));
    const r = await fetch(a.href, { headers: lang });
    if (r.status === 202) return follow(await r.json());
    if (!r.ok) return show(text(await problem(r)));
    await download(r, "export");
    show(text(say("downloaded")));
  });
}
