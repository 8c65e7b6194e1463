// Filtering, sorting and keyboard navigation for the advisor report. Reads data-* attributes only; the
// page embeds no data in scripts. Stays quick on thousands of findings: one pass over cached records per
// change, `hidden` toggled only where it changes, sorting by CSS `order`, and off-screen findings skipped
// by `content-visibility` (see report.css and benchmarks/report_speed.py).
(function () {
  "use strict";
  var list = document.getElementById("findings");
  if (!list) { return; }
  var items = Array.prototype.slice.call(list.children);
  var records = items.map(function (el) {
    return {
      el: el,
      rule: el.dataset.rule,
      file: el.dataset.file,
      severity: el.dataset.severity,
      order: Number(el.dataset.order),
      gain: Number(el.dataset.gain) || 0,
      text: (el.querySelector("h3").textContent + " " + el.querySelector(".where").textContent + " " +
             el.querySelector(".message").textContent).toLowerCase()
    };
  });
  var controls = {
    rule: document.getElementById("filter-rule"),
    file: document.getElementById("filter-file"),
    severity: document.getElementById("filter-severity")
  };
  var text = document.getElementById("filter-text");
  var sort = document.getElementById("sort");
  var shown = document.getElementById("shown-count");
  var none = document.getElementById("no-match");
  var order = records.slice();
  var matches = records.slice();
  var severityRank = { warning: 0, info: 1 };
  var comparators = {
    location: function (a, b) { return a.order - b.order; },
    rule: function (a, b) { return a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : a.order - b.order; },
    severity: function (a, b) { return ((severityRank[a.severity] || 9) - (severityRank[b.severity] || 9)) || a.order - b.order; },
    gain: function (a, b) { return (b.gain - a.gain) || a.order - b.order; }
  };

  function applyFilters() {
    var rule = controls.rule.value, file = controls.file.value, severity = controls.severity.value;
    var needle = text.value.trim().toLowerCase();
    var next = [];
    for (var i = 0; i < order.length; i++) {
      var r = order[i];
      var match = (!rule || r.rule === rule) && (!file || r.file === file) &&
        (!severity || r.severity === severity) && (!needle || r.text.indexOf(needle) !== -1);
      if (r.el.hidden === match) { r.el.hidden = !match; }
      if (match) { next.push(r); }
    }
    matches = next;
    shown.textContent = String(matches.length);
    none.hidden = matches.length !== 0 || records.length === 0;
  }

  function applySort() {
    // CSS `order` in a flex column, not DOM moves: moving thousands of findings around the document
    // takes Chromium seconds (benchmarks/report_speed.py), setting `order` milliseconds. Reading order
    // for assistive technology stays the scan's order (path, line); j/k follow the visual order.
    order = records.slice().sort(comparators[sort.value] || comparators.location);
    for (var i = 0; i < order.length; i++) {
      var value = String(i);
      if (order[i].el.style.order !== value) { order[i].el.style.order = value; }
    }
    applyFilters();
  }

  var pending = 0;
  function onTyping() {
    window.clearTimeout(pending);
    pending = window.setTimeout(applyFilters, 80);
  }

  Object.keys(controls).forEach(function (key) { controls[key].addEventListener("change", applyFilters); });
  text.addEventListener("input", onTyping);
  sort.addEventListener("change", applySort);
  document.getElementById("reset").addEventListener("click", function () {
    controls.rule.value = ""; controls.file.value = ""; controls.severity.value = ""; text.value = "";
    sort.value = "location"; applySort(); applyFilters();
  });

  Array.prototype.forEach.call(document.querySelectorAll("button.pick"), function (button) {
    button.addEventListener("click", function () {
      var select = controls[button.dataset.filter];
      if (!select) { return; }
      select.value = button.dataset.value;
      applyFilters();
      document.getElementById("findings-heading").focus();
    });
  });

  function move(step) {
    var visible = matches.filter(function (r) { return !r.el.hidden; }).map(function (r) { return r.el; });
    if (!visible.length) { return; }
    var current = document.activeElement && document.activeElement.closest ? document.activeElement.closest(".finding") : null;
    var at = visible.indexOf(current);
    var next = at === -1 ? (step > 0 ? visible[0] : visible[visible.length - 1])
      : visible[Math.max(0, Math.min(visible.length - 1, at + step))];
    next.focus();
    next.scrollIntoView({ block: "start" });
  }
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    var typing = tag === "input" || tag === "select" || tag === "textarea";
    if (event.key === "Escape" && event.target === text) { text.value = ""; applyFilters(); return; }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "/") { event.preventDefault(); text.focus(); }
    else if (event.key === "j") { move(1); }
    else if (event.key === "k") { move(-1); }
  });

  // Printing shows every collapsed section; the screen state comes back afterwards.
  var opened = [];
  window.addEventListener("beforeprint", function () {
    opened = Array.prototype.filter.call(document.querySelectorAll("details:not([open])"), function (d) { d.open = true; return true; });
  });
  window.addEventListener("afterprint", function () { opened.forEach(function (d) { d.open = false; }); opened = []; });

  applyFilters();
}());
