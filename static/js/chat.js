// The customer chat page: start a chat, then talk. The session id and its secret token stay in
// sessionStorage, so a reload resumes the same chat; "Start a new chat" forgets them.
"use strict";

(function () {
  const CC = window.CC;
  const { LiveSocket, wsUrl, el, renderMessages, markRead, typingNotifier, sendBox, uploader } = CC;
  const $ = (id) => document.getElementById(id);
  const KEY = "cc.chat";
  const REASONS = {
    agent_ended: "The agent ended this chat. Thank you for contacting us.",
    customer_ended: "You left this chat.",
    staff_ended: "This chat was closed by our staff.",
  };
  let socket = null;
  let session = null;
  let messages = [];
  let typingUntil = 0; // the agent shows as typing until then (ms)
  let readUpTo = null; // the last agent message this page said it read

  function saved() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) || "null");
    } catch (e) {
      return null;
    }
  }

  // What went wrong with a field, said to the customer next to it (not the API's wording).
  const FIELD_ERRORS = {
    customer_name: ["name", "Please tell us your name."],
    message: ["first", "Please write what you need (up to 4000 characters)."],
    skill_group: ["group", "Please choose what it is about."],
  };

  function fieldError(field, text) {
    for (const [key, [inputId]] of Object.entries(FIELD_ERRORS)) {
      const on = key === field;
      const box = $(`${inputId}-error`);
      $(inputId).setAttribute("aria-invalid", String(on));
      box.hidden = !on;
      box.textContent = on ? text || FIELD_ERRORS[key][1] : "";
    }
    if (field && FIELD_ERRORS[field]) $(FIELD_ERRORS[field][0]).focus();
  }

  $("start").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("start-error").hidden = true;
    fieldError(null);
    const button = $("start").querySelector("button");
    button.disabled = true;
    try {
      const resp = await fetch("/api/sessions/", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": CC.csrfToken(),
        },
        body: JSON.stringify({
          customer_name: $("name").value,
          message: $("first").value,
          ...($("group-choice").hidden ? {} : { skill_group: $("group").value }),
        }),
      });
      const data = await resp.json().catch(() => ({}));
      if (resp.status === 400 && FIELD_ERRORS[data.field]) {
        fieldError(data.field);
        return;
      }
      if (resp.status !== 201) {
        throw new Error(data.detail || `Could not start the chat (${resp.status}).`);
      }
      sessionStorage.setItem(KEY, JSON.stringify({ id: data.id, token: data.customer_token }));
      session = data;
      messages = [];
      open(data.id, data.customer_token);
    } catch (err) {
      $("start-error").textContent = err.message;
      $("start-error").hidden = false;
    } finally {
      button.disabled = false;
    }
  });

  function open(id, token) {
    $("start").hidden = true;
    $("conversation").hidden = false;
    render();
    socket = new LiveSocket(wsUrl(`/ws/customer/${id}/?token=${encodeURIComponent(token)}`), {
      onHello: (hello) => {
        session = hello.session;
        messages = hello.messages;
        if (hello.notice) session.notice = hello.notice;
        session.rating_requested = Boolean(hello.rating_requested);
        session.rating_scale = hello.rating_scale || 5;
        render();
      },
      onEvent: handle,
      onDown: () => ($("conn-banner").hidden = false),
      onUp: () => ($("conn-banner").hidden = true),
      onRefused: () => {
        // The chat is not ours (or no longer exists): start over.
        sessionStorage.removeItem(KEY);
        reset();
      },
    });
  }

  function handle(frame) {
    if (frame.type === "typing") {
      if (frame.sender !== "agent") return;
      typingUntil = Date.now() + 4000;
      setTimeout(render, 4050);
    } else if (frame.type === "message.read") {
      if (frame.reader === "agent") markRead(messages, "customer", frame.message_id, frame.ts);
    } else if (frame.type === "message.created") {
      if (frame.message.sender === "agent") typingUntil = 0;
      addMessage(frame.message);
    } else if (frame.type === "session.updated") {
      session = { ...session, ...frame.session };
    } else if (frame.type === "session.ended") {
      session = { ...session, ...(frame.session || {}), state: "ended", end_reason: frame.reason };
      if (frame.notice) session.notice = frame.notice;
      session.rating_requested = Boolean(frame.rating_requested);
      session.rating_scale = frame.rating_scale || 5;
    }
    render();
  }

  // Read receipts: what is on screen in a visible tab is read up to the last agent message.
  function markSeen() {
    if (!socket || document.hidden) return;
    const last = [...messages].reverse().find((m) => m.sender === "agent");
    if (!last || last.read_at || readUpTo === last.id) return;
    readUpTo = last.id;
    socket.command({ type: "message.read", message_id: last.id }).catch(() => (readUpTo = null));
  }
  document.addEventListener("visibilitychange", () => markSeen());

  function addMessage(m) {
    if (!messages.some((x) => x.id === m.id)) messages.push(m);
  }

  function statusText() {
    if (!session) return "";
    switch (session.state) {
      case "queued":
        return session.queue_position
          ? `Waiting in queue — position ${session.queue_position}`
          : "Waiting in queue";
      case "offered":
        return "Connecting you to an agent…";
      case "active":
        return `${(session.agent && session.agent.display_name) || "An agent"} joined`;
      case "ended":
        return "Chat ended";
      default:
        return "";
    }
  }

  function render() {
    $("status").textContent = statusText();
    $("status").dataset.state = session ? session.state : "";
    // An idle end's reminder is said once, in the end box: not also as the last bubble.
    const notice = session && session.end_reason === "customer_idle_timeout" ? session.notice : null;
    const shown = notice ? messages.filter((m) => !(m.sender === "system" && m.body === notice)) : messages;
    renderMessages($("log"), shown, "customer", withToken);
    const typing = session && session.state === "active" && typingUntil > Date.now();
    $("typing").hidden = !typing;
    if (typing) {
      $("typing").textContent = `${(session.agent && session.agent.display_name) || "The agent"} is typing…`;
    }
    markSeen();
    const ended = session && session.state === "ended";
    $("end-box").hidden = !ended;
    $("send").hidden = ended;
    $("leave").hidden = ended;
    if (ended) {
      const reason = session.end_reason;
      $("end-reason").textContent =
        reason === "customer_idle_timeout"
          ? session.notice || "This chat was closed because we did not hear back from you."
          : REASONS[reason] || "This chat has ended.";
      $("end-box").dataset.reason = reason || "";
    }
    renderRating(ended);
  }

  // The rating: stars (or 1-10) once the chat an agent served has ended, asked once.
  function renderRating(ended) {
    const rated = Boolean(session && session.rating);
    const ask = ended && session.rating_requested && !rated;
    $("rating").hidden = !ask;
    $("rating-thanks").hidden = !(ended && rated);
    if (!ask || $("stars").dataset.scale === String(session.rating_scale)) return;
    const scale = session.rating_scale;
    $("stars").dataset.scale = String(scale);
    $("stars").classList.toggle("numbers", scale !== 5);
    // Stars are laid out right to left (so a hovered star lights those before it): the highest
    // comes first in the page.
    const order = Array.from({ length: scale }, (_, i) => i);
    if (scale === 5) order.reverse();
    $("stars").replaceChildren(
      ...order.map((i) => {
        const input = el("input", { type: "radio", name: "score", value: String(i + 1), id: `score-${i + 1}` });
        const label = el("label", { htmlFor: `score-${i + 1}`, title: `${i + 1} of ${scale}` }, scale === 5 ? "★" : String(i + 1));
        label.setAttribute("aria-label", `${i + 1} of ${scale}`);
        return el("span", { class: "star" }, input, label);
      }),
    );
  }

  $("rating").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const picked = $("rating").querySelector("input[name=score]:checked");
    const fail = (text) => {
      $("rating-error").textContent = text;
      $("rating-error").hidden = false;
    };
    if (!picked) return fail("Pick a score first.");
    const chat = saved();
    $("rating-send").disabled = true;
    try {
      const resp = await fetch(`/api/sessions/${chat.id}/rating/`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-Customer-Token": chat.token },
        body: JSON.stringify({ score: Number(picked.value), comment: $("rating-comment").value }),
      });
      const data = await resp.json().catch(() => ({}));
      if (resp.status !== 201) return fail(data.detail || "Your rating was not saved.");
      session.rating = data;
      $("rating-error").hidden = true;
      render();
    } finally {
      $("rating-send").disabled = false;
    }
  });

  // Files are served to this page with its token (a plain link or <img> sends no header).
  function withToken(url) {
    const chat = saved();
    return chat ? `${url}?token=${encodeURIComponent(chat.token)}` : url;
  }

  uploader({
    button: $("attach"),
    input: $("file"),
    zone: $("conversation"),
    progress: $("upload-progress"),
    target: () => {
      const chat = saved();
      if (!chat || !session || session.state === "ended") return null;
      return { url: `/api/sessions/${chat.id}/attachments/`, headers: { "X-Customer-Token": chat.token } };
    },
    onSent: (message) => {
      addMessage(message);
      render();
    },
    onError: (detail) => alert(detail),
  });

  typingNotifier($("body"), () => {
    if (socket && session && session.state === "active") {
      socket.command({ type: "typing" }).catch(() => {});
    }
  });

  sendBox(
    $("send"),
    $("body"),
    (body) =>
      socket &&
      socket.command({ type: "message.send", body }).then((ack) => {
        addMessage(ack.message);
        render();
      }),
    (err) => alert(err.detail || "Your message was not sent; try again."),
  );

  $("leave").addEventListener("click", () => {
    if (socket) socket.command({ type: "session.end" }).catch(() => {});
  });

  function reset() {
    if (socket) socket.close();
    socket = null;
    session = null;
    messages = [];
    $("conversation").hidden = true;
    $("start").hidden = false;
    $("first").value = "";
  }

  $("new-chat").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    reset();
  });

  // The customer picks a team when there are two or more to pick from (the default first).
  fetch("/api/public/skill-groups/", { headers: { Accept: "application/json" } })
    .then((resp) => (resp.ok ? resp.json() : []))
    .then((groups) => {
      if (!Array.isArray(groups) || groups.length < 2) return;
      $("group").replaceChildren(
        ...groups.map((g) => {
          const option = document.createElement("option");
          option.value = g.id;
          option.textContent = g.name;
          return option;
        }),
      );
      $("group-choice").hidden = false;
    })
    .catch(() => {});

  const resume = saved();
  if (resume && resume.id && resume.token) open(resume.id, resume.token);
})();
