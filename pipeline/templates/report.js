"use strict";
// promise-map report: filter and sort the per-document gap tables.
// Reads only data-* attributes and never parses text as markup: it sets textContent only.
(function () {
  function bodyRows(table) {
    return Array.prototype.slice.call(table.tBodies[0].rows);
  }

  function applyFilters(section) {
    var table = section.querySelector("table.gap-table");
    var selects = Array.prototype.slice.call(section.querySelectorAll("select[data-filter]"));
    var rows = bodyRows(table);
    var shown = 0;
    rows.forEach(function (row) {
      var visible = selects.every(function (select) {
        return select.value === "" || row.getAttribute("data-" + select.getAttribute("data-filter")) === select.value;
      });
      row.hidden = !visible;
      if (visible) {
        shown += 1;
      }
    });
    var counter = section.querySelector("[data-row-count]");
    if (counter) {
      counter.textContent = shown + " of " + rows.length + " items shown";
    }
  }

  function sortTable(table, header) {
    var key = header.getAttribute("data-sort-key");
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = bodyRows(table);
    rows.sort(function (a, b) {
      var left = Number(a.getAttribute("data-sort-" + key));
      var right = Number(b.getAttribute("data-sort-" + key));
      if (left === right) {
        return Number(a.getAttribute("data-sort-order")) - Number(b.getAttribute("data-sort-order"));
      }
      return ascending ? left - right : right - left;
    });
    var body = table.tBodies[0];
    rows.forEach(function (row) {
      body.appendChild(row);
    });
  }

  function setEvidenceOpen(section, open) {
    Array.prototype.forEach.call(section.querySelectorAll("table.gap-table details"), function (details) {
      details.open = open;
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("section.document"), function (section) {
    var table = section.querySelector("table.gap-table");
    Array.prototype.forEach.call(section.querySelectorAll("select[data-filter]"), function (select) {
      select.addEventListener("change", function () {
        applyFilters(section);
      });
    });
    Array.prototype.forEach.call(table.tHead.querySelectorAll("th[data-sort-key]"), function (header) {
      var button = header.querySelector("button.sort");
      button.addEventListener("click", function () {
        sortTable(table, header);
      });
    });
    var reset = section.querySelector("button[data-action='reset']");
    reset.addEventListener("click", function () {
      Array.prototype.forEach.call(section.querySelectorAll("select[data-filter]"), function (select) {
        select.value = "";
      });
      applyFilters(section);
    });
    var expand = section.querySelector("button[data-action='expand']");
    expand.addEventListener("click", function () {
      var open = expand.getAttribute("aria-pressed") !== "true";
      expand.setAttribute("aria-pressed", open ? "true" : "false");
      expand.textContent = open ? "Hide all evidence" : "Show all evidence";
      setEvidenceOpen(section, open);
    });
    applyFilters(section);
  });

  // A link to a row (from the heatmap or an item page) opens that row's evidence and clears filters that hide it.
  function revealTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var row = id ? document.getElementById(id) : null;
    if (!row || row.tagName !== "TR") {
      return;
    }
    if (row.hidden) {
      var section = row.closest("section.document");
      Array.prototype.forEach.call(section.querySelectorAll("select[data-filter]"), function (select) {
        select.value = "";
      });
      applyFilters(section);
    }
    var details = row.querySelector("details");
    if (details) {
      details.open = true;
    }
    row.scrollIntoView();
  }
  window.addEventListener("hashchange", revealTarget);
  revealTarget();

  // Printing opens every closed <details> (evidence, item texts) and closes them again afterwards; the print
  // stylesheet does the same where the browser supports ::details-content, this covers the others.
  var openedForPrint = [];
  window.addEventListener("beforeprint", function () {
    openedForPrint = Array.prototype.filter.call(document.querySelectorAll("details"), function (details) {
      return !details.open;
    });
    openedForPrint.forEach(function (details) {
      details.open = true;
    });
  });
  window.addEventListener("afterprint", function () {
    openedForPrint.forEach(function (details) {
      details.open = false;
    });
    openedForPrint = [];
  });
}());
