// Whether telephony is up, kept current on every signed-in page: the server pushes the
// AMI link's state ("telephony.state", through live.js) whenever it changes; the top
// bar says it, and a page's "telephony unavailable" notice shows while it is not
// "connected". The words come from the page (data-* attributes), in its language.
"use strict";

(function () {
  const badge = document.querySelector("[data-testid=telephony-state]");
  if (!badge) return;

  function show(state) {
    badge.dataset.state = state;
    badge.className = "telephony telephony-" + state;
    badge.textContent = badge.dataset.label + ": " + (badge.dataset[state] || state);
    for (const notice of document.querySelectorAll("[data-testid=telephony-unavailable]")) {
      notice.hidden = state === "connected";
    }
  }

  document.addEventListener("cc:message", (event) => {
    const msg = event.detail;
    if (msg.type === "telephony.state" && msg.data && typeof msg.data.state === "string") {
      show(msg.data.state);
    }
  });
})();
