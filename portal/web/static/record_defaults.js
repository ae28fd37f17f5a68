/* Conditional defaults on an add form (an entity's ``defaults:``): when a field the rules'
   conditions read changes (e.g. the customer), ask the API for the defaults and fill the
   fields the user has not touched. Select2 boxes report changes through jQuery, so events are
   bound (and fired) through jQuery when the page has it. */
(function () {
  "use strict";
  var box = document.querySelector(".portal-record-defaults[data-url]");
  if (!box) { return; }
  var $ = window.jQuery;
  var url = box.getAttribute("data-url");
  var reads = JSON.parse(box.getAttribute("data-reads") || "[]");
  var fields = JSON.parse(box.getAttribute("data-fields") || "[]");
  var touched = {};
  var filling = false;
  var asked = 0;

  function input(name) {
    return document.querySelector('form [name="' + name + '"]');
  }
  function listen(el, handler) {
    if ($) {
      $(el).on("change", handler);
    } else {
      el.addEventListener("change", handler);
    }
    if (el.tagName !== "SELECT") { el.addEventListener("input", handler); }
  }
  function current(el) {
    if (el.type === "checkbox") { return el.checked ? "true" : "false"; }
    return el.value === "__None" ? "" : el.value;
  }
  function put(name, value) {
    var el = input(name);
    if (!el || touched[name]) { return; }
    var text = value === null || value === undefined ? "" : String(value);
    if (el.type === "checkbox") {
      if (el.checked === (value === true)) { return; }
    } else if (current(el) === text) {
      return;
    }
    filling = true;
    try {
      if (el.type === "checkbox") {
        el.checked = value === true;
      } else {
        el.value = text;
      }
      if ($) {
        $(el).trigger("change");
      } else {
        el.dispatchEvent(new Event("change", {bubbles: true}));
      }
    } finally {
      filling = false;
    }
  }
  function ask() {
    var params = new URLSearchParams();
    reads.forEach(function (name) {
      var el = input(name);
      if (el) { params.append(name, current(el)); }
    });
    var mine = ++asked;
    box.setAttribute("data-state", "asking");
    fetch(url + "?" + params.toString(), {credentials: "same-origin",
                                          headers: {Accept: "application/json"}})
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (answer) {
        if (mine !== asked) { return; }  // a later change asked again
        if (answer && answer.values) {
          Object.keys(answer.values).forEach(function (name) {
            put(name, answer.values[name]);
          });
        }
        box.setAttribute("data-state", answer ? "filled" : "failed");
      })
      .catch(function () { box.setAttribute("data-state", "failed"); });
  }

  fields.forEach(function (name) {
    var el = input(name);
    if (el) { listen(el, function () { if (!filling) { touched[name] = true; } }); }
  });
  var known = false;
  reads.forEach(function (name) {
    var el = input(name);
    if (!el) { return; }
    listen(el, ask);
    known = known || current(el) !== "";
  });
  if (known) { ask(); }  // e.g. the form opened from a customer's page, customer chosen
})();
