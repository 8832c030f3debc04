// The supervisor's wallboard: totals as big tiles, the skill groups, the agents and the waiting
// chats, all from the snapshot the socket sends on connect and then at most once a second.
// Waits and times in status count up in the browser (one 1-s timer, text only); a waiting chat
// opens read-only in a side panel, where the supervisor may end it or transfer it.
"use strict";

(function () {
  const CC = window.CC;
  const { LiveSocket, wsUrl, el, renderMessages, t } = CC;
  const $ = (id) => document.getElementById(id);
  const LANG = document.documentElement.lang || undefined;

  // Tiles turn amber, then red, when the longest wait passes these (seconds).
  const WAIT_WARN = 60;
  const WAIT_BAD = 180;
  const END_CONFIRM_MS = 4000;
  const STATUS_ORDER = { online: 0, away: 1, offline: 2 };
  const STATUS_TEXT = {
    online: () => t("Online"),
    away: () => t("Away"),
    offline: () => t("Offline"),
  };
  const REASON_TEXT = { missed_offers: () => t("offers went unanswered") };
  const STATE_TEXT = {
    queued: () => t("Queued"),
    offered: () => t("Offered"),
    active: () => t("Active"),
    ended: () => t("Ended"),
  };
  const ENDED_TEXT = {
    agent_ended: () => t("The agent ended this chat."),
    customer_ended: () => t("The customer left the chat."),
    customer_idle_timeout: () => t("Ended: the customer did not reply in time (idle timeout)."),
    staff_ended: () => t("A staff member ended this chat."),
    queue_timeout: () => t("Ended: nobody answered in time."),
  };
  const collator = new Intl.Collator(LANG, { sensitivity: "base", numeric: true });
  const numbers = new Intl.NumberFormat(LANG);

  const state = {
    snapshot: null,
    anchor: 0, // generated_at in ms: the snapshot's waits are as of then
    groupNames: new Map(), // group id -> name
    agentNames: new Map(), // agent id -> display name
    counters: [], // {node, start (server ms), last}: the live "counting up" texts
    agentRows: new Map(), // agent id -> {key, tr, counter}: the rows shown, kept for reuse
    waitingRows: new Map(), // session id -> {key, tr, counter}: the same for the waiting chats
    activeRows: new Map(), // ... and for the chats being served
    longest: null, // {node, start} of the longest-wait tile, while someone waits
    watch: null, // {id, session, messages, ended, error}
    showOffline: localStorage.getItem("cc.wallboard.offline") === "1",
    filter: "",
  };
  let frame = 0;

  const socket = new LiveSocket(wsUrl("/ws/supervisor/"), {
    onHello: (hello) => {
      apply(hello.snapshot);
      rewatch();
    },
    onEvent: handle,
    onDown: () => setConnection("down"),
    onUp: () => setConnection("up"),
    onRefused: (code) => {
      if (code === 4401) location.assign("/accounts/login/?next=/supervisor/");
      else setConnection("refused");
    },
  });
  window.ccWallboard = { state, socket };

  function setConnection(how) {
    const conn = $("conn");
    conn.dataset.state = how === "up" ? "up" : "down";
    conn.textContent =
      how === "up" ? t("Live") : how === "refused" ? t("Not allowed") : t("Reconnecting…");
    $("wallboard").dataset.state = how === "up" ? "live" : how;
  }

  // --- frames from the server -------------------------------------------------------------

  function handle(frame) {
    const w = state.watch;
    switch (frame.type) {
      case "supervisor.updated":
        apply(frame.snapshot);
        break;
      case "message.created": {
        const m = frame.message;
        if (!w || String(m.session_id) !== w.id) return;
        if (!w.messages.some((x) => String(x.id) === String(m.id))) w.messages.push(m);
        renderLog();
        break;
      }
      case "session.updated":
        if (!w || String(frame.session.id) !== w.id) return;
        // A new agent: the transfer this page asked for (if any) happened.
        if (w.session && agentId(w.session) !== agentId(frame.session)) w.note = "";
        w.session = frame.session;
        if (frame.session.state === "ended") w.ended = frame.session.end_reason || "ended";
        renderWatch();
        break;
      case "transcript": {
        // Sent once more just after a watch starts: whatever was written meanwhile, by id.
        if (!w || String(frame.session_id) !== w.id) return;
        const known = new Set(w.messages.map((m) => String(m.id)));
        for (const m of frame.messages || []) if (!known.has(String(m.id))) w.messages.push(m);
        w.messages.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
        if (frame.session) w.session = frame.session;
        if (frame.session && frame.session.state === "ended") w.ended = frame.session.end_reason || "ended";
        renderWatch();
        break;
      }
      case "session.ended":
        if (!w || String(frame.session_id) !== w.id) return;
        w.ended = frame.reason || "ended";
        renderWatch();
        break;
      default:
    }
  }

  function agentId(session) {
    return session && session.agent ? String(session.agent.id) : null;
  }

  function apply(snapshot) {
    if (!snapshot) return;
    state.snapshot = snapshot;
    state.anchor = Date.parse(snapshot.generated_at) || socket.serverNow();
    state.groupNames = new Map((snapshot.groups || []).map((g) => [String(g.id), g.name]));
    state.agentNames = new Map((snapshot.agents || []).map((a) => [String(a.id), a.display_name]));
    schedule();
  }

  // At most one rebuild per frame, however many snapshots or keystrokes came meanwhile.
  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }

  // --- rendering --------------------------------------------------------------------------

  function render() {
    frame = 0;
    const s = state.snapshot;
    if (!s) return;
    state.counters = [];
    renderTiles(s.totals || {});
    const target = s.service_level_seconds;
    $("sl-target").textContent = target ? t("answered within %(seconds)s s", { seconds: target }) : "";
    renderGroups(s.groups || []);
    renderAgents(s.agents || []);
    renderWaiting(s.waiting || []);
    renderActive(s.active || []);
    const at = new Date(state.anchor);
    $("as-of").textContent = t("as of %(time)s", {
      time: at.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
    });
    tick();
  }

  function count(value) {
    return value === null || value === undefined ? "—" : numbers.format(value);
  }

  // Service level: the share (0–1) of today's served chats answered within the target.
  function percent(value) {
    if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
    return `${Math.round(Number(value) * 100)}%`;
  }

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
  }

  // A text that counts up from `start` (server time, ms), kept by the one timer.
  function counter(node, start) {
    node.dataset.start = String(start);
    state.counters.push({ node, start, last: -1 });
    return node;
  }

  function waitStart(seconds) {
    return state.anchor - Number(seconds || 0) * 1000;
  }

  function renderTiles(totals) {
    for (const tile of document.querySelectorAll(".sv-tiles .tile")) {
      const key = tile.dataset.figure;
      const value = tile.querySelector(".tile-value");
      const raw = totals[key];
      tile.dataset.value = raw === null || raw === undefined ? "" : String(raw);
      if (key === "longest_wait_seconds") continue;
      setFigure(value, key === "service_level" ? percent(raw) : count(raw));
    }
    const waiting = Number(totals.queued || 0) + Number(totals.offered || 0);
    const longest = $("tile-longest-wait").querySelector(".tile-value");
    if (waiting > 0 && totals.longest_wait_seconds !== null && totals.longest_wait_seconds !== undefined) {
      state.longest = { node: longest, start: waitStart(totals.longest_wait_seconds) };
    } else {
      state.longest = null;
      setFigure(longest, waiting > 0 ? "—" : duration(0));
      $("tile-longest-wait").dataset.level = "";
    }
    $("tile-queued").dataset.level = Number(totals.queued || 0) > 0 ? "warn" : "";
  }

  // A tile's figure; a long one (an hour's wait, a big count) in a smaller size to fit.
  function setFigure(node, text) {
    if (node.textContent === text) return;
    node.textContent = text;
    node.toggleAttribute("data-long", text.length >= 6);
  }

  function groupRow(g) {
    const wait = el("td", { class: "num wait" });
    const waiting = Number(g.queued || 0) + Number(g.offered || 0);
    if (waiting > 0 && g.longest_wait_seconds !== null && g.longest_wait_seconds !== undefined) {
      counter(wait, waitStart(g.longest_wait_seconds));
    } else {
      wait.textContent = waiting > 0 ? "—" : "";
    }
    return el(
      "tr",
      { "data-group-id": g.id },
      el("th", { scope: "row" }, g.name),
      el("td", { class: "num", "data-figure": "queued" }, count(g.queued)),
      el("td", { class: "num", "data-figure": "offered" }, count(g.offered)),
      el("td", { class: "num", "data-figure": "active" }, count(g.active)),
      wait,
      el("td", { class: "num", "data-figure": "service_level" }, percent(g.service_level)),
      el("td", { class: "num", "data-figure": "missed_offers_30m" }, count(g.missed_offers_30m)),
      el("td", { class: "num", "data-figure": "abandoned_30m" }, count(g.abandoned_30m)),
    );
  }

  function renderGroups(groups) {
    const rows = document.createDocumentFragment();
    for (const g of groups) rows.append(groupRow(g));
    $("groups-body").replaceChildren(rows);
    $("no-groups").hidden = groups.length > 0;
  }

  // An agent's row, made again only when something it shows changed (2,000 rows rebuilt every
  // second would keep the browser busy); its "in status" cell keeps counting either way. Rows
  // are a grid, not a table: off-screen ones are skipped by layout (content-visibility).
  function agentRow(a) {
    const groups = (a.skill_groups || []).map((id) => state.groupNames.get(String(id)) || id);
    const key = [a.display_name, a.status, a.status_reason, a.status_since, a.load, a.capacity, ...groups].join("\u0001");
    const known = state.agentRows.get(a.id);
    if (known && known.key === key) return known;
    const status = el(
      "span",
      { class: "sv-status", "data-status": a.status },
      STATUS_TEXT[a.status] ? STATUS_TEXT[a.status]() : a.status,
    );
    const reason = a.status !== "online" && a.status_reason;
    const inStatus = el("span", { class: "num since", role: "cell" });
    const load = Number(a.load || 0);
    const full = a.capacity && load >= a.capacity;
    const tr = el(
      "div",
      { class: "sv-row", role: "row", "data-key": a.id, "data-agent-id": a.id, "data-status": a.status },
      el("span", { class: "sv-name", role: "rowheader", title: a.display_name }, a.display_name),
      el(
        "span",
        { role: "cell" },
        status,
        reason
          ? el("span", { class: "sv-reason" }, REASON_TEXT[reason] ? REASON_TEXT[reason]() : reason)
          : null,
      ),
      el("span", { class: full ? "num full" : "num", role: "cell" }, `${load} / ${a.capacity ?? "–"}`),
      inStatus,
      el("span", { class: "sv-groups", role: "cell" }, groups.join(", ")),
    );
    const since = Date.parse(a.status_since);
    const row = { key, tr, counter: Number.isNaN(since) ? null : { node: inStatus, start: since, last: -1 } };
    state.agentRows.set(a.id, row);
    return row;
  }

  function renderAgents(agents) {
    const by = { online: 0, away: 0, offline: 0 };
    for (const a of agents) by[a.status] = (by[a.status] || 0) + 1;
    $("agents-count").textContent = t("%(online)s online · %(away)s away · %(offline)s offline", {
      online: numbers.format(by.online),
      away: numbers.format(by.away),
      offline: numbers.format(by.offline),
    });
    const q = state.filter.trim().toLocaleLowerCase(LANG);
    const shown = agents
      .filter((a) => state.showOffline || a.status !== "offline")
      .filter((a) => !q || String(a.display_name).toLocaleLowerCase(LANG).includes(q))
      .sort(
        (a, b) =>
          (STATUS_ORDER[a.status] ?? 3) - (STATUS_ORDER[b.status] ?? 3) ||
          collator.compare(a.display_name, b.display_name),
      );
    const body = $("agents-body");
    const rows = shown.map(agentRow);
    const kept = new Set(shown.map((a) => a.id));
    for (const id of state.agentRows.keys()) if (!kept.has(id)) state.agentRows.delete(id);
    for (const row of rows) if (row.counter) state.counters.push(row.counter);
    placeRows(body, rows);
    $("no-agents").hidden = shown.length > 0;
    $("no-agents").textContent =
      agents.length === 0
        ? t("No agents yet.")
        : q
          ? t("No agent matches.")
          : t("Every agent is offline.");
  }

  // A chat's row (waiting, or being served), kept while what it shows stays; its clock keeps
  // counting either way. The customer's name opens the chat in the side panel.
  function chatRow(store, item, { key, cells, start, clockClass, attrs = {} }) {
    const id = String(item.session_id);
    const known = store.get(id);
    if (known && known.key === key) {
      known.counter.start = start;
      return known;
    }
    const open = el("button", { type: "button", class: "link open" }, item.customer_name || "—");
    open.addEventListener("click", () => watch(id));
    const clock = el("span", { class: `num ${clockClass}`, role: "cell" });
    const tr = el(
      "div",
      { class: "sv-row", role: "row", "data-key": id, "data-session-id": id, ...attrs },
      el("span", { class: "sv-name", role: "rowheader" }, open),
      ...cells,
      clock,
    );
    const row = { key, tr, counter: { node: clock, start, last: -1 } };
    store.set(id, row);
    return row;
  }

  function renderChats(items, store, ids, makeRow) {
    const rows = items.map(makeRow);
    const kept = new Set(items.map((item) => String(item.session_id)));
    for (const id of store.keys()) if (!kept.has(id)) store.delete(id);
    const watched = state.watch && state.watch.id;
    for (const row of rows) {
      state.counters.push(row.counter);
      row.tr.classList.toggle("selected", row.tr.dataset.key === watched);
    }
    placeRows($(ids.body), rows);
    $(ids.count).textContent = items.length ? numbers.format(items.length) : "";
    $(ids.empty).hidden = items.length > 0;
  }

  // Waiting chats (up to 1,000 are listed), the longest wait first.
  function waitingRow(w) {
    const group = state.groupNames.get(String(w.skill_group_id)) || "—";
    const stateText = STATE_TEXT[w.state] ? STATE_TEXT[w.state]() : w.state;
    return chatRow(state.waitingRows, w, {
      key: [w.customer_name, group, w.state].join("\u0001"),
      start: waitStart(w.waiting_seconds),
      clockClass: "wait",
      attrs: { "data-state": w.state },
      cells: [
        el("span", { role: "cell" }, group),
        el("span", { role: "cell" }, el("span", { class: "sv-state", "data-state": w.state }, stateText)),
      ],
    });
  }

  function renderWaiting(waiting) {
    const ordered = [...waiting].sort((a, b) => Number(b.waiting_seconds) - Number(a.waiting_seconds));
    const ids = { body: "waiting-body", count: "waiting-count", empty: "no-waiting" };
    renderChats(ordered, state.waitingRows, ids, waitingRow);
  }

  // Chats being served, the longest first, with their agent.
  function activeRow(a) {
    const group = state.groupNames.get(String(a.skill_group_id)) || "—";
    const agent = state.agentNames.get(String(a.agent_id)) || "—";
    return chatRow(state.activeRows, a, {
      key: [a.customer_name, agent, group].join("\u0001"),
      start: waitStart(a.serving_seconds),
      clockClass: "serving",
      cells: [el("span", { role: "cell" }, agent), el("span", { role: "cell" }, group)],
    });
  }

  function renderActive(active) {
    const ids = { body: "active-body", count: "active-count", empty: "no-active" };
    renderChats(active, state.activeRows, ids, activeRow);
  }

  // Puts the rows' elements in `body` in order, touching the DOM only where a row changed; all
  // of it only when the order did.
  function placeRows(body, rows) {
    const children = body.children;
    const inPlace =
      children.length === rows.length &&
      rows.every((row, i) => children[i] === row.tr || children[i].dataset.key === row.tr.dataset.key);
    if (inPlace) {
      rows.forEach((row, i) => children[i] !== row.tr && children[i].replaceWith(row.tr));
      return;
    }
    const fragment = document.createDocumentFragment();
    for (const row of rows) fragment.append(row.tr);
    body.replaceChildren(fragment);
  }

  // The one timer: every counting text, from the server's clock (corrected by the hello's ts).
  function tick() {
    const now = socket.serverNow();
    for (const c of state.counters) {
      const seconds = Math.max(0, Math.floor((now - c.start) / 1000));
      if (seconds !== c.last) {
        c.last = seconds;
        c.node.textContent = duration(seconds);
        c.node.dataset.seconds = String(seconds);
      }
    }
    if (state.longest) {
      const seconds = Math.max(0, Math.floor((now - state.longest.start) / 1000));
      setFigure(state.longest.node, duration(seconds));
      state.longest.node.dataset.seconds = String(seconds);
      $("tile-longest-wait").dataset.level = seconds >= WAIT_BAD ? "bad" : seconds >= WAIT_WARN ? "warn" : "";
    }
  }
  setInterval(tick, 1000);

  $("agent-filter").addEventListener("input", (ev) => {
    state.filter = ev.target.value;
    schedule();
  });
  $("show-offline").checked = state.showOffline;
  $("show-offline").addEventListener("change", (ev) => {
    state.showOffline = ev.target.checked;
    localStorage.setItem("cc.wallboard.offline", state.showOffline ? "1" : "0");
    schedule();
  });

  // --- the side panel: one chat, read-only, with End and Transfer ---------------------------

  function watch(id) {
    if (state.watch && state.watch.id === id) {
      $("watch").hidden = false;
      return;
    }
    closeWatch();
    state.watch = { id, session: null, messages: [], ended: null, error: "" };
    $("watch").hidden = false;
    document.body.classList.add("watching");
    load(id);
    renderWatch();
    schedule(); // the waiting row shows as selected
  }

  function load(id) {
    socket
      .command({ type: "session.watch", session_id: id })
      .then((ack) => {
        const w = state.watch;
        if (!w || w.id !== id) return;
        w.session = ack.session;
        w.messages = ack.messages || [];
        w.error = "";
        if (ack.session && ack.session.state === "ended") w.ended = ack.session.end_reason || "ended";
        renderWatch();
      })
      .catch((err) => {
        const w = state.watch;
        if (!w || w.id !== id || err.code === "disconnected") return; // the next hello retries
        w.error = err.detail || t("Could not open this chat.");
        renderWatch();
      });
  }

  // After a reconnect the server has forgotten what this page watched: ask again.
  function rewatch() {
    if (state.watch && !state.watch.ended) load(state.watch.id);
  }

  function closeWatch() {
    const w = state.watch;
    if (w) socket.command({ type: "session.unwatch", session_id: w.id }).catch(() => {});
    state.watch = null;
    disarmEnd();
    $("watch").hidden = true;
    document.body.classList.remove("watching");
    schedule();
  }
  $("watch-close").addEventListener("click", closeWatch);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && state.watch && !transfer.isOpen()) closeWatch();
  });

  function renderWatch() {
    const w = state.watch;
    if (!w) return;
    const s = w.session;
    const panel = $("watch");
    panel.dataset.sessionId = w.id;
    panel.dataset.state = w.ended ? "ended" : s ? s.state : "loading";
    $("watch-title").textContent = s ? s.customer_name : t("Loading…");
    const facts = [];
    if (s) {
      if (s.skill_group) facts.push(s.skill_group.name);
      if (w.ended) facts.push(t("Ended"));
      else if (s.state === "active" && s.agent) facts.push(t("Served by %(agent)s", { agent: s.agent.display_name }));
      else if (s.state === "offered" && s.offer) {
        const who = state.agentNames.get(String(s.offer.agent_id));
        facts.push(who ? t("Offered to %(agent)s", { agent: who }) : t("Offered"));
      } else facts.push(STATE_TEXT[s.state] ? STATE_TEXT[s.state]() : s.state);
      if (s.email) facts.push(s.email);
    }
    $("watch-facts").textContent = facts.join(" · ");
    const active = Boolean(s) && s.state === "active" && !w.ended;
    const waiting = Boolean(s) && (s.state === "queued" || s.state === "offered") && !w.ended;
    $("watch-transfer").disabled = !active;
    $("watch-end").disabled = !s || Boolean(w.ended);
    $("watch-transfer").hidden = Boolean(w.ended);
    $("watch-end").hidden = Boolean(w.ended);
    const note = w.note || (waiting ? t("Transfer works once an agent serves the chat; this one is still waiting.") : "");
    $("watch-note").hidden = !note;
    $("watch-note").textContent = note;
    $("watch-error").hidden = !w.error;
    $("watch-error").textContent = w.error;
    $("watch-ended").hidden = !w.ended;
    if (w.ended) {
      const why = ENDED_TEXT[w.ended];
      $("watch-ended").textContent = why ? why() : t("This chat has ended.");
    }
    renderLog();
  }

  function renderLog() {
    const w = state.watch;
    if (!w) return;
    const s = w.session || {};
    renderMessages($("watch-log"), w.messages, null, undefined, {
      customer: s.customer_name || t("Customer"),
      agent: (s.agent && s.agent.display_name) || t("Agent"),
    });
  }

  // REST with the page's cookie and CSRF token; a refusal rejects with the API's {detail, code}.
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": CC.csrfToken(),
      },
      body: JSON.stringify(body || {}),
    }).then(
      (r) =>
        r
          .json()
          .catch(() => ({}))
          .then((data) => {
            if (r.ok) return data;
            const detail = data.detail || t("The desk answered %(status)s.", { status: r.status });
            return Promise.reject({ detail, code: data.code });
          }),
      () => Promise.reject({ detail: t("No connection; try again in a moment.") }),
    );
  }

  // End asks once more: the first press arms the button for a few seconds.
  let endArmed = null;
  $("watch-end").addEventListener("click", () => {
    const w = state.watch;
    if (!w || w.ended) return;
    if (endArmed !== w.id) {
      endArmed = w.id;
      $("watch-end").textContent = t("Press again to end");
      $("watch-end").classList.add("armed");
      setTimeout(() => {
        if (endArmed === w.id) disarmEnd();
      }, END_CONFIRM_MS);
      return;
    }
    disarmEnd();
    const id = w.id;
    $("watch-end").disabled = true;
    post(`/api/sessions/${encodeURIComponent(id)}/end/`)
      .then((session) => {
        if (!state.watch || state.watch.id !== id) return;
        state.watch.session = session;
        state.watch.ended = session.end_reason || "staff_ended";
        state.watch.error = "";
        renderWatch();
      })
      .catch((err) => {
        if (!state.watch || state.watch.id !== id) return;
        state.watch.error = err.detail;
        renderWatch();
      });
  });

  function disarmEnd() {
    endArmed = null;
    $("watch-end").textContent = t("End chat session");
    $("watch-end").classList.remove("armed");
  }

  // --- transfer ---------------------------------------------------------------------------

  const transfer = CC.transferDialog({
    targets: () => socket.command({ type: "transfer.targets" }),
    send: (id, body) =>
      post(`/api/sessions/${encodeURIComponent(id)}/transfer/`, body).then((offered) => {
        const w = state.watch;
        if (!w || w.id !== id) return;
        const to = offered && offered.to_agent ? offered.to_agent.display_name : "";
        w.note = to
          ? t("Transfer offered to %(agent)s: waiting for them to accept.", { agent: to })
          : t("Transfer offered: waiting for the other agent to accept.");
        renderWatch();
      }),
  });

  $("watch-transfer").addEventListener("click", () => {
    const w = state.watch;
    if (!w || !w.session || w.session.state !== "active" || w.ended) return;
    const serving = w.session.agent ? w.session.agent.id : null;
    transfer.open(w.id, { skipAgent: serving }).catch((err) => {
      w.error = err.detail || t("Could not list who to transfer to.");
      renderWatch();
    });
  });
})();
