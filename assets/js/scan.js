// Door scanner (/staff/scan): reads a pass from the camera (the browser's own BarcodeDetector where it
// reads QR codes, else the vendored ZXing-wasm ponyfill, loaded only then), from a hand-held scanner
// that types the code and presses Enter, or from a typed code, and shows the verdict full screen.
// Every request carries a fresh nonce, so the one automatic retry after a lost answer cannot admit twice.
"use strict";
(() => {
  const root = document.getElementById("scan");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const T = JSON.parse($("scan-text").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const checkUrl = root.dataset.checkUrl;
  const vendor = root.dataset.vendor;
  const WARN = new Set(["already_checked_in", "too_many", "too_few_adults", "outside_window", "not_listed"]);
  // On a phone, focusing the code field would pop the keyboard over the camera; only refocus elsewhere.
  const refocus = !window.matchMedia("(pointer: coarse)").matches;
  const SCAN_EVERY_MS = 120;
  const SAME_CODE_QUIET_MS = 4000; // a pass held in view is read once, not every frame
  const ANSWER_MS = 5000;
  const timeout = (ms) => (AbortSignal.timeout ? AbortSignal.timeout(ms) : undefined);

  const form = $("scan-form"), tokenInput = $("scan-token");
  const studentsInput = $("scan-students"), chaperonesInput = $("scan-chaperones");
  const result = $("scan-result"), part = $("scan-part");
  let busy = false;
  let shown = null; // the token whose verdict is on screen

  function newNonce() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // The verdict from the server, or null when the network did not answer (then the device decides).
  async function post(body) {
    const init = {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json", "x-csrftoken": csrf },
      body: JSON.stringify(body),
    };
    for (let attempt = 0; ; attempt++) {
      try {
        // A door does not wait long for a weak signal: the nonce makes deciding offline safe even
        // if this request did arrive.
        const r = await fetch(checkUrl, { ...init, signal: timeout(ANSWER_MS) });
        setReachable(true);
        if (!(r.headers.get("content-type") || "").includes("json")) {
          return { result: "error", status_code: r.status, detail: T.error }; // signed out, or a page
        }
        const out = await r.json();
        return out.result ? out : { result: "error", status_code: r.status, detail: out.detail || T.error };
      } catch (e) {
        if (attempt >= 1 || !navigator.onLine || e.name === "TimeoutError" || e.name === "AbortError") {
          setReachable(false);
          return null;
        }
      }
    }
  }

  function count(input) {
    const v = input.value.trim();
    return v === "" ? undefined : Number(v);
  }

  async function check(token, counts) {
    token = token.trim();
    if (!token || busy) return;
    busy = true;
    root.dataset.state = "checking";
    $("scan-submit").disabled = true;
    try {
      // One nonce per scan: if the answer is lost and the scan is queued offline, the server still
      // applies it once.
      const scan = { token, ...counts, nonce: newNonce(), scanned_at: new Date().toISOString() };
      let out = navigator.onLine ? await post(scan) : null;
      if (out) remember(out);
      else out = await offline.check(scan);
      show(token, out);
    } finally {
      busy = false;
      $("scan-submit").disabled = false;
    }
  }

  const people = (s, c) => T.people.replace("{s}", s).replace("{c}", c);

  function show(token, out) {
    const tone = out.result === "admitted" ? "ok" : WARN.has(out.result) ? "warn" : "bad";
    shown = token;
    result.dataset.result = out.result;
    result.dataset.tone = tone;
    $("scan-result-title").textContent =
      (out.result === "admitted" ? "✓ " + T.admitted : tone === "warn" ? "! " + T.check
        : out.result === "error" ? "✕ " + T.error : "✕ " + T.refused) + (out.offline ? " " + T.offline_title : "");
    result.dataset.offline = out.offline ? "1" : "0";
    $("scan-result-detail").textContent = out.detail || "";
    const known = out.school_name != null;
    $("scan-facts").hidden = !known;
    part.hidden = true;
    if (known) {
      $("scan-school").textContent = out.school_name;
      $("scan-class").textContent = [out.grade, out.class_name].filter(Boolean).join(" ") || "—";
      $("scan-booked").textContent = people(out.booked_students, out.booked_chaperones);
      $("scan-admitted").textContent = people(out.admitted_students, out.admitted_chaperones);
      const leftS = out.booked_students - out.admitted_students;
      const leftC = out.booked_chaperones - out.admitted_chaperones;
      // "Admit the next bus": what remains, one tap, adjustable. Only where the pass itself is good.
      if ((leftS > 0 || leftC > 0) && (out.result === "admitted" || WARN.has(out.result))
          && out.result !== "outside_window") {
        const s = $("scan-part-students"), c = $("scan-part-chaperones");
        s.value = String(leftS); s.max = String(leftS);
        c.value = String(leftC); c.max = String(leftC);
        part.hidden = false;
      }
    }
    result.hidden = false;
    root.dataset.state = "result";
    document.body.classList.add("scan-showing");
    if (refocus) tokenInput.focus();
  }

  function dismiss() {
    result.hidden = true;
    shown = null;
    root.dataset.state = "ready";
    document.body.classList.remove("scan-showing");
    if (refocus) tokenInput.focus();
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const counts = {};
    const s = count(studentsInput), c = count(chaperonesInput);
    if (s !== undefined) counts.students = s;
    if (c !== undefined) counts.chaperones = c;
    const token = tokenInput.value;
    tokenInput.value = "";
    // Entered counts are for this class only; the next scan admits everyone booked again.
    studentsInput.value = ""; chaperonesInput.value = "";
    $("scan-counts").open = false;
    check(token, counts);
  });

  part.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (shown) check(shown, { students: count($("scan-part-students")) || 0, chaperones: count($("scan-part-chaperones")) || 0 });
  });

  $("scan-next").addEventListener("click", dismiss);

  // -- offline ---------------------------------------------------------------------------------------
  // The bundle (venue keys, today's roster, cancelled ids) and the queue of scans made with no network
  // live in IndexedDB, so a reload without network still has them.
  const bundleUrl = root.dataset.bundleUrl, uploadUrl = root.dataset.uploadUrl;
  let reachable = navigator.onLine;
  let waiting = 0;

  function idb() {
    return (idb.open ??= new Promise((resolve, reject) => {
      const req = indexedDB.open("kepu-scan", 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore("bundle");
        req.result.createObjectStore("queue", { keyPath: "nonce" });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    }));
  }

  async function store(name, mode, work) {
    const db = await idb();
    return new Promise((resolve, reject) => {
      const t = db.transaction(name, mode);
      const req = work(t.objectStore(name));
      t.oncomplete = () => resolve(req ? req.result : undefined);
      t.onerror = () => reject(t.error);
    });
  }

  function status() {
    const mode = reachable && navigator.onLine ? "online" : "offline";
    const box = $("scan-sync");
    box.dataset.mode = mode;
    box.dataset.waiting = String(waiting);
    $("scan-mode").textContent = mode === "online" ? T.online : T.offline;
    $("scan-waiting").textContent = waiting ? T.waiting.replace("{n}", waiting) : "";
    $("scan-offline-hint").textContent = mode === "offline" ? T.offline_hint : "";
  }

  function setReachable(ok) {
    const back = ok && !reachable;
    reachable = ok;
    status();
    if (back) sync();
  }

  // An online verdict updates the roster, so a later offline scan counts who is already in.
  async function remember(out) {
    if (out.booking_id == null || out.admitted_students == null) return;
    const bundle = await store("bundle", "readonly", (s) => s.get("current")).catch(() => null);
    const entry = bundle && bundle.bookings[String(out.booking_id)];
    if (!entry) return;
    entry.admitted_students = out.admitted_students;
    entry.admitted_chaperones = out.admitted_chaperones;
    await store("bundle", "readwrite", (s) => s.put(bundle, "current"));
  }

  let syncing = false;
  async function sync() {
    if (syncing || !navigator.onLine) return;
    syncing = true;
    try {
      const queued = await store("queue", "readonly", (s) => s.getAll());
      if (queued.length) {
        const items = queued.map(({ token, students, chaperones, nonce, scanned_at }) =>
          ({ token, students, chaperones, nonce, scanned_at }));
        const r = await fetch(uploadUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "content-type": "application/json", accept: "application/json", "x-csrftoken": csrf },
          body: JSON.stringify(items),
        });
        if (r.ok && (r.headers.get("content-type") || "").includes("json")) {
          const { results } = await r.json();
          // Applied (or found applied before, by nonce): off the queue.
          await store("queue", "readwrite", (s) => { results.forEach((x) => s.delete(x.nonce)); });
        }
      }
      const r = await fetch(bundleUrl, { credentials: "same-origin", headers: { accept: "application/json" } });
      if (r.ok && (r.headers.get("content-type") || "").includes("json")) {
        const bundle = await r.json();
        await store("bundle", "readwrite", (s) => s.put(bundle, "current"));
      }
      reachable = true;
      root.dataset.synced = String(Date.now());
    } catch (e) {
      reachable = false;
    } finally {
      waiting = await store("queue", "readonly", (s) => s.count()).catch(() => waiting);
      syncing = false;
      status();
    }
  }

  const offline = (() => {
    const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const CODE = /^[abcdefghjkmnpqrstuvwxyz23456789]{8}$/;
    const keyCache = new Map();

    function base32(text) {
      const out = [];
      let bits = 0, value = 0;
      for (const ch of text) {
        const v = B32.indexOf(ch);
        if (v < 0) return null;
        value = ((value << 5) | v) & 0xfff;
        bits += 5;
        if (bits >= 8) { bits -= 8; out.push((value >> bits) & 0xff); }
      }
      return (value & ((1 << bits) - 1)) === 0 ? new Uint8Array(out) : null; // canonical spelling only
    }

    // The pass format of bookings/tickets.py: "KP1." + base32(payload ">BHIIH" + Ed25519 signature
    // over b"KP1" + payload).
    function parse(token) {
      const text = token.trim().toUpperCase();
      if (!/^KP1\.[A-Z2-7]{124}$/.test(text)) return null;
      const raw = base32(text.slice(4));
      if (!raw || raw.length !== 77 || raw[0] !== 1) return null;
      const view = new DataView(raw.buffer);
      const payload = raw.slice(0, 13);
      const signed = new Uint8Array(16);
      signed.set([75, 80, 49]); signed.set(payload, 3);
      const day = new Date(Date.UTC(2000, 0, 1) + view.getUint16(11) * 86400000).toISOString().slice(0, 10);
      return { kid: view.getUint16(1), booking: view.getUint32(3), venue: view.getUint32(7), day,
               signed, signature: raw.slice(13) };
    }

    async function genuine(pass, bundle) {
      const b64 = bundle.keys[String(pass.kid)];
      if (!b64) return false;
      if (!keyCache.has(b64)) {
        const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        keyCache.set(b64, crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]));
      }
      return crypto.subtle.verify({ name: "Ed25519" }, await keyCache.get(b64), pass.signature, pass.signed);
    }

    const todayHere = () => new Date(Date.now() + 8 * 3600000).toISOString().slice(0, 10); // Asia/Shanghai

    function verdict(result, detail, extra = {}) {
      return { result, detail, offline: true, ...extra };
    }

    function say(result, params = {}) {
      return Object.entries(params).reduce((text, [k, v]) => text.replace("{" + k + "}", v), T.results[result]);
    }

    async function check(scan) {
      const bundle = await store("bundle", "readonly", (s) => s.get("current")).catch(() => null);
      if (!bundle || bundle.day !== todayHere()) return verdict("error", T.no_list);
      let id = null;
      const pass = parse(scan.token);
      if (pass) {
        if (!(crypto.subtle && crypto.subtle.verify)) return verdict("error", T.no_crypto);
        let ok = false;
        try { ok = await genuine(pass, bundle); } catch (e) { return verdict("error", T.no_crypto); }
        if (!ok) return verdict("invalid", say("invalid"));
        if (pass.venue !== bundle.venue_id) return verdict("wrong_venue", say("wrong_venue"));
        id = String(pass.booking);
        if (!bundle.bookings[id] && pass.day !== bundle.day) return verdict("wrong_day", say("wrong_day", { day: pass.day }));
      } else {
        const code = scan.token.normalize("NFKC").toLowerCase().replace(/[\s\-\u2010-\u2015\u2212]/g, "");
        if (!CODE.test(code)) return verdict("invalid", say("invalid"));
        id = Object.keys(bundle.bookings).find((k) => bundle.bookings[k].code === code) || null;
        if (id === null) return verdict("not_listed", T.unlisted);
      }
      const e = bundle.bookings[id];
      if (!e) return verdict("not_listed", T.unlisted);
      const facts = {
        booking_id: Number(id), school_name: e.school_name, class_name: e.class_name, grade: e.grade,
        booked_students: e.students, booked_chaperones: e.chaperones,
      };
      const queued = await store("queue", "readonly", (s) => s.getAll());
      let inS = e.admitted_students, inC = e.admitted_chaperones;
      for (const q of queued) if (q.booking_id === Number(id)) { inS += q.local_students; inC += q.local_chaperones; }
      const here = { ...facts, admitted_students: inS, admitted_chaperones: inC };
      if (bundle.cancelled.includes(Number(id)) || e.status === "cancelled") return verdict("cancelled", say("cancelled"), here);
      if (e.status !== "confirmed") return verdict("not_confirmed", say("not_confirmed"), here);
      if (pass && pass.day !== bundle.day) return verdict("wrong_day", say("wrong_day", { day: pass.day }), here);
      if (bundle.arrival_before != null || bundle.arrival_after != null) {
        // As bookings/checkin.py: from N minutes before the start (else the day's start) to M minutes
        // after the end (else the day's end).
        const dayStart = Date.parse(bundle.day + "T00:00:00+08:00");
        const opens = bundle.arrival_before != null ? Date.parse(e.starts_at) - bundle.arrival_before * 60000 : dayStart;
        const closes = bundle.arrival_after != null ? Date.parse(e.ends_at) + bundle.arrival_after * 60000 : dayStart + 86400000;
        const now = Date.now();
        if (now < opens || now > closes) {
          const hhmm = (t) => new Date(t + 8 * 3600000).toISOString().slice(11, 16);
          return verdict("outside_window", say("outside_window", { opens: hhmm(opens), closes: hhmm(closes) }), here);
        }
      }
      const leftS = e.students - inS, leftC = e.chaperones - inC;
      const first = inS === 0 && inC === 0, given = scan.students !== undefined || scan.chaperones !== undefined;
      if ((!first && !given) || (leftS === 0 && leftC === 0)) {
        return verdict("already_checked_in", say("already_checked_in", { admitted: inS + inC, booked: e.students + e.chaperones }), here);
      }
      const s = first ? (scan.students ?? e.students) : (scan.students || 0);
      const c = first ? (scan.chaperones ?? e.chaperones) : (scan.chaperones || 0);
      if (s > leftS || c > leftC || s + c === 0) {
        return verdict("too_many", say("too_many", { students: leftS, chaperones: leftC }), here);
      }
      await store("queue", "readwrite", (st) => st.put({ ...scan, booking_id: Number(id), local_students: s, local_chaperones: c }));
      waiting += 1;
      status();
      return verdict("admitted", T.queued.replace("{students}", s).replace("{chaperones}", c),
        { ...here, students: s, chaperones: c, admitted_students: inS + s, admitted_chaperones: inC + c });
    }

    return { check };
  })();

  window.addEventListener("online", () => { reachable = true; sync(); });
  window.addEventListener("offline", () => { reachable = false; status(); });
  setInterval(() => { if (navigator.onLine) sync(); }, 30000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/staff/sw.js", { scope: "/staff/" }).catch((e) => console.warn(e));
  }
  store("queue", "readonly", (s) => s.count()).then((n) => { waiting = n; status(); }).catch(() => undefined);
  sync();

  // -- camera ----------------------------------------------------------------------------------------
  const video = $("scan-video"), cameraBox = $("scan-camera"), cameraStatus = $("scan-camera-status");
  const toggle = $("scan-camera-toggle");
  let stream = null, detectorPromise = null, timer = null;

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src; s.onload = resolve; s.onerror = () => reject(new Error("cannot load " + src));
      document.head.appendChild(s);
    });
  }

  function detector() {
    return (detectorPromise ??= (async () => {
      if ("BarcodeDetector" in window) {
        try {
          if ((await window.BarcodeDetector.getSupportedFormats()).includes("qr_code")) {
            return { how: "native", det: new window.BarcodeDetector({ formats: ["qr_code"] }) };
          }
        } catch (e) { /* fall back to the ponyfill */ }
      }
      await loadScript(vendor + "barcode-detector.ponyfill.iife.js");
      const api = window.BarcodeDetectionAPI;
      // Without this the ponyfill fetches its wasm from a CDN.
      api.prepareZXingModule({
        overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? vendor + path : prefix + path) },
        fireImmediately: true,
      });
      return { how: "zxing-wasm", det: new api.BarcodeDetector({ formats: ["qr_code"] }) };
    })());
  }

  async function startCamera() {
    cameraStatus.textContent = T.camera_starting;
    cameraBox.dataset.camera = "starting";
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw new Error("no camera API (needs HTTPS)");
      const found = detector();
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
      video.srcObject = stream;
      await video.play();
      const { how, det } = await found;
      root.dataset.how = how;
      cameraBox.dataset.camera = "on";
      cameraStatus.textContent = T.camera_on;
      toggle.textContent = toggle.dataset.stop;
      localStorage.setItem("kepu.scan.camera", "on");
      let last = "", lastSeen = 0;
      const tick = async () => {
        if (!stream) return;
        try {
          if (!busy && !document.hidden && video.readyState >= video.HAVE_CURRENT_DATA) {
            const codes = await det.detect(video);
            if (codes.length) {
              const text = codes[0].rawValue, now = performance.now();
              const same = text === last && now - lastSeen < SAME_CODE_QUIET_MS;
              last = text; lastSeen = now;
              if (!same) await check(text, {});
            }
          }
        } catch (e) { console.warn(e); }
        timer = setTimeout(tick, SCAN_EVERY_MS);
      };
      tick();
    } catch (e) {
      stopCamera();
      cameraBox.dataset.camera = "failed";
      cameraStatus.textContent = T.camera_failed;
      root.dataset.cameraError = String(e && (e.name || e.message) || e);
    }
  }

  function stopCamera() {
    clearTimeout(timer);
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    cameraBox.dataset.camera = "off";
    cameraStatus.textContent = T.camera_off;
    toggle.textContent = toggle.dataset.start;
  }

  toggle.addEventListener("click", () => {
    if (stream || cameraBox.dataset.camera === "starting") {
      stopCamera();
      localStorage.setItem("kepu.scan.camera", "off");
    } else {
      startCamera();
    }
  });

  // The door keeps its choice: a phone that scanned with the camera opens with it on next time.
  if (localStorage.getItem("kepu.scan.camera") === "on") startCamera();
  if (refocus) tokenInput.focus();
})();
