// Walk-in tally on the door scanner: +1/−1 for adults and young people who came without a booking.
// Each tap is queued in localStorage with a nonce and sent to /staff/walk-ins; when the network is
// down the taps wait on this phone and are sent (once each: the server ignores a nonce it has seen)
// when it returns. The totals shown are the server's for today plus what still waits here.
(() => {
  "use strict";
  const box = document.getElementById("walkins");
  if (!box) return;
  const url = box.dataset.url;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const T = JSON.parse(document.getElementById("walkin-text").textContent);
  const QUEUE = "kepu.walkins.pending";
  const SHOWN = "kepu.walkins.shown";
  const out = { adults: document.getElementById("walkin-adults"), youth: document.getElementById("walkin-youth") };
  const status = document.getElementById("walkin-sync");
  const today = () => new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" });
  const read = (key, fallback) => {
    try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch (e) { return fallback; }
  };
  const queue = () => read(QUEUE, []);
  const nonce = () => (self.crypto && crypto.randomUUID ? crypto.randomUUID()
    : Date.now().toString(36) + Math.random().toString(36).slice(2));

  function server() {
    const s = read(SHOWN, null);
    return s && s.day === today() ? s : { day: today(), adults: 0, youth: 0 };
  }

  function totals() {
    const t = { ...server() };
    for (const p of queue()) if (p.day === t.day) { t.adults += p.adults; t.youth += p.youth; }
    return t;
  }

  function render() {
    const t = totals(), waiting = queue().length;
    out.adults.textContent = String(Math.max(0, t.adults));
    out.youth.textContent = String(Math.max(0, t.youth));
    box.dataset.pending = String(waiting);
    status.textContent = waiting ? T.pending.replace("{n}", waiting) : T.total.replace("{n}", Math.max(0, t.adults) + Math.max(0, t.youth));
  }

  function remember(body) {
    if (body && body.day === today()) localStorage.setItem(SHOWN, JSON.stringify({ day: body.day, adults: body.adults, youth: body.youth }));
  }

  let sending = false;
  async function flush() {
    if (sending) return;
    sending = true;
    try {
      for (let q = queue(); q.length; q = queue()) {
        const item = q[0];
        const r = await fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: { "content-type": "application/json", accept: "application/json", "x-csrftoken": csrf },
          body: JSON.stringify(item),
        });
        if (r.ok) remember(await r.json());
        else if (r.status >= 500 || r.status === 401 || r.status === 403 || r.status === 408 || r.status === 429) break;
        // Counted, or refused for good (e.g. a day too old): either way it leaves the queue.
        localStorage.setItem(QUEUE, JSON.stringify(queue().filter((p) => p.nonce !== item.nonce)));
      }
    } catch (e) {
      // No network: the taps stay queued on this phone.
    } finally {
      sending = false;
      render();
    }
  }

  box.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-step]");
    if (!button) return;
    const kind = button.closest("[data-kind]").dataset.kind;
    const step = Number(button.dataset.step);
    if (step < 0 && totals()[kind] <= 0) return;
    const q = queue();
    q.push({ adults: kind === "adults" ? step : 0, youth: kind === "youth" ? step : 0, day: today(), nonce: nonce() });
    localStorage.setItem(QUEUE, JSON.stringify(q));
    render();
    flush();
    // A hand-held scanner types into the code field and presses Enter: after a mouse click on a
    // counter, give the field its focus back, or the scanner's Enter would press this button again.
    if (event.detail > 0 && !window.matchMedia("(pointer: coarse)").matches) {
      document.getElementById("scan-token")?.focus();
    }
  });

  async function refresh() {
    try {
      const r = await fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } });
      if (r.ok) remember(await r.json());
    } catch (e) { /* offline: keep the last totals */ }
    render();
  }

  window.addEventListener("online", flush);
  setInterval(() => { if (queue().length) flush(); else refresh(); }, 20000);
  render();
  refresh().then(flush);
})();
