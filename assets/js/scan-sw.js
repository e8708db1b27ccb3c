// Service worker of the door scanner (served as /staff/sw.js, scope /staff/): keeps the scan page and
// its files so the page opens with no network. Network first, so an online door always gets the
// current page; the cache only answers when the network does not. Check-ins are never cached.
"use strict";
const CACHE = "kepu-scan-v1";
const VENDOR = "/static/vendor/barcode-detector-3.2.2/";
const FILES = [
  "/staff/scan",
  "/static/js/scan.js",
  "/static/js/walkin.js",
  "/static/js/app.js",
  "/static/css/kepu.css",
  "/static/img/icon.svg",
  VENDOR + "barcode-detector.ponyfill.iife.js",
  VENDOR + "zxing_reader.wasm",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      Promise.all(FILES.map((path) =>
        fetch(path, { credentials: "same-origin", redirect: "manual" }).then((res) => {
          if (res.ok) return cache.put(path, res);
        }).catch(() => undefined)))
    ).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("kepu-scan-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

// The page and our own files: the network, unless it fails or is slow (a basement with a weak signal),
// then the copy kept here. The vendored decoder lives in a versioned folder and never changes: cache first.
const SLOW_MS = 4000;

function keep(key, res) {
  // A signed-out visit is redirected to the sign-in page: never keep that as the scan page.
  if (res.ok && !res.redirected) {
    const copy = res.clone();
    caches.open(CACHE).then((cache) => cache.put(key, copy));
  }
  return res;
}

function networkFirst(request, key) {
  const network = fetch(request).then((res) => keep(key, res));
  const slow = new Promise((resolve) => setTimeout(resolve, SLOW_MS))
    .then(() => caches.match(key))
    .then((hit) => hit || network);
  return Promise.race([network.catch(() => caches.match(key)), slow])
    .then((res) => res || Response.error());
}

function cacheFirst(request, key) {
  return caches.match(key).then((hit) => hit || fetch(request).then((res) => keep(key, res)));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !FILES.includes(url.pathname)) return;
  const key = url.pathname; // the page's query string does not change what it is
  event.respondWith(url.pathname.startsWith(VENDOR) ? cacheFirst(request, key) : networkFirst(request, key));
});
