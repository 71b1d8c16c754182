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
  // Booking: <select data-holds-for="id_with_user"> (the kind of appointment) offers in the staff select only
  // those whose option lists that kind in data-kinds; a hidden choice is cleared. The server checks it again.
  function offerHolders(kindSelect) {
    var staff = document.getElementById(kindSelect.getAttribute("data-holds-for"));
    if (!staff) return;
    Array.prototype.forEach.call(staff.options, function (option) {
      var kinds = option.getAttribute("data-kinds");
      if (kinds === null) return;
      var holds = kinds.split(" ").indexOf(kindSelect.value) !== -1;
      option.hidden = !holds;
      option.disabled = !holds;
      if (!holds && option.selected) staff.value = "";
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target instanceof HTMLSelectElement && event.target.hasAttribute("data-holds-for")) {
      offerHolders(event.target);
    }
  });
  document.querySelectorAll("select[data-holds-for]").forEach(offerHolders);
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
