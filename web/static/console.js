// Operator console: live screen-pops (from /ws, through live.js), after-call form, Ready / Pause.
// One card per call (linkedid), whatever the mix of messages: on every (re)connect the
// hub sends "calls.current" (what rings or talks on my phone now), so a pop missed
// while the socket or the server was down is drawn, one already shown is updated, and
// a call that ended meanwhile leaves. Calls that ended are kept in sessionStorage so no
// late message or stale picture pops them again, across page loads too.
// Everything from the server is put into the page with textContent, never as HTML.
"use strict";

(function () {
  const root = document.getElementById("console");
  if (!root) return;
  const me = Number(root.dataset.userId);
  const texts = document.getElementById("console-texts").dataset;
  const pops = document.getElementById("pops");
  const template = document.getElementById("pop-template");
  const live = document.querySelector("[data-testid=live-state]");
  const byCall = new Map();
  const FINISHED_KEY = "cc-finished-calls";
  const FINISHED_KEPT = 200;

  function finishedCalls() {
    try { return JSON.parse(sessionStorage.getItem(FINISHED_KEY) || "[]"); } catch (e) { return []; }
  }

  function isFinished(linkedid) {
    return finishedCalls().includes(linkedid);
  }

  function markFinished(linkedid) {
    const list = finishedCalls().filter((id) => id !== linkedid);
    list.push(linkedid);
    sessionStorage.setItem(FINISHED_KEY, JSON.stringify(list.slice(-FINISHED_KEPT)));
  }

  function setText(node, value) {
    if (node) node.textContent = value == null ? "" : String(value);
  }

  function setLive(state) {
    live.dataset.state = state;
    setText(live.querySelector(".live-text"), state === "open" ? texts.connected : texts.reconnecting);
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return { ok: response.ok, status: response.status, data };
  }

  function fillPop(card, data) {
    card.popData = data;
    const client = data.client;
    const name = client ? client.name : (data.caller_name || (data.caller_number ? texts.unknown : texts.anonymous));
    setText(card.querySelector(".pop-name"), name);
    const dial = card.querySelector(".pop-dial");
    setText(dial, data.caller_number || texts.anonymous);
    if (data.e164) dial.dataset.dial = data.e164; else dial.removeAttribute("data-dial");
    setText(card.querySelector(".pop-did"), data.did ? "→ " + data.did + (data.queue ? " (" + data.queue + ")" : "") : "");
    card.querySelector(".pop-client").hidden = !client;
    // no number, nothing to save: an anonymous caller cannot become a client here
    card.querySelector(".pop-unknown").hidden = Boolean(client);
    card.querySelector("form.new-client").hidden = !data.e164;
    card.dataset.lookup = data.lookup || "";
    // a dialer call: the campaign, its script for this client, the lead's result form
    const campaign = data.campaign || card.campaign;
    if (campaign) {
      card.campaign = campaign;
      card.querySelector(".pop-campaign").hidden = false;
      setText(card.querySelector(".pop-campaign-name"), campaign.name);
      setText(card.querySelector(".pop-script"), campaign.script);
      card.querySelector(".pop-result").href = campaign.result_url;
    }
    if (client) {
      setText(card.querySelector(".pop-company"), client.company || "—");
      setText(card.querySelector(".pop-manager"), client.manager_name || "—");
      setText(card.querySelector(".pop-status"), texts["status" + client.status] || client.status);
      const recent = card.querySelector(".pop-recent");
      recent.replaceChildren(...client.recent.map((e) => {
        const li = document.createElement("li");
        li.textContent = e.at.slice(0, 16).replace("T", " ") + " · " + e.kind + " · " + e.summary;
        return li;
      }));
      const tasks = card.querySelector(".pop-tasks");
      tasks.replaceChildren(...client.open_tasks.map((t) => {
        const li = document.createElement("li");
        li.textContent = "☐ " + t.title;
        return li;
      }));
    }
  }

  function setState(card, state) {
    card.dataset.state = state;
    setText(card.querySelector(".pop-state"), texts[state]);
  }

  function newCard(data) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.dataset.linkedid = data.linkedid;
    byCall.set(data.linkedid, card);
    pops.prepend(card);
    card.querySelector("form.wrapup").addEventListener("submit", (event) => saveWrapUp(event, card));
    card.querySelector("form.new-client").addEventListener("submit", (event) => addClient(event, card));
    return card;
  }

  function showPop(data) {
    if (isFinished(data.linkedid)) return;  // a late message of a call that ended
    let card = byCall.get(data.linkedid);
    if (card && card.dataset.state !== "ringing") {
      fillPop(card, data);  // rung again after answering (a transfer back): keep the talk
      return;
    }
    if (!card) card = newCard(data);
    setState(card, "ringing");
    fillPop(card, data);
  }

  // what rings or talks on my phone now: draw what is missing, update what is shown;
  // once the server knows the telephony's state, a ringing card it does not list was
  // withdrawn and a talk it does not list has ended (its result is still to be written)
  function currentCalls(data) {
    const listed = new Set();
    for (const call of data.calls) {
      listed.add(call.linkedid);
      if (isFinished(call.linkedid)) continue;
      let card = byCall.get(call.linkedid);
      if (card && (card.dataset.state === "wrapup" || card.dataset.state === "done")) continue;
      if (!card) {
        card = newCard(call);
        fillPop(card, call);
      } else if (call.lookup !== "pending" || !card.popData || !card.popData.client) {
        fillPop(card, call);  // never trade a client card shown for a lookup still running
      }
      setState(card, call.state === "talking" ? "talking" : "ringing");
    }
    if (!data.known) return;
    for (const [linkedid, card] of Array.from(byCall)) {
      if (listed.has(linkedid)) continue;
      if (card.dataset.state === "talking") ended({ linkedid, answered_by: me });
      else if (card.dataset.state === "ringing") removePop(linkedid);
    }
  }

  function removePop(linkedid) {
    const card = byCall.get(linkedid);
    if (card && card.dataset.state !== "talking" && card.dataset.state !== "wrapup") {
      card.remove();
      byCall.delete(linkedid);
    }
  }

  function answered(data) {
    const card = byCall.get(data.linkedid);
    if (!card) return;
    if (data.answered_by === me) {
      setState(card, "talking");
    } else {
      removePop(data.linkedid);
    }
  }

  function ended(data) {
    markFinished(data.linkedid);
    const card = byCall.get(data.linkedid);
    if (!card) return;
    if (data.answered_by === me) {
      card.dataset.state = "wrapup";
      setText(card.querySelector(".pop-state"), texts.ended);
      // a campaign's lead gets its result on the campaign's own form
      if (card.campaign) card.querySelector(".pop-result").hidden = false;
      else card.querySelector("form.wrapup").hidden = false;
    } else {
      card.dataset.state = "gone";
      removePop(data.linkedid);
    }
  }

  async function addClient(event, card) {
    event.preventDefault();
    const form = event.target;
    const data = card.popData;
    const result = await postJSON("/api/v1/clients/quick", {
      name: form.elements.name.value,
      company: form.elements.company.value,
      phone: data.e164 || data.caller_number,
    });
    if (result.ok) {
      fillPop(card, Object.assign({}, data, { client: result.data.client, lookup: "known" }));
    } else {
      const fields = result.data.fields || {};
      setText(form.querySelector(".new-client-status"),
        texts.failed + ": " + (Object.values(fields).join("; ") || result.data.error || result.status));
    }
  }

  async function saveWrapUp(event, card) {
    event.preventDefault();
    const form = event.target;
    const status = form.querySelector(".wrapup-status");
    const when = form.elements.callback_at.value;
    const body = {
      disposition: form.elements.disposition.value || null,
      note: form.elements.note.value,
      next_step: form.elements.next_step.value,
      // typed in the user's own zone (their profile), whatever the browser's is
      callback_at: when ? window.callcenterTime.zonedToIso(when) : null,
    };
    for (let attempt = 0; attempt < 5; attempt++) {
      const result = await postJSON("/api/v1/calls/" + encodeURIComponent(card.dataset.linkedid) + "/wrapup", body);
      if (result.status === 409) { await new Promise((r) => setTimeout(r, 400)); continue; }
      setText(status, result.ok ? texts.saved : texts.failed + ": " + (result.data.error || result.status));
      if (result.ok) {
        card.dataset.state = "done";
        setTimeout(() => { card.remove(); byCall.delete(card.dataset.linkedid); }, 1500);
      }
      return;
    }
    setText(status, texts.failed);
  }

  const handlers = {
    "call.ringing"(msg) { showPop(msg.data); },
    "call.updated"(msg) { const card = byCall.get(msg.data.linkedid); if (card) fillPop(card, msg.data); },
    "call.answered"(msg) { answered(msg.data); },
    "call.withdrawn"(msg) { removePop(msg.data.linkedid); },
    "call.ended"(msg) { ended(msg.data); },
    "calls.current"(msg) { currentCalls(msg.data); },
    "agent.state"(msg) { showAgentState(msg.data.state, msg.data.reason); },
  };

  function showAgentState(state, reason) {
    const node = document.querySelector("[data-testid=agent-state]");
    if (!node) return;
    node.dataset.state = state;
    setText(node, (texts[state] || state) + (reason ? " (" + reason + ")" : ""));
  }

  const controls = document.querySelector("[data-testid=agent-controls]");
  if (controls) {
    const change = async (state) => {
      const reason = state === "paused" ? controls.elements.reason.value : "";
      const result = await postJSON("/api/v1/agent/state", { state, reason });
      if (result.ok) showAgentState(result.data.state, result.data.reason);
      else controls.title = result.data.error || String(result.status);
    };
    controls.querySelector(".agent-ready").addEventListener("click", () => change("ready"));
    controls.querySelector(".agent-pause").addEventListener("click", () => change("paused"));
  }

  // live.js owns the page's one websocket and hands every message on
  document.addEventListener("cc:socket", (event) => setLive(event.detail.state));
  document.addEventListener("cc:message", (event) => {
    const handle = handlers[event.detail.type];
    if (handle) handle(event.detail);
  });
})();
