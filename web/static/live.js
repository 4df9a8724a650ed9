// The live channel of every signed-in page: one websocket (/ws) per page, with the
// hub's catch-up after a reconnect (hub id + last seq kept in sessionStorage), and
// task toasts. Other scripts get every message as a "cc:message" event on document
// and the socket's state as "cc:socket" ({state: "open" | "closed"}); console.js
// draws its screen-pops from them, so a page never opens a second socket.
// Everything from the server is put into the page with textContent, never as HTML.
"use strict";

(function () {
  const TEXTS = {
    ru: {
      "task.reminder": "Напоминание", "task.assigned": "Новая задача", overdue: "просрочено",
      due: "Срок", open: "Открыть", list: "Мои задачи", close: "Закрыть",
      callback: "Перезвонить", meeting: "Встреча", follow_up: "Контрольный звонок", todo: "Дело",
    },
    en: {
      "task.reminder": "Reminder", "task.assigned": "New task", overdue: "overdue",
      due: "Due", open: "Open", list: "My tasks", close: "Close",
      callback: "Callback", meeting: "Meeting", follow_up: "Follow-up call", todo: "To-do",
    },
  };
  const language = document.documentElement.lang === "en" ? "en" : "ru";
  const texts = TEXTS[language];
  const TOAST_TYPES = ["task.reminder", "task.assigned"];
  const MAX_TOASTS = 5;
  let hub = sessionStorage.getItem("cc-hub") || "";
  let lastSeq = Number(sessionStorage.getItem("cc-seq") || 0);
  let retry = 500;

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail }));
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  // times as the user's profile says (their zone), not the browser's
  const timeZone = document.body.dataset.timeZone || undefined;

  function when(iso) {
    if (!iso) return "";
    const options = { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" };
    try {
      return new Date(iso).toLocaleString(language === "en" ? "en-GB" : "ru-RU", { ...options, timeZone });
    } catch (e) {  // a zone this browser does not know
      return new Date(iso).toLocaleString(language === "en" ? "en-GB" : "ru-RU", options);
    }
  }

  // the offset (ms) of the user's zone from UTC at the moment `epoch`
  function zoneOffset(epoch) {
    if (!timeZone) return -new Date(epoch).getTimezoneOffset() * 60000;
    const parts = {};
    const format = new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
    for (const part of format.formatToParts(new Date(epoch))) parts[part.type] = Number(part.value);
    const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
    return wall - Math.floor(epoch / 1000) * 1000;
  }

  // "2026-12-25T14:30" typed in a datetime-local field means 14:30 in the user's zone
  function zonedToIso(value) {
    const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
    if (!match) return null;
    const wall = Date.UTC(+match[1], +match[2] - 1, +match[3], +match[4], +match[5]);
    let epoch = wall - zoneOffset(wall);
    epoch = wall - zoneOffset(epoch);  // once more: the offset may change (summer time) in between
    return new Date(epoch).toISOString();
  }

  // the end of today in the user's zone, as epoch ms
  function endOfTodayInZone() {
    const offset = zoneOffset(Date.now());
    const wallNow = Date.now() + offset;
    const wallMidnight = Math.floor(wallNow / 86400000) * 86400000 + 86400000;
    return wallMidnight - zoneOffset(wallMidnight - offset);
  }
  window.callcenterTime = { zonedToIso };

  // -- toasts: kept in sessionStorage until closed, so moving to another page keeps them
  function savedToasts() {
    try { return JSON.parse(sessionStorage.getItem("cc-toasts") || "[]"); } catch (e) { return []; }
  }

  function saveToasts(list) {
    sessionStorage.setItem("cc-toasts", JSON.stringify(list.slice(-MAX_TOASTS)));
  }

  function toastBox() {
    let box = document.querySelector(".task-toasts");
    if (!box) {
      const style = document.createElement("link");
      style.rel = "stylesheet";
      style.href = "/static/live.css";
      document.head.append(style);
      box = element("div", "task-toasts");
      box.setAttribute("aria-live", "assertive");
      document.body.append(box);
    }
    return box;
  }

  function drawToast(type, data) {
    const box = toastBox();
    const key = type + ":" + data.id;
    const old = box.querySelector('[data-key="' + CSS.escape(key) + '"]');
    if (old) old.remove();
    const card = element("div", "task-toast" + (data.overdue ? " overdue" : ""));
    card.dataset.testid = "task-toast";
    card.dataset.type = type;
    card.dataset.taskId = String(data.id);
    card.dataset.key = key;
    const head = element("div", "toast-head");
    head.append(element("span", "toast-type", texts[type]));
    head.append(element("span", "toast-kind", texts[data.kind] || data.kind));
    if (data.overdue) head.append(element("span", "toast-overdue", texts.overdue));
    const close = element("button", "toast-close", "×");
    close.type = "button";
    close.title = texts.close;
    close.addEventListener("click", () => {
      card.remove();
      saveToasts(savedToasts().filter((t) => t.type + ":" + t.data.id !== key));
    });
    head.append(close);
    card.append(head, element("div", "toast-title", data.title));
    if (data.contact_name) card.append(element("div", "toast-client", data.contact_name));
    if (data.due_at) card.append(element("div", "toast-due", texts.due + ": " + when(data.due_at)));
    const links = element("div", "toast-links");
    if (data.contact_id) {
      const client = element("a", "toast-open", texts.open);
      client.href = "/clients/" + encodeURIComponent(data.contact_id);
      links.append(client);
    }
    const list = element("a", "toast-list", texts.list);
    list.href = "/tasks";
    links.append(list);
    card.append(links);
    box.append(card);
    while (box.children.length > MAX_TOASTS) box.firstElementChild.remove();
  }

  function toast(type, data) {
    drawToast(type, data);
    const list = savedToasts().filter((t) => !(t.type === type && t.data.id === data.id));
    list.push({ type, data });
    saveToasts(list);
  }

  // -- the /tasks page of today: a task given to me appears without a reload
  function addTaskRow(data) {
    const table = document.querySelector("[data-live-tasks]");
    const template = document.getElementById("task-row-template");
    if (!table || !template || table.querySelector('[data-task-id="' + data.id + '"]')) return;
    if (!data.due_at || new Date(data.due_at).getTime() >= endOfTodayInZone()) return;
    const row = template.content.firstElementChild.cloneNode(true);
    row.dataset.taskId = String(data.id);
    row.dataset.due = data.due_at;
    row.querySelector(".task-time").textContent = when(data.due_at);
    row.querySelector(".task-kind").textContent = texts[data.kind] || data.kind;
    row.querySelector(".task-title").textContent = data.title;
    const client = row.querySelector(".task-client");
    if (data.contact_id) {
      const link = element("a", "", data.contact_name || "—");
      link.href = "/clients/" + encodeURIComponent(data.contact_id);
      client.append(link);
    } else {
      client.textContent = "—";
    }
    row.querySelector("form.task-done-form").action = "/tasks/" + encodeURIComponent(data.id) + "/done";
    const body = table.tBodies[0];
    const due = new Date(data.due_at);
    const later = Array.from(body.rows).find((r) => r.dataset.due && !r.classList.contains("overdue") && new Date(r.dataset.due) > due);
    body.insertBefore(row, later || null);
    const empty = document.querySelector("[data-testid=agenda-empty]");
    if (empty) empty.hidden = true;
  }

  function handle(msg) {
    if (msg.type === "hello") {
      // another hub (first visit, server restarted): start counting from its present
      if (msg.data.hub !== hub) {
        hub = msg.data.hub;
        lastSeq = msg.seq;
        sessionStorage.setItem("cc-hub", hub);
        sessionStorage.setItem("cc-seq", String(lastSeq));
      }
      return;
    }
    if (msg.type === "resync") lastSeq = msg.seq;
    if (TOAST_TYPES.includes(msg.type)) toast(msg.type, msg.data);
    if (msg.type === "task.assigned") addTaskRow(msg.data);
    emit("cc:message", msg);
    if (msg.seq > lastSeq) {
      lastSeq = msg.seq;
      sessionStorage.setItem("cc-seq", String(lastSeq));
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const query = hub ? "?hub=" + encodeURIComponent(hub) + "&last_seq=" + lastSeq : "";
    const socket = new WebSocket(scheme + location.host + "/ws" + query);
    socket.addEventListener("open", () => { retry = 500; emit("cc:socket", { state: "open" }); });
    socket.addEventListener("message", (event) => handle(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      emit("cc:socket", { state: "closed" });
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    });
  }

  function start() {
    for (const saved of savedToasts()) drawToast(saved.type, saved.data);
    connect();
  }

  // after every deferred script (console.js) has added its listeners
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
