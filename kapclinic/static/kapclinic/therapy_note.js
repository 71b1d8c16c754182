// The draft note saves itself: htmx posts the form after a second of quiet typing (hx-trigger on the
// form); this script shows refusals in the status line too, and sends what is left when the page closes.
(function () {
  "use strict";
  var form = document.getElementById("note-form");
  if (!form) return;
  var url = form.getAttribute("data-autosave-url");
  var unsaved = 0;
  var submitting = false;
  form.addEventListener("input", function () { unsaved += 1; });
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt !== form) return;
    // Saving or signing now: a draft save still waiting for its second of quiet must not race it.
    if (submitting) { event.preventDefault(); return; }
    form.dataset.sent = String(unsaved);
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
  form.addEventListener("submit", function (event) {
    if (form.classList.contains("htmx-request")) {
      // A draft save is on its way: submit once it is back, with the version it brings (else "changed
      // in another window" would refuse the author's own note).
      event.preventDefault();
      var submitter = event.submitter;
      document.body.addEventListener("htmx:afterRequest", function resubmit(done) {
        if (done.detail.elt !== form) return;
        document.body.removeEventListener("htmx:afterRequest", resubmit);
        window.setTimeout(function () { form.requestSubmit(submitter); }, 50);
      });
      return;
    }
    submitting = true;
    unsaved = 0;
  });
  // Closing the tab (or the phone's browser) within a second of typing: send the draft as it stands.
  window.addEventListener("pagehide", function () {
    if (unsaved > 0 && navigator.sendBeacon) navigator.sendBeacon(url, new FormData(form));
  });
})();
