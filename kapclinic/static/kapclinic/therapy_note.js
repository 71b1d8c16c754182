// The draft note saves itself: htmx posts the form after a second of quiet typing (hx-trigger on the
// form); this script shows refusals in the status line too, and sends what is left when the page closes.
(function () {
  "use strict";
  var form = document.getElementById("note-form");
  if (!form) return;
  var url = form.getAttribute("data-autosave-url");
  var unsaved = 0;
  form.addEventListener("input", function () { unsaved += 1; });
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt === form) form.dataset.sent = String(unsaved);
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    // "Not saved: ..." answers (409 stale tab, 422 too long) belong in the status line as well.
    if (event.detail.elt === form && event.detail.xhr.status >= 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt === form && event.detail.successful) unsaved -= Number(form.dataset.sent || 0);
  });
  form.addEventListener("submit", function () { unsaved = 0; });
  // Closing the tab (or the phone's browser) within a second of typing: send the draft as it stands.
  window.addEventListener("pagehide", function () {
    if (unsaved > 0 && navigator.sendBeacon) navigator.sendBeacon(url, new FormData(form));
  });
})();
