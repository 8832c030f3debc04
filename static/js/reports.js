// The supervisor's reports: chats per day or hour (by outcome, waits, handle time, ratings) as
// charts drawn with the vendored Chart.js, and a sortable table per agent, for a range of dates
// and a group. Both reports can be downloaded as CSV from the API itself.
"use strict";

(function () {
  const CC = window.CC;
  const { el, t } = CC;
  const Chart = window.Chart;
  const $ = (id) => document.getElementById(id);
  const LANG = document.documentElement.lang || undefined;
  const DEFAULT_DAYS = 7;
  const COLORS = {
    served: "#15803d",
    abandoned: "#d97706",
    timedOut: "#b91c1c",
    other: "#9ca3af",
    p50: "#2563eb",
    p90: "#7c3aed",
    handle: "#0e7490",
    rating: "#b45309",
  };
  const numbers = new Intl.NumberFormat(LANG);
  const oneDecimal = new Intl.NumberFormat(LANG, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const collator = new Intl.Collator(LANG, { sensitivity: "base", numeric: true });
  const charts = {};
  const sort = { key: "name", dir: 1 };
  let agentRows = [];
  let asked = 0; // the latest request: an older answer arriving late is dropped
  let agentsAsked = ""; // the query agentRows answer

  const css = getComputedStyle(document.documentElement);
  Chart.defaults.font.family = css.fontFamily;
  Chart.defaults.color = (css.getPropertyValue("--muted") || "#5b6472").trim();
  Chart.defaults.animation = false; // drawn at once: a report, not a show

  // --- the form ---------------------------------------------------------------------------

  function isoDay(d) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }

  function fillForm() {
    const q = new URLSearchParams(location.search);
    const today = new Date();
    const first = new Date(today.getFullYear(), today.getMonth(), today.getDate() - (DEFAULT_DAYS - 1));
    const day = /^\d{4}-\d{2}-\d{2}$/;
    $("from").value = day.test(q.get("from") || "") ? q.get("from") : isoDay(first);
    $("to").value = day.test(q.get("to") || "") ? q.get("to") : isoDay(today);
    const group = q.get("group") || "";
    if ([...$("group").options].some((o) => o.value === group)) $("group").value = group;
    const bucket = q.get("bucket") === "hour" ? "hour" : "day";
    document.querySelector(`input[name=bucket][value=${bucket}]`).checked = true;
  }

  function params() {
    return {
      from: $("from").value,
      to: $("to").value,
      group: $("group").value,
      bucket: document.querySelector("input[name=bucket]:checked").value,
    };
  }

  function query(values) {
    return new URLSearchParams(values).toString();
  }

  $("report-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    load();
  });
  for (const input of document.querySelectorAll("#group, input[name=bucket]")) {
    input.addEventListener("change", () => load());
  }

  // --- loading ----------------------------------------------------------------------------

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(
      (r) =>
        r
          .json()
          .catch(() => ({}))
          .then((data) =>
            r.ok
              ? data
              : Promise.reject({ detail: data.detail || t("The desk answered %(status)s.", { status: r.status }) }),
          ),
      () => Promise.reject({ detail: t("No connection; try again in a moment.") }),
    );
  }

  function load() {
    const p = params();
    const error = $("form-error");
    error.hidden = true;
    if (!p.from || !p.to || p.from > p.to) {
      error.textContent = t("Pick a start date on or before the end date.");
      error.hidden = false;
      return;
    }
    // The form in the address (a reload or a shared link shows the same), `?lang=` kept.
    const address = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(p)) address.set(key, value);
    history.replaceState(null, "", `${location.pathname}?${address}`);
    const summaryQuery = query(p);
    const agentsQuery = query({ from: p.from, to: p.to });
    $("summary-csv").href = `/api/reports/summary/?${summaryQuery}&format=csv`;
    $("agents-csv").href = `/api/reports/agents/?${agentsQuery}&format=csv`;
    const mine = ++asked;
    $("reports").dataset.state = "loading";
    $("summary-status").hidden = false;
    $("summary-status").textContent = t("Loading…");
    // The agents' report knows no group or bucket: asked again only for other dates.
    const agentsFetch =
      agentsQuery === agentsAsked ? Promise.resolve(null) : getJson(`/api/reports/agents/?${agentsQuery}`);
    Promise.all([getJson(`/api/reports/summary/?${summaryQuery}`), agentsFetch])
      .then(([summary, agents]) => {
        if (mine !== asked) return;
        drawSummary(summary);
        if (agents) {
          agentsAsked = agentsQuery;
          agentRows = agents.agents || [];
          renderAgents();
        }
        $("reports").dataset.state = "ready";
      })
      .catch((err) => {
        if (mine !== asked) return;
        $("summary-status").textContent = err.detail || t("Could not load the report.");
        $("reports").dataset.state = "error";
      });
  }

  // --- formats ----------------------------------------------------------------------------

  // Seconds as h:mm:ss (the agents' table and the CSV speak seconds).
  function hms(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.max(0, Math.round(Number(seconds)));
    const pad = (n) => String(n).padStart(2, "0");
    return `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  }

  // Seconds, shortly: "45 s", "3:05" (min:s) or "1:02:00".
  function short(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.max(0, Math.round(Number(seconds)));
    if (s < 60) return t("%(seconds)s s", { seconds: s });
    if (s < 3600) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    return hms(s);
  }

  function zoned(how, timezone) {
    try {
      return new Intl.DateTimeFormat(LANG, { ...how, timeZone: timezone || undefined });
    } catch (e) {
      return new Intl.DateTimeFormat(LANG, how); // a zone this browser does not know
    }
  }

  // Each bucket's name in the desk's zone: in full for the tooltips, and for the axis a short
  // one, or null where the axis shows none (hours: a label every few hours, the day at midnight).
  function bucketNames(rows, bucket, timezone) {
    const dates = rows.map((r) => new Date(r.start));
    const day = { weekday: "short", month: "numeric", day: "numeric" };
    const tip = zoned(bucket === "hour" ? { ...day, hour: "2-digit", minute: "2-digit" } : day, timezone);
    const dayTick = zoned(rows.length > 14 && bucket === "day" ? { month: "numeric", day: "numeric" } : day, timezone);
    const full = dates.map((d) => (Number.isNaN(d.getTime()) ? "" : tip.format(d)));
    if (bucket !== "hour") return { full, ticks: dates.map((d) => dayTick.format(d)) };
    const hourOf = zoned({ hour: "numeric", hourCycle: "h23" }, timezone);
    const hourTick = zoned({ hour: "2-digit", minute: "2-digit" }, timezone);
    const days = rows.length / 24;
    const every = days <= 1 ? 3 : days <= 2 ? 6 : days <= 4 ? 12 : 24;
    let marked = dates.map((d, i) => (Number(hourOf.format(d)) % every === 0 ? i : -1)).filter((i) => i >= 0);
    const thin = Math.ceil(marked.length / 14); // at most about 14 labels
    marked = new Set(marked.filter((_, n) => n % thin === 0));
    const ticks = dates.map((d, i) => {
      if (!marked.has(i)) return null;
      return Number(hourOf.format(d)) === 0 ? dayTick.format(d) : hourTick.format(d);
    });
    return { full, ticks };
  }

  // A time axis in steps a reader counts in (15 s, 1 min, 5 min…), at most about six of them.
  function durationAxis(values) {
    const max = Math.max(0, ...values.filter((v) => v !== null && v !== undefined).map(Number));
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
    const stepSize = steps.find((step) => max / step <= 6) || 28800;
    return { beginAtZero: true, ticks: { stepSize, callback: (v) => short(v) } };
  }

  // --- the summary ------------------------------------------------------------------------

  function sum(rows, key) {
    return rows.reduce((total, r) => total + Number(r[key] || 0), 0);
  }

  // An average of averages, each weighing as many as it stands for; null when none.
  function weighted(rows, key, weightKey) {
    let total = 0;
    let weight = 0;
    for (const r of rows) {
      if (r[key] === null || r[key] === undefined || !r[weightKey]) continue;
      total += Number(r[key]) * Number(r[weightKey]);
      weight += Number(r[weightKey]);
    }
    return weight ? total / weight : null;
  }

  function drawSummary(summary) {
    const rows = summary.buckets || [];
    const range = { from: summary.from, to: summary.to };
    $("summary-range").textContent = t("%(from)s to %(to)s", range);
    const created = sum(rows, "created");
    $("summary-status").hidden = true;
    $("summary-empty").hidden = created > 0;
    $("charts").hidden = created === 0;
    $("kpis").hidden = created === 0;
    $("reports").dataset.empty = String(created === 0);
    for (const chart of Object.values(charts)) chart.destroy();
    for (const key of Object.keys(charts)) delete charts[key];
    if (created === 0) return;

    const served = sum(rows, "served");
    const ratings = sum(rows, "rating_count");
    const rating = weighted(rows, "rating_avg", "rating_count");
    const kpis = [
      [t("Chats"), numbers.format(created), "created"],
      [t("Served"), numbers.format(served), "served"],
      [t("Abandoned"), numbers.format(sum(rows, "abandoned")), "abandoned"],
      [t("Timed out"), numbers.format(sum(rows, "timed_out")), "timed_out"],
      [t("Average handle time"), short(weighted(rows, "handle_avg", "served")), "handle_avg"],
      [
        t("Average rating"),
        rating === null ? "—" : t("%(avg)s (%(count)s)", { avg: oneDecimal.format(rating), count: numbers.format(ratings) }),
        "rating_avg",
      ],
    ];
    $("kpis").replaceChildren(
      ...kpis.map(([name, value, key]) => el("div", { class: "kpi", "data-kpi": key }, el("dt", {}, name), el("dd", {}, value))),
    );

    const names = bucketNames(rows, summary.bucket, summary.timezone);
    const labels = names.full;
    const hourly = summary.bucket === "hour";
    const x = {
      ticks: { autoSkip: !hourly, maxRotation: 0, callback: (_, index) => names.ticks[index] },
      grid: { display: !hourly },
    };
    const other = rows.map((r) =>
      Math.max(0, Number(r.created || 0) - Number(r.served || 0) - Number(r.abandoned || 0) - Number(r.timed_out || 0)),
    );
    const durationTip = { callbacks: { label: (c) => `${c.dataset.label}: ${short(c.parsed.y)}` } };

    charts.volume = new Chart($("chart-volume"), {
      type: "bar",
      data: {
        labels,
        datasets: [
          { label: t("Served"), data: rows.map((r) => r.served || 0), backgroundColor: COLORS.served },
          { label: t("Abandoned"), data: rows.map((r) => r.abandoned || 0), backgroundColor: COLORS.abandoned },
          { label: t("Timed out"), data: rows.map((r) => r.timed_out || 0), backgroundColor: COLORS.timedOut },
          { label: t("Other"), data: other, backgroundColor: COLORS.other },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { ...x, stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: {
          tooltip: {
            callbacks: {
              footer: (items) => t("Created: %(count)s", { count: rows[items[0].dataIndex].created || 0 }),
            },
          },
        },
      },
    });

    charts.wait = new Chart($("chart-wait"), {
      type: "line",
      data: {
        labels,
        datasets: [
          line(t("Median (p50)"), rows.map((r) => r.wait_p50), COLORS.p50, hourly),
          line(t("90th percentile (p90)"), rows.map((r) => r.wait_p90), COLORS.p90, hourly),
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { x, y: durationAxis(rows.flatMap((r) => [r.wait_p50, r.wait_p90])) },
        plugins: { tooltip: durationTip },
      },
    });

    charts.handle = new Chart($("chart-handle"), {
      type: "bar",
      data: {
        labels,
        datasets: [{ label: t("Average handle time"), data: rows.map((r) => r.handle_avg), backgroundColor: COLORS.handle }],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        scales: { x, y: durationAxis(rows.map((r) => r.handle_avg)) },
        plugins: { legend: { display: false }, tooltip: durationTip },
      },
    });

    charts.rating = new Chart($("chart-rating"), {
      type: "line",
      data: { labels, datasets: [line(t("Average rating"), rows.map((r) => r.rating_avg), COLORS.rating, hourly)] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        scales: { x, y: { beginAtZero: true, suggestedMax: 5 } },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (c) =>
                t("Average %(avg)s from %(count)s ratings", {
                  avg: oneDecimal.format(c.parsed.y),
                  count: numbers.format(rows[c.dataIndex].rating_count || 0),
                }),
            },
          },
        },
      },
    });
    $("rating-none").hidden = ratings > 0;
  }

  // A line over the buckets; per day it bridges a day without figures, per hour (where most
  // hours have none) it does not, or it would draw trends that are not there.
  function line(label, data, color, hourly) {
    return {
      label,
      data,
      borderColor: color,
      backgroundColor: color,
      spanGaps: !hourly,
      cubicInterpolationMode: "monotone", // no overshoot below zero or above the scale
      pointRadius: data.length > 60 ? 2 : 3,
    };
  }

  // --- the agents' table ------------------------------------------------------------------

  function sortValue(row, key) {
    if (key === "name") return row.agent ? row.agent.display_name : "";
    return row[key];
  }

  function renderAgents() {
    const { key, dir } = sort;
    const rows = [...agentRows].sort((a, b) => {
      const x = sortValue(a, key);
      const y = sortValue(b, key);
      if (key === "name") return dir * collator.compare(String(x), String(y));
      const missingX = x === null || x === undefined;
      const missingY = y === null || y === undefined;
      if (missingX || missingY) return Number(missingX) - Number(missingY); // blanks last
      return dir * (Number(x) - Number(y)) || collator.compare(a.agent.display_name, b.agent.display_name);
    });
    const body = document.createDocumentFragment();
    for (const r of rows) {
      body.append(
        el(
          "tr",
          { "data-agent-id": r.agent ? r.agent.id : "" },
          el("th", { scope: "row" }, r.agent ? r.agent.display_name : "—"),
          el("td", { class: "num" }, numbers.format(r.served || 0)),
          el("td", { class: "num" }, numbers.format(r.missed_offers || 0)),
          el("td", { class: "num" }, numbers.format(r.declined || 0)),
          el("td", { class: "num" }, numbers.format(r.transfers_out || 0)),
          el("td", { class: "num" }, hms(r.handle_avg)),
          el("td", { class: "num" }, r.rating_avg === null || r.rating_avg === undefined ? "—" : oneDecimal.format(r.rating_avg)),
          el("td", { class: "num" }, hms(r.online_seconds)),
          el("td", { class: "num" }, hms(r.away_seconds)),
        ),
      );
    }
    $("agent-report-body").replaceChildren(body);
    $("agents-empty").hidden = rows.length > 0;
    for (const th of document.querySelectorAll("#agent-report th[data-key]")) {
      if (th.dataset.key === key) th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  }

  for (const th of document.querySelectorAll("#agent-report th[data-key]")) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.key;
      // A new column sorts names A→Z and figures largest first; a second click turns it round.
      if (sort.key === key) sort.dir = -sort.dir;
      else Object.assign(sort, { key, dir: key === "name" ? 1 : -1 });
      renderAgents();
    });
  }

  fillForm();
  load();
})();
