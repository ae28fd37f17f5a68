/* Inline child tables: add and remove rows (rows are cloned from a <template>). */
(function () {
  "use strict";
  function nextIndex(box) {
    var max = -1;
    box.querySelectorAll("tbody [name]").forEach(function (el) {
      var m = el.name.match(/-(\d+)-/);
      if (m) { max = Math.max(max, parseInt(m[1], 10)); }
    });
    return max + 1;
  }
  // The same select2 look as FAB's own fields (bootstrap theme), filling the cell; a
  // required select gets no clear button (clearing it only earns a "required" error).
  function enhance(scope) {
    var $ = window.jQuery;
    if (!$ || !$.fn.select2) { return; }
    $(scope).find("select.my_select2").each(function () {
      var $el = $(this);
      if ($el.data("select2")) { $el.select2("destroy"); }
      $el.select2({
        theme: "bootstrap", width: "100%", allowClear: !this.required,
        placeholder: this.getAttribute("data-placeholder") || ""
      });
    });
  }
  if (window.jQuery) {
    // Runs after ab.js has set up the page's selects, rows already on the form included.
    window.jQuery(function () {
      document.querySelectorAll(".portal-children tbody").forEach(enhance);
    });
  }
  document.addEventListener("click", function (ev) {
    var add = ev.target.closest(".portal-add-row");
    if (add) {
      var box = add.closest(".portal-children");
      var html = box.querySelector("template").innerHTML
        .replace(/__index__/g, String(nextIndex(box)));
      var tbody = box.querySelector("tbody");
      tbody.insertAdjacentHTML("beforeend", html);
      var row = tbody.lastElementChild;
      enhance(row);
      var first = row.querySelector(".select2-selection, input:not([type=hidden]), textarea, " +
                                    "select:not(.select2-hidden-accessible)");
      if (first) { first.focus(); }
      return;
    }
    var remove = ev.target.closest(".portal-remove-row");
    if (remove) { remove.closest("tr").remove(); }
  });
})();

// An import job checking or importing: show its progress, reload when it is over.
(function () {
  var job = document.querySelector(".portal-import-job[data-status-url]");
  if (!job) { return; }
  var bar = job.querySelector(".portal-import-progress .progress-bar");
  var count = job.querySelector(".portal-import-count");
  function poll() {
    fetch(job.getAttribute("data-status-url"), {credentials: "same-origin"})
      .then(function (resp) { return resp.json(); })
      .then(function (state) {
        if (bar && state.total) {
          bar.style.width = Math.min(100, Math.round(100 * state.done / state.total)) + "%";
        }
        if (count) { count.textContent = state.done + " / " + state.total; }
        if (state.status !== job.getAttribute("data-status")) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 700);
        }
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 300);
})();
