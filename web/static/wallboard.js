// The wallboard: the first picture from /api/v1/wallboard, every later one from the
// page's websocket ("wallboard" messages through live.js); durations tick here, once a
// second, from the "since" times. Everything is put in with textContent.
"use strict";

(function () {
  const board = document.querySelector("[data-testid=wallboard]");
  if (!board) return;
  const t = (key) => board.dataset["t" + key.charAt(0).toUpperCase() + key.slice(1)] || key;
  let picture = null;
  // the operators of the team this supervisor leads: only their calls may be joined
  const teamMembers = new Set((board.dataset.teamMembers || "").split(" ").filter(Boolean));
  let skew = 0; // server clock minus ours, so durations agree with the server's

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text == null ? "—" : String(text);
    return td;
  }

  // a duration cell: redrawn every second from its start, the rest only per picture
  function since(iso) {
    const td = cell(duration(iso), "wb-for");
    td.dataset.since = iso || "";
    return td;
  }

  function tick() {
    for (const td of board.querySelectorAll("td.wb-for")) td.textContent = duration(td.dataset.since);
  }

  function duration(iso) {
    if (!iso) return "—";
    const seconds = Math.max(0, Math.floor((Date.now() + skew - Date.parse(iso)) / 1000));
    const m = Math.floor(seconds / 60), s = seconds % 60;
    return (m >= 60 ? Math.floor(m / 60) + ":" + String(m % 60).padStart(2, "0") : String(m)) +
      ":" + String(s).padStart(2, "0");
  }

  function rows(body, items, build) {
    body.replaceChildren(...items.map(build));
  }

  // a supervisor joins a talking operator's call: their own phone rings (the server
  // checks that it is their team's operator and writes it to the audit log)
  function joinButtons(op) {
    const td = document.createElement("td");
    if (board.dataset.mayJoin !== "yes" || op.state !== "talking") return td;
    if (!teamMembers.has(String(op.user_id))) return td; // another team's operator
    for (const mode of ["listen", "whisper", "barge"]) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.mode = mode;
      button.dataset.testid = "wb-" + mode;
      button.textContent = t(mode);
      button.addEventListener("click", () => join(op.user_id, mode));
      td.append(button);
    }
    return td;
  }

  async function join(userId, mode) {
    const status = board.querySelector("[data-testid=wb-join-status]");
    const response = await fetch("/api/v1/operators/" + encodeURIComponent(userId) + "/spy", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ mode }),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    status.textContent = response.ok ? t(mode) + "…"
      : String(data.message || data.error || response.status);
  }

  function draw() {
    if (!picture) return;
    const p = picture;
    board.querySelector("[data-testid=wb-answered]").textContent = String(p.today.answered);
    board.querySelector("[data-testid=wb-abandoned]").textContent = String(p.today.abandoned);
    board.querySelector("[data-testid=wb-sla]").textContent =
      p.today.sla_percent == null ? "—" : p.today.sla_percent + "%";
    board.querySelector("[data-testid=wb-sla-seconds]").textContent = String(p.sla_seconds);
    rows(board.querySelector("[data-testid=wb-queues]"), Object.entries(p.queues), ([name, q]) => {
      const tr = document.createElement("tr");
      tr.dataset.queue = name;
      tr.dataset.waiting = String(q.waiting);
      tr.append(cell(name), cell(q.waiting, "wb-count"), since(q.longest_since));
      return tr;
    });
    rows(board.querySelector("[data-testid=wb-operators]"), p.operators, (op) => {
      const tr = document.createElement("tr");
      tr.dataset.userId = String(op.user_id);
      tr.dataset.state = op.state;
      tr.className = "wb-state-" + op.state;
      tr.append(cell(op.name), cell(t(op.state) + (op.reason ? " · " + op.reason : ""), "wb-state"),
        since(op.since), joinButtons(op));
      return tr;
    });
    rows(board.querySelector("[data-testid=wb-campaigns]"), p.campaigns || [], (c) => {
      const tr = document.createElement("tr");
      tr.dataset.campaignId = String(c.id);
      const abandoned = c.abandon_percent == null ? String(c.abandoned)
        : c.abandoned + " (" + c.abandon_percent + "%)";
      tr.append(cell(c.name || "#" + c.id), cell(c.dialled, "wb-count"), cell(c.picked_up, "wb-count"),
        cell(abandoned, "wb-count"), cell(c.ringing, "wb-count"), cell(c.talking, "wb-count"),
        cell(c.leads_left == null ? "—" : c.leads_left, "wb-count"));
      tr.dataset.dialled = String(c.dialled);
      tr.dataset.leadsLeft = String(c.leads_left);
      return tr;
    });
    rows(board.querySelector("[data-testid=wb-calls]"), p.calls, (call) => {
      const tr = document.createElement("tr");
      tr.dataset.linkedid = call.linkedid;
      tr.dataset.state = call.state;
      tr.append(cell(call.caller || t(call.direction)), cell(call.queue), cell(call.operator),
        since(call.since));
      return tr;
    });
    board.dataset.ready = "yes";
  }

  function show(next) {
    picture = next;
    skew = Date.parse(next.at) - Date.now();
    draw();
  }

  document.addEventListener("cc:message", (event) => {
    const message = event.detail;
    if (message && message.type === "wallboard") show(message.data);
  });
  fetch("/api/v1/wallboard", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .then((first) => { if (first && !picture) show(first); })
    .catch(() => { /* the websocket brings the next picture */ });
  setInterval(tick, 1000);
})();
