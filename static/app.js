// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  function selectionCount(form) {
    var n = form.querySelectorAll('input[name="ids"]:checked').length;
    form.querySelectorAll("[data-selected-count]").forEach(function (el) { el.textContent = n; });
  }
  // "Select all on this page" for the bulk actions; re-bound after htmx swaps the results.
  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = target.closest ? target.closest("form") : null;
    if (!form) { return; }
    if (target.matches("[data-select-all]")) {
      form.querySelectorAll('input[name="ids"]').forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches("[data-select-all], input[name=\"ids\"]")) { selectionCount(form); }
  });
})();
