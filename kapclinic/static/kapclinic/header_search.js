// The staff header's patient search (issue 16, item 7): "/" focuses the box from anywhere (not while typing in
// a field), the arrow keys walk the matches htmx puts under it, Escape closes them. Without JavaScript the box
// is a plain form: Enter opens an exact MRN's chart or the patient list.
(function () {
  "use strict";
  var form = document.querySelector("[data-header-search]");
  if (!form) return;
  var box = form.querySelector("input[name=q]");
  var results = document.getElementById("header-search-results");
  function typingInAField(target) {
    if (!(target instanceof Element)) return false;
    return target.isContentEditable || target.closest("input, textarea, select, [contenteditable]") !== null;
  }
  function hits() {
    return Array.prototype.slice.call(results.querySelectorAll("a"));
  }
  function close() {
    results.innerHTML = "";
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || typingInAField(event.target)) return;
    event.preventDefault();
    box.focus();
    box.select();
  });
  form.addEventListener("keydown", function (event) {
    var links = hits();
    var at = links.indexOf(document.activeElement);
    if (event.key === "Escape") {
      close();
      box.focus();
    } else if (event.key === "ArrowDown" && links.length) {
      event.preventDefault();
      links[Math.min(at + 1, links.length - 1)].focus();
    } else if (event.key === "ArrowUp" && at !== -1) {
      event.preventDefault();
      if (at === 0) box.focus();
      else links[at - 1].focus();
    }
  });
  form.addEventListener("focusout", function (event) {
    if (!(event.relatedTarget instanceof Node) || !form.contains(event.relatedTarget)) {
      // After the click on a match has been followed: closing at once would remove the link being clicked.
      window.setTimeout(function () {
        if (!form.contains(document.activeElement)) close();
      }, 150);
    }
  });
})();
