// Idle time-out (HIPAA 164.312(a)(2)(iii)): warn two minutes before the server signs this session out, and go
// to the sign-in page when it has. The screens' automatic refreshes carry X-Kapclinic-Poll and are not activity;
// typing, clicking and the page's own requests are. Tabs share the clock through localStorage.
(function () {
  "use strict";
  var body = document.body;
  var idleMs = Number(body.dataset.idleSeconds || 0) * 1000;
  var warning = document.getElementById("idle-warning");
  if (!idleMs || !warning) return;
  var WARN_BEFORE_MS = Math.min(120000, idleMs / 2);
  // The server notes activity at most once a minute; sign out on this side a minute early to match it.
  var SERVER_RESOLUTION_MS = 60000;
  var KEY_SERVER = "kapclinic.lastServerActivity";
  var KEY_LOCAL = "kapclinic.lastLocalActivity";
  var remaining = warning.querySelector("[data-idle-remaining]");
  var csrf = (JSON.parse(body.getAttribute("hx-headers") || "{}") || {})["X-CSRFToken"] || "";

  function now() { return Date.now(); }
  function read(key) { var v = Number(window.localStorage.getItem(key)); return isFinite(v) ? v : 0; }
  function write(key, value) { try { window.localStorage.setItem(key, String(value)); } catch (e) { /* private mode */ } }
  function serverActivity() { return Math.max(read(KEY_SERVER), loadedAt); }

  var loadedAt = now();
  write(KEY_SERVER, Math.max(read(KEY_SERVER), loadedAt));

  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.headers["X-Kapclinic-Poll"]) write(KEY_SERVER, now());
  });
  ["keydown", "pointerdown", "input"].forEach(function (name) {
    document.addEventListener(name, function () { write(KEY_LOCAL, now()); }, { passive: true, capture: true });
  });

  function keepAlive() {
    return fetch(body.dataset.keepaliveUrl, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf }
    }).then(function (response) {
      if (response.ok) { write(KEY_SERVER, now()); warning.hidden = true; }
      else { signedOut(); }
    });
  }

  var leaving = false;
  function signedOut() {
    // End the session here too (the server's own clock would end it within a minute), then show why.
    if (leaving) return;
    leaving = true;
    var next = window.location.pathname + window.location.search;
    var target = body.dataset.signInUrl + "?idle=1&next=" + encodeURIComponent(next);
    var form = new URLSearchParams({ idle: "1" });
    fetch(body.dataset.signOutUrl, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf }, body: form, redirect: "manual"
    }).finally(function () { window.location.assign(target); });
  }

  warning.querySelector("[data-idle-stay]").addEventListener("click", keepAlive);

  function tick() {
    var lastServer = serverActivity();
    // Someone typing or clicking on a screen that has not asked the server anything lately is still here.
    if (read(KEY_LOCAL) > lastServer + SERVER_RESOLUTION_MS && warning.hidden) { keepAlive(); return; }
    var left = idleMs - SERVER_RESOLUTION_MS - (now() - lastServer);
    if (left <= 0) { signedOut(); return; }
    if (left <= WARN_BEFORE_MS) {
      var minutes = Math.max(1, Math.ceil(left / 60000));
      remaining.textContent = minutes === 1 ? "less than a minute" : minutes + " minutes";
      if (warning.hidden) { warning.hidden = false; warning.querySelector("[data-idle-stay]").focus(); }
    } else {
      warning.hidden = true;
    }
  }
  window.setInterval(tick, 5000);
})();
