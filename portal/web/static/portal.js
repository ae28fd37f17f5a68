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
  document.addEventListener("click", function (ev) {
    var add = ev.target.closest(".portal-add-row");
    if (add) {
      var box = add.closest(".portal-children");
      var html = box.querySelector("template").innerHTML.replace(/__index__/g, String(nextIndex(box)));
      var tbody = box.querySelector("tbody");
      tbody.insertAdjacentHTML("beforeend", html);
      var row = tbody.lastElementChild;
      if (window.jQuery && jQuery.fn.select2) {
        jQuery(row).find("select").select2({ width: "100%" });
      }
      var first = row.querySelector("input:not([type=hidden]), select, textarea");
      if (first) { first.focus(); }
      return;
    }
    var remove = ev.target.closest(".portal-remove-row");
    if (remove) { remove.closest("tr").remove(); }
  });
})();
