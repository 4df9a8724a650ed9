// The campaign page's live progress: the figures are read again every 2 seconds.
(function () {
  "use strict";
  var panel = document.querySelector("[data-testid=campaign-progress]");
  if (!panel) {
    return;
  }
  var url = panel.getAttribute("data-url");

  function show(figures) {
    panel.querySelectorAll("[data-field]").forEach(function (cell) {
      var value = figures[cell.getAttribute("data-field")];
      if (value !== undefined) {
        cell.textContent = String(value);
      }
    });
    document.querySelectorAll("[data-testid=lead-counts] [data-status]").forEach(function (cell) {
      cell.textContent = String(figures.leads[cell.getAttribute("data-status")] || 0);
    });
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (figures) { if (figures) { show(figures); } })
      .catch(function () { /* the next round tries again */ })
      .finally(function () { window.setTimeout(refresh, 2000); });
  }

  window.setTimeout(refresh, 2000);
})();
