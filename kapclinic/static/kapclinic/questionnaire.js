// One question per screen on a phone; every question at once on a wider screen or without JavaScript.
(function () {
  "use strict";
  var form = document.querySelector("[data-questionnaire]");
  if (!form || !window.matchMedia("(max-width: 640px)").matches) return;
  var questions = Array.prototype.slice.call(form.querySelectorAll("[data-question]"));
  var back = form.querySelector("[data-back]");
  var next = form.querySelector("[data-next]");
  var submit = form.querySelector("[data-submit]");
  var progress = form.querySelector("[data-progress]");
  var current = questions.findIndex(function (q) { return !q.querySelector("input:checked") && !q.querySelector("input[type=number]:valid:not(:placeholder-shown)"); });
  if (current < 0) current = 0;
  function show(index) {
    current = Math.max(0, Math.min(index, questions.length - 1));
    questions.forEach(function (q, i) { q.hidden = i !== current; });
    back.hidden = current === 0;
    next.hidden = current === questions.length - 1;
    submit.hidden = current !== questions.length - 1;
    progress.hidden = false;
    progress.textContent = "Question " + (current + 1) + " of " + questions.length;
    var first = questions[current].querySelector("input");
    if (first) first.focus();
  }
  back.addEventListener("click", function () { show(current - 1); });
  next.addEventListener("click", function () { show(current + 1); });
  form.addEventListener("change", function (event) {
    if (event.target.type === "radio" && current < questions.length - 1) setTimeout(function () { show(current + 1); }, 150);
  });
  show(current);
})();
