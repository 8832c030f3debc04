// The agent workspace: status and load, offer prompt bars with countdown and ringtone, the list
// of active chats with unread counts, and the chat pane. All state is rebuilt from each hello.
"use strict";

(function () {
  const { LiveSocket, wsUrl, el, renderMessages, markRead, typingNotifier, sendBox, uploader, csrfToken } =
    window.CC;
  const $ = (id) => document.getElementById(id);
  const REASONS = {
    agent_ended: "You ended this chat.",
    customer_ended: "The customer left the chat.",
    customer_idle_timeout: "Ended: the customer did not reply in time (idle timeout).",
    staff_ended: "A staff member ended this chat.",
  };
  // Why a transfer this agent asked for did not happen, as `session.transfer_failed` says.
  const TRANSFER_FAILED = {
    declined: (who) => `${who} declined the transfer.`,
    expired: (who) => `${who} did not accept the transfer in time.`,
    unavailable: (who) => `${who} is no longer available: the transfer was cancelled.`,
  };

  const REASON_TEXT = { missed_offers: "set away: offers went unanswered" };
  const TYPING_SHOWN_MS = 4000; // a typing signal comes every 2 s while someone types
  // A chat's group, unless the agent serves that one group alone (then it says nothing new).
  function groupTag(s) {
    const mine = (state.agent && state.agent.skill_groups) || [];
    const only = mine.length === 1 && s.skill_group && String(mine[0].id) === String(s.skill_group.id);
    if (!s.skill_group || only) return null;
    return el("span", { class: "group", title: "Skill group" }, s.skill_group.name);
  }

  const state = {
    agent: null,
    offers: new Map(), // session id -> {session, offer, firstMessage}
    sessions: new Map(), // active session id -> {session, unread, messages|null, lastActivity}
    ended: new Map(), // session id -> reason (kept so the pane can say why)
    typing: new Map(), // session id -> until when its customer shows as typing (ms)
    selected: null,
  };
  const ring = $("ring");
  let audioUnlocked = false;

  const socket = new LiveSocket(wsUrl("/ws/agent/"), {
    onHello: rebuild,
    onEvent: handle,
    onDown: () => ($("conn-banner").hidden = false),
    onUp: () => ($("conn-banner").hidden = true),
    onRefused: () => location.assign("/accounts/login/?next=/workspace/"),
  });
  window.ccWorkspace = { state, socket };

  // --- state changes from the server ------------------------------------------------------

  function rebuild(hello) {
    state.agent = hello.agent;
    if (hello.presence_grace_seconds) {
      // Heartbeats well inside the grace period, so an open workspace is never taken for gone.
      socket.heartbeatMs = Math.max(2000, Math.min(10000, (hello.presence_grace_seconds * 1000) / 3));
    }
    const oldSessions = state.sessions;
    state.offers = new Map();
    state.sessions = new Map();
    for (const s of hello.sessions) {
      if (s.offer) {
        // Offered to this agent: a new chat, or (still active with someone else) a transfer.
        state.offers.set(s.id, { session: s, offer: s.offer, firstMessage: s.first_message });
      } else if (s.state === "active") {
        const old = oldSessions.get(s.id);
        state.sessions.set(s.id, {
          session: s,
          unread: old ? old.unread : 0,
          messages: null,
          lastActivity: s.last_activity_at || s.accepted_at,
          transfer: s.transfer || null,
        });
      }
    }
    if (state.selected && !state.sessions.has(state.selected) && !state.ended.has(state.selected)) {
      state.selected = null;
    }
    if (state.selected && state.sessions.has(state.selected)) loadMessages(state.selected);
    renderAll();
  }

  function handle(frame) {
    switch (frame.type) {
      case "session.offered": {
        const s = frame.session;
        state.offers.set(s.id, { session: s, offer: frame.offer, firstMessage: s.first_message });
        notify(s);
        break;
      }
      case "session.offer_expired": {
        const o = state.offers.get(frame.session_id);
        if (o && String(o.offer.id) === String(frame.offer_id)) state.offers.delete(frame.session_id);
        break;
      }
      case "session.assigned": {
        const s = frame.session;
        state.offers.delete(s.id);
        state.ended.delete(s.id);
        const old = state.sessions.get(s.id);
        state.sessions.set(s.id, {
          session: s,
          unread: old ? old.unread : 0,
          messages: old ? old.messages : null,
          lastActivity: s.last_activity_at || s.accepted_at,
        });
        if (!state.selected || !state.sessions.has(state.selected)) select(s.id);
        break;
      }
      case "message.created": {
        const m = frame.message;
        const entry = state.sessions.get(m.session_id);
        if (m.sender === "customer") state.typing.delete(m.session_id); // it was sent
        if (entry) {
          if (entry.messages && !entry.messages.some((x) => x.id === m.id)) entry.messages.push(m);
          entry.lastActivity = m.created_at;
          if (state.selected !== m.session_id || document.hidden) entry.unread += 1;
        }
        break;
      }
      case "typing": {
        if (frame.sender !== "customer") return;
        state.typing.set(frame.session_id, Date.now() + TYPING_SHOWN_MS);
        setTimeout(renderTyping, TYPING_SHOWN_MS + 50);
        renderTyping();
        return;
      }
      case "message.read": {
        const entry = state.sessions.get(frame.session_id);
        if (entry && entry.messages && frame.reader === "customer") {
          markRead(entry.messages, "agent", frame.message_id, frame.ts);
        }
        break;
      }
      case "session.transfer_pending": {
        const entry = state.sessions.get(frame.session_id);
        if (entry) entry.transfer = frame.transfer;
        break;
      }
      case "session.transfer_failed": {
        const entry = state.sessions.get(frame.session_id);
        if (entry && entry.transfer && String(entry.transfer.offer_id) === String(frame.offer_id)) {
          entry.transfer = null;
        }
        const who = (frame.to_agent && frame.to_agent.display_name) || "The other agent";
        const say = TRANSFER_FAILED[frame.reason];
        flash(say ? say(who) : `The transfer did not happen (${frame.reason}).`);
        break;
      }
      case "session.transferred": {
        const entry = state.sessions.get(frame.session_id);
        state.sessions.delete(frame.session_id);
        const to = (frame.to_agent && frame.to_agent.display_name) || "another agent";
        const name = entry ? entry.session.customer_name : "the customer";
        if (entry || state.selected === frame.session_id) {
          state.ended.set(frame.session_id, { reason: "transferred", to, entry });
        }
        flash(`Your chat with ${name} is now with ${to}.`, "info");
        break;
      }
      case "session.ended": {
        state.offers.delete(frame.session_id);
        const entry = state.sessions.get(frame.session_id);
        state.sessions.delete(frame.session_id);
        if (entry || state.selected === frame.session_id) {
          state.ended.set(frame.session_id, { reason: frame.reason, entry });
        }
        break;
      }
      case "agent.updated":
        state.agent = { ...state.agent, ...frame.agent };
        break;
      default:
        return;
    }
    renderAll();
  }

  // --- rendering --------------------------------------------------------------------------

  function renderAll() {
    renderStatus();
    renderOffers();
    renderList();
    renderPane();
    updateRing();
  }

  function renderStatus() {
    if (!state.agent) return;
    for (const b of document.querySelectorAll(".status-switch button")) {
      b.classList.toggle("on", b.dataset.status === state.agent.status);
      b.setAttribute("aria-checked", String(b.dataset.status === state.agent.status));
    }
    document.body.dataset.status = state.agent.status;
    const reason = state.agent.status !== "online" && state.agent.status_reason;
    $("status-reason").hidden = !reason;
    $("status-reason").textContent = reason ? `(${REASON_TEXT[reason] || reason})` : "";
    const load = state.offers.size + state.sessions.size;
    $("load").textContent = `${load} / ${state.agent.capacity || state.agent.max_sessions || "–"}`;
  }

  function renderOffers() {
    const box = $("offers");
    const seen = new Set();
    for (const [id, o] of state.offers) {
      seen.add(String(o.offer.id));
      if (box.querySelector(`[data-offer-id="${o.offer.id}"]`)) continue;
      const transfer = o.offer.kind === "transfer";
      const serve = el("button", { type: "button", class: "primary serve" }, transfer ? "Accept" : "Serve");
      serve.addEventListener("click", () => accept(id, serve));
      const decline = el("button", { type: "button", class: "decline" }, "Decline");
      decline.addEventListener("click", () => declineOffer(id, decline));
      const from = transfer && o.offer.from_agent ? o.offer.from_agent.display_name : "";
      const title = transfer
        ? el("span", { class: "prompt-title" }, `Transfer from ${from || "a colleague"}: `, el("b", {}, o.session.customer_name))
        : el("span", { class: "prompt-title" }, "New chat: ", el("b", {}, o.session.customer_name));
      const detail = transfer && o.offer.note
        ? el("span", { class: "prompt-first note", title: "Note from " + from }, `Note: “${o.offer.note}”`)
        : el("span", { class: "prompt-first" }, o.firstMessage ? `“${o.firstMessage}”` : "");
      const bar = el(
        "div",
        {
          class: transfer ? "prompt transfer" : "prompt",
          "data-session-id": id,
          "data-offer-id": o.offer.id,
          "data-kind": o.offer.kind || "routing",
          role: "alert",
        },
        title,
        groupTag(o.session),
        detail,
        el("span", { class: "countdown", "data-expires": o.offer.expires_at }, ""),
        serve,
        decline,
      );
      box.append(bar);
    }
    for (const bar of [...box.children]) {
      if (!seen.has(bar.dataset.offerId)) bar.remove();
    }
    tick();
  }

  function tick() {
    tickPending();
    // Remaining time from the server's expires_at, corrected by the clock offset seen in `ts`.
    for (const span of document.querySelectorAll("#offers .countdown")) {
      const left = Math.ceil((Date.parse(span.dataset.expires) - socket.serverNow()) / 1000);
      const bar = span.closest(".prompt");
      if (left <= 0) {
        // Time is up: the server moves the session to another agent.
        const o = state.offers.get(bar.dataset.sessionId);
        if (o && String(o.offer.id) === bar.dataset.offerId) state.offers.delete(bar.dataset.sessionId);
        bar.remove();
        renderStatus();
        updateRing();
      } else {
        span.textContent = `${left} s`;
        span.dataset.seconds = String(left);
      }
    }
  }
  setInterval(tick, 250);

  // The selected chat's transfer, while the other agent has not answered: no cancel, a count.
  function tickPending() {
    const entry = state.selected && state.sessions.get(state.selected);
    const t = entry && entry.transfer;
    $("transfer-pending").hidden = !t;
    $("transfer-chat").disabled = Boolean(t);
    if (!t) return;
    const who = (t.to_agent && t.to_agent.display_name) || "the other agent";
    const left = Math.ceil((Date.parse(t.expires_at) - socket.serverNow()) / 1000);
    $("transfer-pending").textContent =
      left > 0 ? `Waiting for ${who} to accept… ${left} s` : `Waiting for ${who}…`;
  }

  function renderList() {
    const ul = $("sessions");
    ul.replaceChildren();
    const rows = [...state.sessions.values()].sort((a, b) =>
      String(b.lastActivity || "").localeCompare(String(a.lastActivity || "")),
    );
    for (const entry of rows) {
      const s = entry.session;
      const li = el(
        "li",
        { class: s.id === state.selected ? "selected" : "", "data-session-id": s.id },
        el("span", { class: "name" }, s.customer_name),
        groupTag(s),
        entry.unread ? el("span", { class: "unread", title: "unread" }, String(entry.unread)) : null,
      );
      li.addEventListener("click", () => select(s.id));
      ul.append(li);
    }
    $("no-sessions").hidden = rows.length > 0;
  }

  function renderPane() {
    const id = state.selected;
    const active = id && state.sessions.get(id);
    const ended = id && state.ended.get(id);
    $("pane").hidden = !(active || ended);
    $("pane-empty").hidden = Boolean(active || ended);
    if (!(active || ended)) return;
    const entry = active || ended.entry || { session: { customer_name: "" }, messages: [] };
    $("pane").dataset.sessionId = id;
    $("pane-title").textContent = entry.session.customer_name;
    const group = entry.session.skill_group;
    $("pane-group").hidden = !groupTag(entry.session);
    $("pane-group").textContent = group ? group.name : "";
    $("end-chat").hidden = !active;
    $("transfer-chat").hidden = !active;
    $("send").hidden = !active;
    $("ended-note").hidden = !ended;
    if (ended) {
      $("ended-note").textContent =
        ended.reason === "transferred"
          ? `Transferred to ${ended.to}.`
          : REASONS[ended.reason] || `Ended (${ended.reason}).`;
    }
    tickPending();
    renderMessages($("log"), entry.messages || [], "agent");
    renderTyping();
    if (active) markSeen(id);
  }

  // The customer is typing in the chat on screen: said under the log for a few seconds.
  function renderTyping() {
    const id = state.selected;
    const until = id ? state.typing.get(id) || 0 : 0;
    const entry = id && state.sessions.get(id);
    const on = Boolean(entry) && until > Date.now();
    $("typing").hidden = !on;
    if (on) $("typing").textContent = `${entry.session.customer_name} is typing…`;
  }

  // Read receipts: the chat on screen, in a visible tab, is read up to its last customer line.
  function markSeen(id) {
    const entry = state.sessions.get(id);
    if (!entry || !entry.messages || document.hidden) return;
    const last = [...entry.messages].reverse().find((m) => m.sender === "customer");
    if (!last || last.read_at || entry.readUpTo === last.id) return;
    entry.readUpTo = last.id;
    socket.command({ type: "message.read", session_id: id, message_id: last.id }).catch(() => {
      entry.readUpTo = null;
    });
  }
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.selected) markSeen(state.selected);
  });

  function select(id) {
    state.selected = id;
    const entry = state.sessions.get(id);
    if (entry) {
      entry.unread = 0;
      if (entry.messages === null) loadMessages(id);
    }
    renderAll();
  }

  function loadMessages(id) {
    socket
      .command({ type: "messages.list", session_id: id })
      .then((ack) => {
        const entry = state.sessions.get(id);
        if (entry) {
          entry.messages = ack.messages;
          renderPane();
        }
      })
      .catch(() => {});
  }

  // --- commands ---------------------------------------------------------------------------

  function accept(id, button) {
    button.disabled = true;
    socket
      .command({ type: "session.accept", session_id: id })
      .then((ack) => {
        state.offers.delete(id);
        handle({ type: "session.assigned", session: ack.session });
        select(id);
      })
      .catch((err) => {
        state.offers.delete(id);
        renderAll();
        flash(err.detail || "That chat is no longer available.");
      });
  }

  function declineOffer(id, button) {
    button.disabled = true;
    socket
      .command({ type: "session.decline", session_id: id })
      .then(() => {
        state.offers.delete(id);
        renderAll();
      })
      .catch((err) => {
        state.offers.delete(id);
        renderAll();
        flash(err.detail || "That chat is no longer available.");
      });
  }

  sendBox(
    $("send"),
    $("body"),
    (body) => {
      const id = state.selected;
      if (!id) return null;
      return socket
        .command({ type: "message.send", session_id: id, body })
        .then((ack) => handle({ type: "message.created", message: ack.message }));
    },
    (err) => flash(err.detail || "Not sent."),
  );

  $("end-chat").addEventListener("click", () => {
    const id = state.selected;
    if (!id) return;
    socket
      .command({ type: "session.end", session_id: id })
      .then(() => handle({ type: "session.ended", session_id: id, reason: "agent_ended" }))
      .catch((err) => flash(err.detail || "Could not end the chat."));
  });

  uploader({
    button: $("attach"),
    input: $("file"),
    zone: $("pane"),
    progress: $("upload-progress"),
    target: () =>
      state.selected && state.sessions.has(state.selected)
        ? {
            url: `/api/sessions/${state.selected}/attachments/`,
            headers: { "X-CSRFToken": csrfToken() },
          }
        : null,
    onSent: (message) => handle({ type: "message.created", message }),
    onError: (detail) => flash(detail),
  });

  typingNotifier($("body"), () => {
    if (state.selected && state.sessions.has(state.selected)) {
      socket.command({ type: "typing", session_id: state.selected }).catch(() => {});
    }
  });

  // --- canned responses: "/" at the start of the send box ---------------------------------

  const picker = $("canned");
  let canned = null; // loaded on first use
  let picks = [];
  let pick = 0;

  function loadCanned() {
    return fetch("/api/canned-responses/?limit=500", { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : { results: [] }))
      .then((data) => (canned = data.results || data))
      .catch(() => (canned = []));
  }

  function closePicker() {
    picker.hidden = true;
    picks = [];
    $("body").removeAttribute("aria-activedescendant");
  }

  function renderPicker(query) {
    const q = query.toLowerCase();
    picks = canned
      .filter((c) => c.shortcut.includes(q) || c.title.toLowerCase().includes(q))
      .slice(0, 8);
    pick = Math.min(pick, Math.max(0, picks.length - 1));
    picker.replaceChildren(
      ...(picks.length
        ? picks.map((c, i) => {
            const li = el(
              "li",
              { id: `canned-${c.id}`, role: "option", "data-shortcut": c.shortcut },
              el("span", { class: "shortcut" }, `/${c.shortcut}`),
              c.title,
              el("span", { class: "preview" }, c.body),
            );
            li.setAttribute("aria-selected", String(i === pick));
            li.addEventListener("mousedown", (ev) => {
              ev.preventDefault(); // keep the focus in the box
              insertCanned(c);
            });
            return li;
          })
        : [el("li", { class: "muted" }, canned.length ? `Nothing matches /${query}.` : "No canned responses yet.")]),
    );
    if (picks.length) $("body").setAttribute("aria-activedescendant", `canned-${picks[pick].id}`);
    picker.hidden = false;
  }

  function updatePicker() {
    const m = /^\/([a-z0-9_-]*)$/i.exec($("body").value);
    if (!m) return closePicker();
    if (canned === null) return loadCanned().then(updatePicker);
    renderPicker(m[1]);
  }

  function insertCanned(c) {
    const entry = state.sessions.get(state.selected);
    const customer = entry ? entry.session.customer_name : "";
    const me = (state.agent && state.agent.display_name) || "";
    $("body").value = c.body.replaceAll("{customer}", customer).replaceAll("{agent}", me);
    closePicker();
    $("body").focus();
  }

  $("body").addEventListener("input", () => {
    pick = 0;
    updatePicker();
  });
  $("body").addEventListener("blur", () => setTimeout(closePicker, 150));
  // Capture: ahead of the send box's own Enter, so Enter picks instead of sending "/re".
  $("body").addEventListener(
    "keydown",
    (ev) => {
      if (picker.hidden) return;
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        if (!picks.length) return;
        pick = (pick + (ev.key === "ArrowDown" ? 1 : picks.length - 1)) % picks.length;
        renderPicker(/^\/(.*)$/.exec($("body").value)[1]);
      } else if ((ev.key === "Enter" || ev.key === "Tab") && picks.length) {
        ev.preventDefault();
        insertCanned(picks[pick]);
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        closePicker();
      }
    },
    { capture: true },
  );

  // --- transfer ---------------------------------------------------------------------------

  const dialog = $("transfer-dialog");

  function choice(kind, id, text, enabled) {
    const input = el("input", { type: "radio", name: "target", value: `${kind}:${id}`, disabled: !enabled });
    return el("label", { class: enabled ? "" : "full" }, input, text);
  }

  $("transfer-chat").addEventListener("click", () => {
    const id = state.selected;
    if (!id || !state.sessions.has(id)) return;
    socket
      .command({ type: "transfer.targets" })
      .then((targets) => {
        const agents = targets.agents.map((a) =>
          choice("agent", a.id, `${a.display_name} — ${a.load} / ${a.capacity}`, a.load < a.capacity),
        );
        const groups = targets.groups.map((g) =>
          choice("group", g.id, `${g.name} — ${g.free} free of ${g.online} online`, g.free > 0),
        );
        $("transfer-agents").replaceChildren(
          ...(agents.length ? agents : [el("p", { class: "muted" }, "No other agent is online.")]),
        );
        $("transfer-groups").replaceChildren(
          ...(groups.length ? groups : [el("p", { class: "muted" }, "No skill groups.")]),
        );
        $("transfer-note").value = "";
        $("transfer-error").hidden = true;
        dialog.dataset.sessionId = id;
        dialog.showModal();
      })
      .catch((err) => flash(err.detail || "Could not list who to transfer to."));
  });
  $("transfer-cancel").addEventListener("click", () => dialog.close());

  $("transfer-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = dialog.dataset.sessionId;
    const picked = $("transfer-form").querySelector("input[name=target]:checked");
    const fail = (text) => {
      $("transfer-error").textContent = text;
      $("transfer-error").hidden = false;
    };
    if (!picked) return fail("Pick an agent or a group.");
    const [kind, target] = picked.value.split(":");
    const command = { type: "session.transfer", session_id: id, note: $("transfer-note").value };
    command[kind === "agent" ? "to_agent" : "to_group"] = target;
    $("transfer-send").disabled = true;
    socket
      .command(command)
      .then((ack) => {
        const entry = state.sessions.get(id);
        if (entry) entry.transfer = ack.transfer;
        dialog.close();
        renderPane();
      })
      .catch((err) => fail(err.detail || "The transfer could not be started."))
      .finally(() => ($("transfer-send").disabled = false));
  });

  for (const b of document.querySelectorAll(".status-switch button")) {
    b.addEventListener("click", () => {
      socket
        .command({ type: "agent.status", status: b.dataset.status })
        .then((ack) => {
          state.agent = { ...state.agent, status: ack.status };
          renderStatus();
        })
        .catch((err) => flash(err.detail || "Status not changed."));
    });
  }

  function flash(text, kind = "error") {
    const note = el("div", { class: `banner ${kind} toast`, role: "alert" }, text);
    document.body.append(note);
    setTimeout(() => note.remove(), 4000);
  }

  // --- ringtone and notifications ---------------------------------------------------------

  function updateRing() {
    if (state.offers.size > 0) {
      if (ring.paused) {
        const playing = ring.play();
        if (playing && playing.then) {
          playing.then(
            () => ($("sound-banner").hidden = true),
            () => ($("sound-banner").hidden = state.offers.size === 0),
          );
        }
      }
    } else if (!ring.paused || ring.currentTime) {
      ring.pause();
      ring.currentTime = 0;
      $("sound-banner").hidden = true;
    }
  }

  function unlockAudio() {
    // Browsers allow sound only after a user gesture: the first click anywhere unlocks it.
    if (audioUnlocked) return;
    audioUnlocked = true;
    if (state.offers.size > 0) {
      updateRing();
    } else {
      ring.muted = true;
      ring.play().then(
        () => {
          ring.pause();
          ring.currentTime = 0;
          ring.muted = false;
        },
        () => (ring.muted = false),
      );
    }
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
  }
  document.addEventListener("click", unlockAudio, { capture: true });
  $("sound-banner").addEventListener("click", () => {
    audioUnlocked = false;
    unlockAudio();
    updateRing();
  });

  function notify(session) {
    if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") {
      return;
    }
    try {
      const n = new Notification(`New chat: ${session.customer_name}`, {
        body: session.first_message || "",
        tag: session.id,
      });
      n.onclick = () => window.focus();
    } catch (e) {
      // Some browsers allow notifications only from a service worker; the bar and sound remain.
    }
  }
})();
