// The agent workspace: status and load, offer prompt bars with countdown and ringtone, the list
// of chats (with unread counts, and ended ones until dismissed), the chat pane with the
// customer's details, transfer, canned responses, files, typing and read receipts, and the
// history of past chats. All live state is rebuilt from each hello.
"use strict";

(function () {
  const CC = window.CC;
  const { LiveSocket, wsUrl, el, renderMessages, markRead, typingNotifier, sendBox, t } = CC;
  const $ = (id) => document.getElementById(id);

  // A translated sentence with elements in it, `fill(t("…"), values)`: a `%(name)s` whose value
  // is a DOM node becomes that node, the others text; the parts, ready for el().
  function fill(said, values) {
    return said
      .split(/%\((\w+)\)s/)
      .map((part, i) => {
        if (i % 2 === 0) return part;
        return values[part] instanceof Node ? values[part] : String(values[part] ?? "");
      })
      .filter((part) => part !== "");
  }

  // The page's texts are looked up when they are shown (the catalogue is loaded by then).
  const REASONS = {
    agent_ended: () => t("You ended this chat."),
    customer_ended: () => t("The customer left the chat."),
    customer_idle_timeout: () => t("Ended: the customer did not reply in time (idle timeout)."),
    staff_ended: () => t("A staff member ended this chat."),
  };
  // Said in a toast when a chat ends without this agent ending it.
  const ENDED_TOAST = {
    customer_ended: (name) => t("%(name)s left the chat.", { name }),
    customer_idle_timeout: (name) => t("The chat with %(name)s ended: no reply in time.", { name }),
    staff_ended: (name) => t("A staff member ended the chat with %(name)s.", { name }),
  };
  // Why a transfer this agent asked for did not happen, as `session.transfer_failed` says.
  const TRANSFER_FAILED = {
    declined: (who) => t("%(who)s declined the transfer.", { who }),
    expired: (who) => t("%(who)s did not accept the transfer in time.", { who }),
    unavailable: (who) => t("%(who)s is no longer available: the transfer was cancelled.", { who }),
  };
  const REASON_TEXT = { missed_offers: () => t("set away: offers went unanswered") };
  const TYPING_SHOWN_MS = 4000; // a typing signal comes every 2 s while someone types
  const QUEUE_POLL_MS = 10000;
  const END_CONFIRM_MS = 4000;
  const BASE_TITLE = document.title;
  const LANG = document.documentElement.lang || undefined;

  const state = {
    agent: null,
    offers: new Map(), // session id -> {session, offer, firstMessage}
    // session id -> {session, unread, messages|null, lastActivity, transfer, ended, context}
    // `ended`: {reason, text} once it ended; kept (greyed) until the agent dismisses it.
    sessions: new Map(),
    typing: new Map(), // session id -> until when its customer shows as typing (ms)
    selected: null,
    queues: [],
    view: "chats",
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

  // A chat's group, unless the agent serves that one group alone (then it says nothing new).
  function groupTag(s) {
    const mine = (state.agent && state.agent.skill_groups) || [];
    const only = mine.length === 1 && s.skill_group && String(mine[0].id) === String(s.skill_group.id);
    if (!s.skill_group || only) return null;
    return el("span", { class: "group", title: t("Skill group") }, s.skill_group.name);
  }

  function activeEntry(id) {
    const entry = id && state.sessions.get(id);
    return entry && !entry.ended ? entry : null;
  }

  function activeCount() {
    let n = 0;
    for (const entry of state.sessions.values()) if (!entry.ended) n += 1;
    return n;
  }

  // --- state changes from the server ------------------------------------------------------

  function rebuild(hello) {
    state.agent = hello.agent;
    if (hello.presence_grace_seconds) {
      // Heartbeats well inside the grace period, so an open workspace is never taken for gone.
      socket.heartbeatMs = Math.max(2000, Math.min(10000, (hello.presence_grace_seconds * 1000) / 3));
    }
    const old = state.sessions;
    state.offers = new Map();
    state.sessions = new Map();
    for (const s of hello.sessions) {
      if (s.offer) {
        // Offered to this agent: a new chat, or (still active with someone else) a transfer.
        state.offers.set(s.id, { session: s, offer: s.offer, firstMessage: s.first_message });
      } else if (s.state === "active") {
        const before = old.get(s.id);
        state.sessions.set(s.id, {
          session: s,
          unread: before ? before.unread : 0,
          messages: null,
          lastActivity: s.last_activity_at || s.accepted_at,
          transfer: s.transfer || null,
          ended: null,
          context: before ? before.context : null,
        });
      }
    }
    // Ended chats the agent has not dismissed yet stay, as they were.
    for (const [id, entry] of old) if (entry.ended && !state.sessions.has(id)) state.sessions.set(id, entry);
    if (state.selected && !state.sessions.has(state.selected)) state.selected = null;
    if (activeEntry(state.selected)) loadMessages(state.selected);
    renderAll();
    pollQueues();
  }

  function handle(frame) {
    switch (frame.type) {
      case "session.offered": {
        const s = frame.session;
        state.offers.set(s.id, { session: s, offer: frame.offer, firstMessage: s.first_message });
        notify(t("New chat: %(customer)s", { customer: s.customer_name }), s.first_message || "", s.id);
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
        const before = state.sessions.get(s.id);
        state.sessions.set(s.id, {
          session: s,
          unread: before ? before.unread : 0,
          messages: before && !before.ended ? before.messages : null,
          lastActivity: s.last_activity_at || s.accepted_at,
          transfer: null,
          ended: null,
          context: before ? before.context : null,
        });
        if (!activeEntry(state.selected)) select(s.id);
        break;
      }
      case "message.created": {
        const m = frame.message;
        const entry = state.sessions.get(m.session_id);
        if (m.sender === "customer") state.typing.delete(m.session_id); // it was sent
        if (entry) {
          if (entry.messages && !entry.messages.some((x) => x.id === m.id)) entry.messages.push(m);
          entry.lastActivity = m.created_at;
          const onScreen = state.selected === m.session_id && !document.hidden;
          if (!onScreen && m.sender !== "agent") {
            entry.unread += 1;
            if (document.hidden && m.sender === "customer") {
              notify(entry.session.customer_name, m.attachment ? m.attachment.name : m.body, m.session_id);
            }
          }
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
        const entry = activeEntry(frame.session_id);
        if (entry) entry.transfer = frame.transfer;
        break;
      }
      case "session.transfer_failed": {
        const entry = state.sessions.get(frame.session_id);
        if (entry && entry.transfer && String(entry.transfer.offer_id) === String(frame.offer_id)) {
          entry.transfer = null;
        }
        const who = (frame.to_agent && frame.to_agent.display_name) || t("The other agent");
        const say = TRANSFER_FAILED[frame.reason];
        flash(say ? say(who) : t("The transfer did not happen (%(reason)s).", { reason: frame.reason }));
        break;
      }
      case "session.transferred": {
        const entry = state.sessions.get(frame.session_id);
        const to = (frame.to_agent && frame.to_agent.display_name) || t("another agent");
        const name = entry ? entry.session.customer_name : t("the customer");
        // Handed over by this agent's own choice: off the list; the pane says where it went.
        if (entry) endEntry(entry, "transferred", t("Transferred to %(agent)s.", { agent: to }), true);
        flash(t("Your chat with %(customer)s is now with %(agent)s.", { customer: name, agent: to }), "info");
        break;
      }
      case "session.ended": {
        state.offers.delete(frame.session_id);
        const entry = state.sessions.get(frame.session_id);
        if (entry && !entry.ended) {
          const byMe = frame.reason === "agent_ended";
          const why = REASONS[frame.reason];
          const text = why ? why() : t("Ended (%(reason)s).", { reason: frame.reason });
          endEntry(entry, frame.reason, text, byMe);
          const say = ENDED_TOAST[frame.reason];
          if (say) flash(say(entry.session.customer_name), "info");
        }
        break;
      }
      case "session.rated": {
        const entry = state.sessions.get(frame.session_id);
        const name = entry ? entry.session.customer_name : t("A customer");
        if (entry) entry.rating = { score: frame.score, scale: frame.scale };
        const values = { customer: name, score: frame.score, scale: frame.scale };
        flash(t("%(customer)s rated your chat %(score)s / %(scale)s.", values), "info");
        break;
      }
      case "agent.updated":
        state.agent = { ...state.agent, ...frame.agent };
        pollQueues();
        break;
      default:
        return;
    }
    renderAll();
  }

  // An ended chat: kept in the list (greyed, with why) until dismissed; one this agent ended
  // or handed over itself leaves the list at once (`gone`), the pane still saying what happened.
  function endEntry(entry, reason, text, gone) {
    entry.ended = { reason, text };
    entry.session = { ...entry.session, ended_at: new Date(socket.serverNow()).toISOString() };
    entry.transfer = null;
    state.typing.delete(entry.session.id);
    if (gone && state.selected !== entry.session.id) state.sessions.delete(entry.session.id);
    else entry.gone = gone;
  }

  function dismiss(id) {
    state.sessions.delete(id);
    if (state.selected === id) state.selected = null;
    renderAll();
  }

  // --- rendering --------------------------------------------------------------------------

  function renderAll() {
    renderStatus();
    renderOffers();
    renderList();
    renderPane();
    renderQueues();
    updateRing();
    updateTitle();
  }

  function renderStatus() {
    if (!state.agent) return;
    for (const input of document.querySelectorAll(".status-switch input")) {
      input.checked = input.value === state.agent.status;
    }
    document.body.dataset.status = state.agent.status;
    const reason = state.agent.status !== "online" && state.agent.status_reason;
    $("status-reason").hidden = !reason;
    const said = reason && REASON_TEXT[reason] ? REASON_TEXT[reason]() : reason;
    $("status-reason").textContent = reason ? t("(%(reason)s)", { reason: said }) : "";
    const load = state.offers.size + activeCount();
    $("load").textContent = `${load} / ${state.agent.capacity || state.agent.max_sessions || "–"}`;
    const off = state.agent.status !== "online";
    $("offline-hint").hidden = !off;
    if (off) {
      $("offline-text").textContent =
        state.agent.status === "away"
          ? t("You are away: no new chats are offered to you.")
          : t("You are offline: no chats are offered to you. Go online to start taking chats.");
    }
  }

  // Offer bars: oldest (most urgent) first, always; a compact area of fixed height.
  function renderOffers() {
    const box = $("offers");
    const ordered = [...state.offers.entries()].sort(
      (a, b) => Date.parse(a[1].offer.expires_at) - Date.parse(b[1].offer.expires_at),
    );
    const bars = new Map([...box.children].map((bar) => [bar.dataset.offerId, bar]));
    const wanted = ordered.map(([id, o]) => bars.get(String(o.offer.id)) || offerBar(id, o));
    for (const bar of box.children) if (!wanted.includes(bar)) bar.remove();
    wanted.forEach((bar, i) => {
      if (box.children[i] !== bar) box.insertBefore(bar, box.children[i] || null);
    });
    box.hidden = wanted.length === 0;
    tick();
  }

  function offerBar(id, o) {
    const transfer = o.offer.kind === "transfer";
    const serveText = transfer ? t("Accept") : t("Serve");
    const serve = el("button", { type: "button", class: "primary serve" }, serveText);
    serve.addEventListener("click", () => accept(id, serve));
    const decline = el("button", { type: "button", class: "decline" }, t("Decline"));
    decline.addEventListener("click", () => declineOffer(id, decline));
    const from = transfer && o.offer.from_agent ? o.offer.from_agent.display_name : "";
    const customer = el("b", {}, o.session.customer_name);
    const title = transfer
      ? fill(t("Transfer from %(agent)s: %(customer)s"), { agent: from || t("a colleague"), customer })
      : fill(t("New chat: %(customer)s"), { customer });
    let detail;
    if (transfer && o.offer.note) {
      const noteTitle = t("Note from %(agent)s", { agent: from });
      const note = t("Note: “%(note)s”", { note: o.offer.note });
      detail = el("span", { class: "prompt-first note", title: noteTitle }, note);
    } else {
      const first = o.firstMessage ? t("“%(message)s”", { message: o.firstMessage }) : "";
      detail = el("span", { class: "prompt-first" }, first);
    }
    return el(
      "div",
      {
        class: transfer ? "prompt transfer" : "prompt",
        "data-session-id": id,
        "data-offer-id": o.offer.id,
        "data-kind": o.offer.kind || "routing",
        role: "alert",
      },
      el("span", { class: "prompt-title" }, ...title),
      groupTag(o.session),
      detail,
      el("span", { class: "countdown", "data-expires": o.offer.expires_at }, ""),
      serve,
      decline,
    );
  }

  function tick() {
    tickPending();
    tickContext();
    // Remaining time from the server's expires_at, corrected by the clock offset seen in `ts`.
    for (const span of document.querySelectorAll("#offers .countdown")) {
      const left = Math.ceil((Date.parse(span.dataset.expires) - socket.serverNow()) / 1000);
      const bar = span.closest(".prompt");
      if (left <= 0) {
        // Time is up: the server moves the session to another agent.
        const o = state.offers.get(bar.dataset.sessionId);
        if (o && String(o.offer.id) === bar.dataset.offerId) state.offers.delete(bar.dataset.sessionId);
        bar.remove();
        $("offers").hidden = state.offers.size === 0;
        renderStatus();
        updateRing();
        updateTitle();
      } else {
        span.textContent = t("%(seconds)s s", { seconds: left });
        span.dataset.seconds = String(left);
      }
    }
  }
  setInterval(tick, 250);

  // The selected chat's transfer, while the other agent has not answered: no cancel, a count.
  function tickPending() {
    const entry = activeEntry(state.selected);
    const pending = entry && entry.transfer;
    $("transfer-pending").hidden = !pending;
    $("transfer-chat").disabled = Boolean(pending);
    if (!pending) return;
    const who = (pending.to_agent && pending.to_agent.display_name) || t("the other agent");
    const left = Math.ceil((Date.parse(pending.expires_at) - socket.serverNow()) / 1000);
    $("transfer-pending").textContent =
      left > 0
        ? t("Waiting for %(agent)s to accept… %(seconds)s s", { agent: who, seconds: left })
        : t("Waiting for %(agent)s…", { agent: who });
  }

  function renderList() {
    const ul = $("sessions");
    ul.replaceChildren();
    const rows = [...state.sessions.values()]
      .filter((entry) => !entry.gone) // ended or handed over by this agent: the pane only
      .sort(
        (a, b) =>
          Number(Boolean(a.ended)) - Number(Boolean(b.ended)) ||
          String(b.lastActivity || "").localeCompare(String(a.lastActivity || "")),
      );
    for (const entry of rows) {
      const s = entry.session;
      const open = el(
        "button",
        { type: "button", class: "open", "aria-current": String(s.id === state.selected) },
        el("span", { class: "name" }, s.customer_name),
      );
      open.addEventListener("click", () => select(s.id));
      const li = el(
        "li",
        {
          class: [s.id === state.selected ? "selected" : "", entry.ended ? "ended" : ""].join(" ").trim(),
          "data-session-id": s.id,
        },
        open,
        groupTag(s),
        entry.unread
          ? el("span", { class: "unread", title: t("unread messages") }, String(entry.unread))
          : null,
        entry.ended ? el("span", { class: "ended-tag", title: entry.ended.text }, t("Ended")) : null,
        entry.rating
          ? el(
              "span",
              { class: "rated", title: t("The customer's rating") },
              `★ ${entry.rating.score}/${entry.rating.scale}`,
            )
          : null,
      );
      ul.append(li);
    }
    $("no-sessions").hidden = ul.children.length > 0;
  }

  function renderPane() {
    const id = state.selected;
    const entry = id && state.sessions.get(id);
    $("pane").hidden = !entry;
    $("pane-empty").hidden = Boolean(entry);
    $("desk").classList.toggle("show-pane", Boolean(entry));
    if (!entry) return;
    const active = !entry.ended;
    $("pane").dataset.sessionId = id;
    $("pane-title").textContent = entry.session.customer_name;
    const group = entry.session.skill_group;
    $("pane-group").hidden = !groupTag(entry.session);
    $("pane-group").textContent = group ? group.name : "";
    $("end-chat").hidden = !active;
    $("transfer-chat").hidden = !active;
    $("dismiss").hidden = active;
    $("send").hidden = !active;
    $("ended-note").hidden = active;
    if (!active) {
      const rated = entry.rating
        ? t("The customer rated it %(score)s / %(scale)s.", entry.rating)
        : "";
      $("ended-note").textContent = rated ? `${entry.ended.text} ${rated}` : entry.ended.text;
    }
    const me = (state.agent && state.agent.display_name) || t("You");
    renderMessages($("log"), entry.messages || [], "agent", undefined, {
      customer: entry.session.customer_name,
      agent: me,
    });
    renderTyping();
    renderContext(entry);
    tickPending();
    if (active) markSeen(id);
  }

  // The customer is typing in the chat on screen: said under the log for a few seconds.
  function renderTyping() {
    const entry = activeEntry(state.selected);
    const until = entry ? state.typing.get(state.selected) || 0 : 0;
    const on = Boolean(entry) && until > Date.now();
    $("typing").hidden = !on;
    if (on) $("typing").textContent = t("%(customer)s is typing…", { customer: entry.session.customer_name });
  }

  // Read receipts: the chat on screen, in a visible tab, is read up to its last customer line.
  function markSeen(id) {
    const entry = activeEntry(id);
    if (!entry || !entry.messages || document.hidden) return;
    const last = [...entry.messages].reverse().find((m) => m.sender === "customer");
    if (!last || last.read_at || entry.readUpTo === last.id) return;
    entry.readUpTo = last.id;
    socket.command({ type: "message.read", session_id: id, message_id: last.id }).catch(() => {
      entry.readUpTo = null;
    });
  }
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.selected) {
      const entry = state.sessions.get(state.selected);
      if (entry) entry.unread = 0;
      markSeen(state.selected);
      renderList();
      updateTitle();
    }
  });

  // The tab says what waits: "(2) …" for offers and unread messages, and a dot on the icon.
  function updateTitle() {
    let unread = 0;
    for (const entry of state.sessions.values()) unread += entry.unread;
    const waiting = state.offers.size + unread;
    document.title = waiting ? `(${waiting}) ${BASE_TITLE}` : BASE_TITLE;
    const icon = $("favicon");
    const me = $("me");
    if (icon && me) {
      const want = state.offers.size ? me.dataset.faviconAlert : me.dataset.favicon;
      if (icon.getAttribute("href") !== want) icon.setAttribute("href", want);
    }
  }

  // --- the customer's details beside the chat ----------------------------------------------

  function renderContext(entry) {
    const s = entry.session;
    const facts = [
      [t("Name"), s.customer_name],
      [t("Email"), s.email || "—"],
      [t("Group"), s.skill_group ? s.skill_group.name : "—"],
      [t("Waited"), s.accepted_at ? span(s.created_at, s.accepted_at) : "—"],
      [t("Chat"), el("span", { id: "chat-duration", "data-since": s.accepted_at || "" }, "")],
    ];
    for (const [key, value] of Object.entries(s.attributes || {})) facts.push([key, String(value)]);
    $("context-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    tickContext();
    const earlier = $("context-history");
    if (!s.email) {
      const unknown = t("No email given: earlier chats are not known.");
      earlier.replaceChildren(el("li", { class: "muted" }, unknown));
      return;
    }
    if (entry.context) {
      earlier.replaceChildren(...entry.context);
      return;
    }
    earlier.replaceChildren(el("li", { class: "muted" }, t("Loading…")));
    fetch(`/api/sessions/?email=${encodeURIComponent(s.email)}&limit=20`, { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : { results: [] }))
      .then((data) => {
        const rows = (data.results || []).filter((x) => x.id !== s.id);
        entry.context = rows.length
          ? rows.map((x) => {
              const open = el("button", { type: "button", class: "link" }, dayText(x.created_at));
              open.addEventListener("click", () => showTranscript(x.id, `${x.customer_name}, ${dayText(x.created_at)}`));
              return el("li", {}, open, el("span", { class: "muted" }, ` ${x.agent ? x.agent.display_name : ""} · ${x.state}`));
            })
          : [el("li", { class: "muted" }, t("First chat with us."))];
        if (state.selected === s.id) earlier.replaceChildren(...entry.context);
      })
      .catch(() => earlier.replaceChildren(el("li", { class: "muted" }, t("Could not load earlier chats."))));
  }

  function span(from, to) {
    const seconds = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
    return seconds < 60
      ? t("%(seconds)s s", { seconds })
      : t("%(minutes)s min %(seconds)s s", { minutes: Math.floor(seconds / 60), seconds: seconds % 60 });
  }

  function tickContext() {
    const out = $("chat-duration");
    if (!out) return;
    const entry = state.selected && state.sessions.get(state.selected);
    if (!out.dataset.since || !entry) {
      out.textContent = "—";
      return;
    }
    const end = entry.ended && entry.session.ended_at ? entry.session.ended_at : new Date(socket.serverNow()).toISOString();
    out.textContent = span(out.dataset.since, end);
  }

  function dayText(iso) {
    const d = new Date(iso);
    return d.toLocaleDateString(LANG, { year: "numeric", month: "short", day: "numeric" });
  }

  function showTranscript(id, title) {
    fetch(`/api/sessions/${id}/transcript/`, { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(r)))
      .then((data) => {
        $("transcript-title").textContent = t("Transcript: %(title)s", { title });
        renderMessages($("transcript-log"), data.messages, null, undefined, {
          customer: data.session.customer_name,
          agent: data.session.agent ? data.session.agent.display_name : t("Agent"),
        });
        $("transcript-text").href = `/api/sessions/${id}/transcript/`;
        $("transcript-dialog").showModal();
      })
      .catch(() => flash(t("Could not open that transcript.")));
  }
  $("transcript-close").addEventListener("click", () => $("transcript-dialog").close());

  // --- who waits in this agent's groups ---------------------------------------------------

  function pollQueues() {
    if (!state.agent) return;
    socket
      .command({ type: "queue.stats" })
      .then((ack) => {
        state.queues = ack.queues || [];
        renderQueues();
      })
      .catch(() => {});
  }
  setInterval(pollQueues, QUEUE_POLL_MS);

  function renderQueues() {
    const waiting = state.queues.filter((q) => q.waiting > 0);
    $("queues").hidden = state.queues.length === 0;
    const now = socket.serverNow();
    $("queue-list").replaceChildren(
      ...(waiting.length
        ? waiting.map((q) => {
            const values = { group: el("b", {}, q.name), count: q.waiting };
            if (q.oldest_created_at) values.time = span(q.oldest_created_at, new Date(now).toISOString());
            const said = q.oldest_created_at
              ? fill(t("%(group)s: %(count)s waiting, longest %(time)s"), values)
              : fill(t("%(group)s: %(count)s waiting"), values);
            return el("li", { "data-group-id": q.group_id }, ...said);
          })
        : [el("li", { class: "muted" }, t("Nobody waits in your groups."))]),
    );
  }

  // --- selecting, the narrow layout, history ---------------------------------------------

  function select(id) {
    // A chat this agent ended or handed over stays on screen only until it looks elsewhere.
    for (const [other, entry] of state.sessions) if (entry.gone && other !== id) state.sessions.delete(other);
    state.selected = id;
    const entry = state.sessions.get(id);
    if (entry) {
      entry.unread = 0;
      if (entry.messages === null && !entry.ended) loadMessages(id);
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

  $("back").addEventListener("click", () => {
    const entry = state.selected && state.sessions.get(state.selected);
    if (entry && entry.gone) state.sessions.delete(state.selected);
    state.selected = null;
    renderAll();
  });
  $("dismiss").addEventListener("click", () => dismiss(state.selected));

  function showView(view) {
    state.view = view;
    $("tab-chats").setAttribute("aria-selected", String(view === "chats"));
    $("tab-history").setAttribute("aria-selected", String(view === "history"));
    $("chats-view").hidden = view !== "chats";
    $("history-view").hidden = view !== "history";
    if (view === "history") searchHistory();
  }
  $("tab-chats").addEventListener("click", () => showView("chats"));
  $("tab-history").addEventListener("click", () => showView("history"));

  let historyTimer = null;
  $("history-q").addEventListener("input", () => {
    clearTimeout(historyTimer);
    historyTimer = setTimeout(searchHistory, 250);
  });
  $("history-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    searchHistory();
  });

  function searchHistory() {
    const q = $("history-q").value.trim();
    const url = `/api/sessions/?state=ended&limit=50${q ? `&q=${encodeURIComponent(q)}` : ""}`;
    fetch(url, { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : { results: [] }))
      .then((data) => {
        const rows = data.results || [];
        $("history").replaceChildren(
          ...rows.map((x) => {
            const open = el(
              "button",
              { type: "button", class: "open" },
              el("span", { class: "name" }, x.customer_name),
              el("span", { class: "when" }, dayText(x.ended_at || x.created_at)),
            );
            open.addEventListener("click", () => showTranscript(x.id, `${x.customer_name}, ${dayText(x.created_at)}`));
            return el("li", { "data-session-id": x.id }, open);
          }),
        );
        $("no-history").hidden = rows.length > 0;
      })
      .catch(() => flash(t("Could not search past chats.")));
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
        $("body").focus(); // ready to greet
      })
      .catch((err) => {
        state.offers.delete(id);
        renderAll();
        flash(err.detail || t("That chat is no longer available."));
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
        flash(err.detail || t("That chat is no longer available."));
      });
  }

  sendBox(
    $("send"),
    $("body"),
    (body) => {
      const id = state.selected;
      if (!activeEntry(id)) return null;
      return socket
        .command({ type: "message.send", session_id: id, body })
        .then((ack) => handle({ type: "message.created", message: ack.message }));
    },
    (err) => flash(err.detail || t("Not sent.")),
  );

  CC.uploader({
    button: $("attach"),
    input: $("file"),
    zone: $("pane"),
    progress: $("upload-progress"),
    target: () =>
      activeEntry(state.selected)
        ? { url: `/api/sessions/${state.selected}/attachments/`, headers: { "X-CSRFToken": CC.csrfToken() } }
        : null,
    onSent: (message) => handle({ type: "message.created", message }),
    onError: (detail) => flash(detail),
  });

  typingNotifier($("body"), () => {
    if (activeEntry(state.selected)) {
      socket.command({ type: "typing", session_id: state.selected }).catch(() => {});
    }
  });

  // End asks once more: the first press arms the button for a few seconds.
  let endArmed = null;
  $("end-chat").addEventListener("click", () => {
    const id = state.selected;
    if (!activeEntry(id)) return;
    const button = $("end-chat");
    if (endArmed !== id) {
      endArmed = id;
      button.textContent = t("Press again to end");
      button.classList.add("armed");
      setTimeout(() => {
        if (endArmed === id) disarmEnd();
      }, END_CONFIRM_MS);
      return;
    }
    disarmEnd();
    socket
      .command({ type: "session.end", session_id: id })
      .then(() => handle({ type: "session.ended", session_id: id, reason: "agent_ended" }))
      .catch((err) => flash(err.detail || t("Could not end the chat.")));
  });

  function disarmEnd() {
    endArmed = null;
    $("end-chat").textContent = t("End chat session");
    $("end-chat").classList.remove("armed");
  }

  function setStatus(status) {
    socket
      .command({ type: "agent.status", status })
      .then((ack) => {
        state.agent = { ...state.agent, status: ack.status, status_reason: ack.status_reason };
        renderStatus();
        pollQueues();
      })
      .catch((err) => {
        renderStatus(); // put the switch back
        flash(err.detail || t("Status not changed."));
      });
  }
  for (const input of document.querySelectorAll(".status-switch input")) {
    input.addEventListener("change", () => input.checked && setStatus(input.value));
  }
  $("go-online").addEventListener("click", () => setStatus("online"));

  // The workspace's language is the agent's profile: saved, then the page comes again in it.
  const language = $("language");
  let savedLanguage = language.value;
  language.addEventListener("change", () => {
    language.disabled = true;
    fetch("/api/agents/me/", {
      method: "PATCH",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": CC.csrfToken(),
      },
      body: JSON.stringify({ language: language.value }),
    })
      .then((r) => r.json().then((body) => (r.ok ? body : Promise.reject(body)), () => Promise.reject({})))
      .then((agent) => {
        savedLanguage = agent.language;
        // A `?lang=` in the address would win over the profile: the page without it.
        const url = new URL(location.href);
        if (url.searchParams.has("lang")) {
          url.searchParams.delete("lang");
          location.assign(url.href);
        } else {
          location.reload();
        }
      })
      .catch((err) => {
        language.value = savedLanguage;
        language.disabled = false;
        flash((err && err.detail) || t("Your language was not saved."));
      });
  });

  function flash(text, kind = "error") {
    const note = el("div", { class: `banner ${kind} toast`, role: "alert" }, text);
    document.body.append(note);
    setTimeout(() => note.remove(), 4000);
  }

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
    picks = canned.filter((c) => c.shortcut.includes(q) || c.title.toLowerCase().includes(q)).slice(0, 8);
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
        : [
            el(
              "li",
              { class: "muted" },
              canned.length
                ? t("Nothing matches /%(query)s.", { query })
                : t("No canned responses yet."),
            ),
          ]),
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
    const entry = activeEntry(state.selected);
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

  const transfer = CC.transferDialog({
    targets: () => socket.command({ type: "transfer.targets" }),
    send: (id, body) =>
      socket.command({ type: "session.transfer", session_id: id, ...body }).then((ack) => {
        const entry = activeEntry(id);
        if (entry) entry.transfer = ack.transfer;
        renderPane();
      }),
  });

  $("transfer-chat").addEventListener("click", () => {
    const id = state.selected;
    if (!activeEntry(id)) return;
    transfer.open(id).catch((err) => flash(err.detail || t("Could not list who to transfer to.")));
  });

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
  document.addEventListener("keydown", unlockAudio, { capture: true });
  $("sound-banner").addEventListener("click", () => {
    audioUnlocked = false;
    unlockAudio();
    updateRing();
  });

  // A desktop notification while the tab is hidden: a new offer, or a customer's message.
  function notify(title, body, tag) {
    if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") {
      return;
    }
    try {
      const n = new Notification(title, { body: body || "", tag });
      n.onclick = () => {
        window.focus();
        if (state.sessions.has(tag)) select(tag);
      };
    } catch (e) {
      // Some browsers allow notifications only from a service worker; the bar and sound remain.
    }
  }
})();
