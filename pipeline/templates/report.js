"use strict";
// promise-map report: filter and sort tables, page the heatmap, follow a heatmap cell to its verdict.
// Reads only data-* attributes and text, and never parses text as markup: it sets textContent only.
(function () {
  function all(root, selector) {
    return Array.prototype.slice.call(root.querySelectorAll(selector));
  }

  function bodyRows(table) {
    return Array.prototype.slice.call(table.tBodies[0].rows);
  }

  // A filterable section: its selects match a row's data-<name> attribute, its text box a cell's text.
  function rowMatches(row, selects, texts) {
    var bySelect = selects.every(function (select) {
      return select.value === "" || row.getAttribute("data-" + select.getAttribute("data-filter")) === select.value;
    });
    return bySelect && texts.every(function (input) {
      var wanted = input.value.trim().toLowerCase();
      var cell = row.querySelector("[data-" + input.getAttribute("data-filter-text") + "]");
      return wanted === "" || (cell !== null && cell.textContent.toLowerCase().indexOf(wanted) !== -1);
    });
  }

  function applyFilters(section) {
    var table = section.querySelector("table.sortable");
    var selects = all(section, "select[data-filter]");
    var texts = all(section, "input[data-filter-text]");
    var rows = bodyRows(table);
    var shown = 0;
    rows.forEach(function (row) {
      var visible = rowMatches(row, selects, texts);
      row.hidden = !visible;
      if (visible) {
        shown += 1;
      }
    });
    var counter = section.querySelector("[data-row-count]");
    if (counter) {
      counter.textContent = shown + " of " + rows.length + " " + counter.getAttribute("data-noun") + " shown";
    }
  }

  function clearFilters(section) {
    all(section, "select[data-filter]").forEach(function (select) {
      select.value = "";
    });
    all(section, "input[data-filter-text]").forEach(function (input) {
      input.value = "";
    });
    applyFilters(section);
  }

  // Numbers sort by their data-sort-<key> attribute; a text column (data-sort-text) by its cell's text.
  function sortValue(row, key, column, isText) {
    if (isText) {
      return row.cells[column].textContent.toLowerCase();
    }
    return Number(row.getAttribute("data-sort-" + key));
  }

  function sortTable(table, header) {
    var key = header.getAttribute("data-sort-key");
    var isText = header.hasAttribute("data-sort-text");
    var column = header.cellIndex;
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = bodyRows(table);
    rows.sort(function (a, b) {
      var left = sortValue(a, key, column, isText);
      var right = sortValue(b, key, column, isText);
      if (left === right) {
        return Number(a.getAttribute("data-sort-order")) - Number(b.getAttribute("data-sort-order"));
      }
      var order = left < right ? -1 : 1;
      return ascending ? order : -order;
    });
    var body = table.tBodies[0];
    rows.forEach(function (row) {
      body.appendChild(row);
    });
  }

  function setEvidenceOpen(section, open) {
    all(section, "table.gap-table td.evidence details").forEach(function (details) {
      details.open = open;
    });
  }

  all(document, "section.filterable").forEach(function (section) {
    var table = section.querySelector("table.sortable");
    if (!table) {
      return;
    }
    all(section, "select[data-filter]").forEach(function (select) {
      select.addEventListener("change", function () {
        applyFilters(section);
      });
    });
    all(section, "input[data-filter-text]").forEach(function (input) {
      input.addEventListener("input", function () {
        applyFilters(section);
      });
    });
    all(table.tHead, "th[data-sort-key]").forEach(function (header) {
      header.querySelector("button.sort").addEventListener("click", function () {
        sortTable(table, header);
      });
    });
    var reset = section.querySelector("button[data-action='reset']");
    if (reset) {
      reset.addEventListener("click", function () {
        clearFilters(section);
      });
    }
    var expand = section.querySelector("button[data-action='expand']");
    if (expand) {
      expand.addEventListener("click", function () {
        var open = expand.getAttribute("aria-pressed") !== "true";
        expand.setAttribute("aria-pressed", open ? "true" : "false");
        expand.textContent = open ? "Hide all evidence" : "Show all evidence";
        setEvidenceOpen(section, open);
      });
    }
    applyFilters(section);
  });

  // The heatmap shows one page of documents at a time: the select names it, the buttons step through.
  var heatmap = document.querySelector("table.heatmap");
  var pageSelect = document.querySelector("select[data-page-select]");
  function showPage(index) {
    var pages = Array.prototype.slice.call(heatmap.tBodies);
    var shown = Math.max(0, Math.min(pages.length - 1, index));
    pages.forEach(function (body, position) {
      body.hidden = position !== shown;
    });
    pageSelect.value = String(shown);
  }
  if (heatmap && pageSelect) {
    pageSelect.addEventListener("change", function () {
      showPage(Number(pageSelect.value));
    });
    all(document, "button[data-page-step]").forEach(function (button) {
      button.addEventListener("click", function () {
        showPage(Number(pageSelect.value) + Number(button.getAttribute("data-page-step")));
      });
    });
    showPage(0);
    // "Documents that oppose an item": rows of the other documents are hidden on every page.
    var opposesSelect = document.querySelector("select[data-heatmap-filter='opposes']");
    var opposesCount = document.querySelector("[data-heatmap-count]");
    var heatmapRows = all(heatmap, "tbody tr");
    function filterHeatmap() {
      var wanted = opposesSelect.value;
      var shown = 0;
      heatmapRows.forEach(function (row) {
        row.hidden = wanted !== "" && row.getAttribute("data-opposes") !== wanted;
        if (!row.hidden) {
          shown += 1;
        }
      });
      if (opposesCount) {
        opposesCount.textContent = shown + " of " + heatmapRows.length + " documents shown";
      }
    }
    if (opposesSelect) {
      opposesSelect.addEventListener("change", filterHeatmap);
      filterHeatmap();
    }
    // A cell opens its document's page at the item's row: the row names the page, the column the item.
    var items = (heatmap.getAttribute("data-items") || "").trim().split(" ");
    var leadingCells = 3;
    heatmap.addEventListener("click", function (event) {
      var cell = event.target.closest("td");
      if (!cell || !heatmap.contains(cell) || cell.cellIndex < leadingCells || cell.classList.contains("na")) {
        return;
      }
      var item = items[cell.cellIndex - leadingCells];
      var href = cell.parentElement.getAttribute("data-href");
      if (item && href) {
        window.location.href = href + "#" + item;
      }
    });
  }

  // A link to a row (a heatmap cell, an item id) opens that row's evidence and clears filters that hide it.
  function revealTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var row = id ? document.getElementById(id) : null;
    if (!row || row.tagName !== "TR") {
      return;
    }
    if (row.hidden) {
      var section = row.closest("section.filterable");
      if (section) {
        clearFilters(section);
      }
    }
    var details = row.querySelector("td.evidence details");
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
    openedForPrint = all(document, "details").filter(function (details) {
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
