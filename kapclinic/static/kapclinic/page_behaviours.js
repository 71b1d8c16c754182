// Small behaviours pages ask for with data- attributes. In a file, not inline handlers, so the
// Content-Security-Policy needs no 'unsafe-inline' or 'unsafe-eval' (issue 12).
(function () {
  "use strict";
  // <select data-submit-on-change>: choosing an option applies it at once (the form's button does the same
  // without JavaScript).
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLSelectElement && field.hasAttribute("data-submit-on-change") && field.form) {
      field.form.requestSubmit();
    }
  });
  // "Add to diagnoses": copy the code chosen in an ICD-10-CM search box (data-code-from) onto a new line of
  // the diagnoses field (data-code-into).
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-code-from][data-code-into]") : null;
    if (!button) return;
    var search = document.getElementById(button.getAttribute("data-code-from"));
    var into = document.getElementById(button.getAttribute("data-code-into"));
    if (!search || !into) return;
    var code = search.value.split(" ")[0].trim();
    if (!code) return;
    var current = into.value.trim();
    into.value = (current ? current + "\n" : "") + code;
    search.value = "";
    search.focus();
  });
})();
