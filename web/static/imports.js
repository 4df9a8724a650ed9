// Live progress of a running contact import: ask the API every second, reload when it ends.
(function () {
  "use strict";
  var section = document.querySelector("[data-testid=import][data-status=running]");
  if (!section) {
    return;
  }
  var url = "/api/v1/imports/" + section.getAttribute("data-import-id");
  var rows = section.querySelector("[data-testid=import-rows]");
  var percent = section.querySelector("[data-testid=import-percent]");
  var bar = section.querySelector("[data-testid=import-progress]");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (state) {
        if (state.status !== "running") {
          window.location.reload();
          return;
        }
        rows.textContent = String(state.rows_done);
        percent.textContent = String(state.percent);
        bar.value = state.percent;
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        window.setTimeout(poll, 3000); // the server restarts, say: keep asking, slower
      });
  }
  window.setTimeout(poll, 1000);
})();
