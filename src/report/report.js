// The payout report's one script, inlined by html.rs: click a column heading to sort.
(function () {
  "use strict";
  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var raw = cell.getAttribute("data-value");
    if (raw === null) { raw = cell.textContent.trim(); }
    var number = Number(raw);
    return raw !== "" && !isNaN(number) ? number : raw.toLocaleLowerCase("vi");
  }
  function sortBy(table, heading, index) {
    var body = table.tBodies[0];
    var ascending = !heading.classList.contains("sorted-asc");
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.classList.remove("sorted-asc", "sorted-desc");
    });
    heading.classList.add(ascending ? "sorted-asc" : "sorted-desc");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      var order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "vi");
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (heading, index) {
      heading.addEventListener("click", function () { sortBy(table, heading, index); });
    });
  });
  document.documentElement.setAttribute("data-report-ready", "yes");
})();
