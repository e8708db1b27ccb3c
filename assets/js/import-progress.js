// The bases import progress bar (templates/registry/import_job.html): while the job is importing,
// POST each chunk to the step URL, move the bar and the status line, and reload the page when done.
// Without script (or when a step fails) the "Continue importing" button does the same one chunk a click.
(() => {
  "use strict";
  const box = document.getElementById("import-progress");
  if (!box || box.dataset.state !== "importing" || !window.fetch) return;
  const bar = box.querySelector("progress");
  const text = document.getElementById("progress-text");
  const form = document.getElementById("step-form");
  const tpl = JSON.parse(document.getElementById("progress-template").textContent).text;
  const token = document.querySelector('meta[name="csrf-token"]')?.content || "";
  if (form) form.hidden = true;
  function step() {
    fetch(box.dataset.step, {
      method: "POST",
      headers: { Accept: "application/json", "x-csrftoken": token },
      credentials: "same-origin",
    })
      .then((r) => {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then((p) => {
        bar.max = p.total;
        bar.value = p.processed;
        bar.textContent = p.percent + "%";
        text.textContent = tpl.replace("{done}", p.processed).replace("{total}", p.total)
          .replace("{created}", p.created).replace("{updated}", p.updated).replace("{unchanged}", p.unchanged);
        if (p.state === "importing") step();
        else window.location.reload();
      })
      .catch(() => { if (form) form.hidden = false; });
  }
  step();
})();
