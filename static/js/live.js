// A WebSocket that reconnects with backoff and jitter, numbers commands, and checks event seq.
// The server sends `hello` on every connect; the page rebuilds itself from it. A seq gap (an
// event lost on the way) makes us send `sync`, answered by a fresh hello.
"use strict";

(function () {
  const HEARTBEAT_MS = 10000;
  // The page's strings in its language: Django's catalogue (/jsi18n/) defines gettext; a page
  // without it shows the English. `%(name)s` in a string is filled in from `values`.
  const gettext = window.gettext || ((text) => text);
  function t(text, values) {
    const said = gettext(text);
    return values ? said.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? "")) : said;
  }
  const LANG = document.documentElement.lang || undefined;
  const REFUSED = new Set([4401, 4403]);

  class LiveSocket {
    constructor(url, { onHello, onEvent, onDown, onUp, onRefused } = {}) {
      this.url = url;
      this.handlers = { onHello, onEvent, onDown, onUp, onRefused };
      this.ws = null;
      this.attempt = 0;
      this.lastSeq = null;
      this.clockOffset = 0; // server time minus browser time, in ms
      this.pending = new Map();
      this.nextRef = 1;
      this.syncs = 0;
      this.heartbeatMs = HEARTBEAT_MS;
      this.stopped = false;
      this.connect();
    }

    connect() {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => {
        this.attempt = 0;
        this.startHeartbeat();
      };
      ws.onmessage = (msg) => this.receive(msg.data);
      ws.onclose = (ev) => {
        this.stopHeartbeat();
        for (const { reject } of this.pending.values()) reject({ code: "disconnected" });
        this.pending.clear();
        if (this.ws !== ws || this.stopped) return;
        if (REFUSED.has(ev.code)) {
          this.handlers.onRefused && this.handlers.onRefused(ev.code);
          return;
        }
        this.handlers.onDown && this.handlers.onDown();
        this.scheduleReconnect();
      };
    }

    scheduleReconnect() {
      // Exponential backoff capped at 15 s, with full jitter so a restarted server is not
      // hit by every workspace at the same instant.
      const cap = Math.min(15000, 500 * 2 ** this.attempt);
      const delay = cap / 2 + Math.random() * (cap / 2);
      this.attempt += 1;
      setTimeout(() => this.connect(), delay);
    }

    startHeartbeat() {
      this.stopHeartbeat();
      this.heartbeat = setInterval(() => {
        this.command({ type: "heartbeat" })
          .then((ack) => {
            // The server's counter is ahead of us and stays so: an event went missing at the end.
            if (typeof ack.seq === "number" && this.lastSeq !== null && ack.seq > this.lastSeq) {
              const seen = this.lastSeq;
              setTimeout(() => {
                if (this.lastSeq === seen) this.sync();
              }, 1500);
            }
          })
          .catch(() => {});
      }, this.heartbeatMs);
    }

    stopHeartbeat() {
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = null;
    }

    serverNow() {
      return Date.now() + this.clockOffset;
    }

    receive(raw) {
      let frame;
      try {
        frame = JSON.parse(raw);
      } catch (e) {
        return;
      }
      if (frame.ts) {
        const ts = Date.parse(frame.ts);
        if (!Number.isNaN(ts)) this.clockOffset = ts - Date.now();
      }
      if (frame.type === "ack" || frame.type === "error") {
        const waiter = this.pending.get(frame.ref);
        if (waiter) {
          this.pending.delete(frame.ref);
          frame.type === "ack" ? waiter.resolve(frame) : waiter.reject(frame);
        }
        return;
      }
      if (frame.type === "hello") {
        this.lastSeq = frame.seq;
        this.handlers.onUp && this.handlers.onUp();
        this.handlers.onHello && this.handlers.onHello(frame);
        return;
      }
      if (typeof frame.seq === "number" && this.lastSeq !== null) {
        if (frame.seq <= this.lastSeq) return; // already covered by a hello
        const gap = frame.seq !== this.lastSeq + 1;
        this.lastSeq = frame.seq;
        this.handlers.onEvent && this.handlers.onEvent(frame);
        if (gap) this.sync();
        return;
      }
      this.handlers.onEvent && this.handlers.onEvent(frame);
    }

    sync() {
      this.syncs += 1;
      document.body.dataset.syncs = String(this.syncs);
      this.command({ type: "sync" }).catch(() => {});
    }

    command(frame) {
      return new Promise((resolve, reject) => {
        if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
          reject({ code: "disconnected", detail: t("Not connected; try again in a moment.") });
          return;
        }
        const ref = "c" + this.nextRef++;
        this.pending.set(ref, { resolve, reject });
        this.ws.send(JSON.stringify({ ...frame, ref }));
      });
    }

    close() {
      this.stopped = true;
      this.stopHeartbeat();
      if (this.ws) this.ws.close();
    }
  }

  function wsUrl(path) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + location.host + path;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function timeOf(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    return d.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" });
  }

  function sizeText(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  // A file in the conversation: an image as a thumbnail (opens full size), anything else as a
  // download link. `fileUrl` adds what this page needs to be let in (the customer's token).
  function attachmentNode(att, fileUrl) {
    const url = fileUrl(att.url);
    if (/^image\/(png|jpeg|gif|webp)$/.test(att.content_type)) {
      return el(
        "a",
        { class: "attachment", href: url, target: "_blank", rel: "noopener" },
        el("img", { class: "thumb", src: url, alt: att.name, loading: "lazy" }),
      );
    }
    return el(
      "a",
      { class: "attachment file", href: url, download: att.name },
      el("span", { class: "file-name" }, att.name),
      el("span", { class: "file-size" }, sizeText(att.size)),
    );
  }

  function dayLabel(d) {
    const today = new Date();
    const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (d.toDateString() === today.toDateString()) return t("Today");
    if (d.toDateString() === yesterday.toDateString()) return t("Yesterday");
    const how = { weekday: "long", year: "numeric", month: "long", day: "numeric" };
    return d.toLocaleDateString(LANG, how);
  }

  // The conversation as a list, oldest first, grouped by day, scrolled to the newest (workspace,
  // chat page, transcripts). `mine`: the sender whose last message the other side has read is
  // marked "Seen". `names` ({customer, agent}): who wrote each line, shown above it (an agent's
  // message names its own author); with `names.avatars`, an agent's line starts with the
  // initial of its author's name.
  function renderMessages(list, messages, mine, fileUrl = (u) => u, names = null) {
    let seen = -1;
    messages.forEach((m, i) => {
      if (mine && m.sender === mine && m.read_at) seen = i;
    });
    const items = [];
    let day = "";
    messages.forEach((m, i) => {
      const at = new Date(m.created_at);
      const key = Number.isNaN(at.getTime()) ? "" : at.toDateString();
      if (key && key !== day) {
        day = key;
        items.push(el("li", { class: "day", role: "separator" }, dayLabel(at)));
      }
      let who = null;
      if (names && m.sender === "agent") who = (m.author && m.author.display_name) || names.agent;
      else if (names && m.sender === "customer") who = names.customer;
      const initial = names && names.avatars && m.sender === "agent" && who ? who.trim()[0] : "";
      items.push(
        el(
          "li",
          { class: `msg ${m.sender}${initial ? " with-avatar" : ""}`, "data-sender": m.sender, "data-id": m.id },
          initial ? el("span", { class: "avatar", "aria-hidden": "true" }, initial.toUpperCase()) : null,
          who ? el("span", { class: "who" }, who) : null,
          m.attachment ? attachmentNode(m.attachment, fileUrl) : el("span", { class: "body" }, m.body),
          el("time", { dateTime: m.created_at }, timeOf(m.created_at)),
          i === seen ? el("span", { class: "seen" }, t("Seen")) : null,
        ),
      );
    });
    list.replaceChildren(...items);
    list.scrollTop = list.scrollHeight;
  }

  // A read receipt from the other side: every message of `sender` up to `messageId` is read.
  function markRead(messages, sender, messageId, at) {
    const upto = messages.findIndex((m) => String(m.id) === String(messageId));
    if (upto < 0) return false;
    let changed = false;
    for (let i = 0; i <= upto; i++) {
      if (messages[i].sender === sender && !messages[i].read_at) {
        messages[i].read_at = at;
        changed = true;
      }
    }
    return changed;
  }

  // Typing: say so at most every 2 s while the box changes (the server forwards no more).
  function typingNotifier(box, send) {
    let last = 0;
    box.addEventListener("input", () => {
      const text = box.value;
      if (!text.trim() || text.startsWith("/")) return;
      const now = Date.now();
      if (now - last < 2000) return;
      last = now;
      send();
    });
  }

  // A send box: the text goes out as it is when the agent or customer presses Enter, and the
  // box is emptied at that moment, so whatever is typed while the server answers stays. A send
  // that fails puts its text back in front of what was typed since.
  function sendBox(form, box, send, onError) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const text = box.value;
      if (!text.trim()) return;
      const sent = send(text);
      if (!sent) return;
      box.value = "";
      sent.catch((err) => {
        box.value = box.value ? `${text}\n${box.value}` : text;
        onError(err);
      });
    });
    box.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !ev.defaultPrevented) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
  }

  // Files: a button, a hidden file input and a drop zone, each upload with its progress bar.
  // `target()` says where to send ({url, headers}) or null when nothing can be sent now.
  function uploader({ button, input, zone, progress, target, onSent, onError }) {
    function send(file) {
      const where = target();
      if (!where || !file) return;
      const xhr = new XMLHttpRequest();
      xhr.open("POST", where.url);
      for (const [name, value] of Object.entries(where.headers || {})) xhr.setRequestHeader(name, value);
      xhr.setRequestHeader("Accept", "application/json");
      progress.hidden = false;
      progress.value = 0;
      xhr.upload.onprogress = (ev) => {
        if (ev.lengthComputable) progress.value = Math.round((100 * ev.loaded) / ev.total);
      };
      xhr.onloadend = () => {
        progress.hidden = true;
        let body = {};
        try {
          body = JSON.parse(xhr.responseText || "{}");
        } catch (e) {
          body = {};
        }
        if (xhr.status === 201) onSent(body);
        else onError(body.detail || t("The file was not sent (%(why)s).", { why: xhr.status || t("no connection") }));
      };
      const form = new FormData();
      form.append("file", file);
      xhr.send(form);
    }
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      for (const file of input.files) send(file);
      input.value = "";
    });
    zone.addEventListener("dragover", (ev) => {
      if (!ev.dataTransfer || ![...ev.dataTransfer.types].includes("Files")) return;
      ev.preventDefault();
      zone.classList.add("dropping");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dropping"));
    zone.addEventListener("drop", (ev) => {
      zone.classList.remove("dropping");
      if (!ev.dataTransfer || !ev.dataTransfer.files.length) return;
      ev.preventDefault();
      for (const file of ev.dataTransfer.files) send(file);
    });
    return { send };
  }

  // The transfer dialog (templates/includes/transfer_dialog.html) of the workspace and the
  // wallboard: `targets()` resolves to {agents, groups} (`transfer.targets`); `send(sessionId,
  // {to_agent | to_group, note})` starts the transfer and resolves once it is offered.
  function transferDialog({ targets, send }) {
    const byId = (id) => document.getElementById(id);
    const dialog = byId("transfer-dialog");
    const fail = (text) => {
      byId("transfer-error").textContent = text;
      byId("transfer-error").hidden = false;
    };
    function choice(kind, id, text, enabled) {
      const input = el("input", { type: "radio", name: "target", value: `${kind}:${id}`, disabled: !enabled });
      return el("label", { class: enabled ? "" : "full" }, input, text);
    }
    function open(sessionId, { skipAgent = null } = {}) {
      return targets().then((found) => {
        const agents = (found.agents || [])
          .filter((a) => String(a.id) !== String(skipAgent))
          .map((a) => choice("agent", a.id, `${a.display_name} — ${a.load} / ${a.capacity}`, a.load < a.capacity));
        const groups = (found.groups || []).map((g) => {
          const values = { group: g.name, free: g.free, online: g.online };
          return choice("group", g.id, t("%(group)s — %(free)s free of %(online)s online", values), g.free > 0);
        });
        byId("transfer-agents").replaceChildren(
          ...(agents.length ? agents : [el("p", { class: "muted" }, t("No other agent is online."))]),
        );
        byId("transfer-groups").replaceChildren(
          ...(groups.length ? groups : [el("p", { class: "muted" }, t("No skill groups."))]),
        );
        byId("transfer-note").value = "";
        byId("transfer-error").hidden = true;
        dialog.dataset.sessionId = sessionId;
        dialog.showModal();
      });
    }
    byId("transfer-cancel").addEventListener("click", () => dialog.close());
    byId("transfer-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const picked = byId("transfer-form").querySelector("input[name=target]:checked");
      if (!picked) return fail(t("Pick an agent or a group."));
      const [kind, target] = picked.value.split(":");
      const body = { [kind === "agent" ? "to_agent" : "to_group"]: target };
      const note = byId("transfer-note").value.trim();
      if (note) body.note = note;
      byId("transfer-send").disabled = true;
      send(dialog.dataset.sessionId, body)
        .then(() => dialog.close())
        .catch((err) => fail((err && err.detail) || t("The transfer could not be started.")))
        .finally(() => (byId("transfer-send").disabled = false));
    });
    return { open, isOpen: () => dialog.open };
  }

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  window.CC = {
    LiveSocket,
    wsUrl,
    el,
    timeOf,
    renderMessages,
    t,
    markRead,
    typingNotifier,
    sendBox,
    uploader,
    transferDialog,
    csrfToken,
  };
})();
