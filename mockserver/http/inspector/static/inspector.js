// The inspector's only script: it polls the control plane's JSON and draws it. No build step, no library.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const pollMs = Number(document.body.dataset.pollMs) || 1000;

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.message || response.statusText);
  return data;
}

// el("td", {class: "x"}, "text", child): children are text (never parsed as HTML) or nodes.
function el(tag, attrs, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function badge(status) {
  return el("span", { class: `badge ${status}` }, status);
}

function progressBar(fraction) {
  return el("span", { class: "progress", title: `${Math.round(fraction * 100)}%` },
    el("span", { style: `width:${Math.round(fraction * 100)}%` }));
}

// Where a task stands: its queue place, its progress, or why it failed.
function where(task) {
  if (task.status === "PENDING" && task.queue_position) return `queue #${task.queue_position}`;
  if (task.status === "RUNNING") return progressBar(task.progress || 0);
  if (task.failure) return el("span", { class: "error" }, `${task.failure.code}: ${task.failure.message}`);
  if (task.image_failures.length) {
    const codes = [...new Set(task.image_failures.map((f) => f.code))].join(", ");
    return el("span", { class: "error" }, `${task.image_failures.length} of ${task.images} images failed (${codes})`);
  }
  return "";
}

function thumbnails(task) {
  return el("span", { class: "thumbs" },
    ...task.thumbnails.map((src, i) => el("img", { src, alt: `image ${i + 1} of ${task.task_id}`, loading: "lazy" })));
}

// Epoch seconds as the emulator shows times to people: China time, zone said (as timefmt.shown_time).
function chinaTime(epoch) {
  return new Date((epoch + 8 * 3600) * 1000).toISOString().replace("T", " ").replace("Z", " +08:00");
}

async function every(ms, refresh) {
  for (;;) {
    try {
      await refresh();
    } catch (error) {
      console.warn("inspector:", error.message);
    }
    await new Promise((done) => setTimeout(done, ms));
  }
}

// -- the index page ---------------------------------------------------------------------------------

const view = { page: 1, pageSize: 50, shown: "" };

async function refreshClock() {
  const clock = await api("GET", "/__mock/clock");
  document.getElementById("clock-now").textContent = chinaTime(clock.now);
  const mode = document.getElementById("clock-mode");
  mode.textContent = clock.mode === "scaled" ? `scaled ×${clock.rate}` : clock.mode;
}

async function refreshTasks() {
  const filters = new FormData(document.getElementById("filters"));
  const query = new URLSearchParams({ page: view.page, page_size: view.pageSize });
  for (const name of ["account", "model", "status", "q"]) {
    if (filters.get(name)) query.set(name, filters.get(name));
  }
  const data = await api("GET", `/__mock/tasks?${query}`);
  const first = data.total ? (data.page - 1) * data.page_size + 1 : 0;
  document.getElementById("tasks-count").textContent =
    `${first}–${(data.page - 1) * data.page_size + data.tasks.length} of ${data.total}`;
  document.getElementById("page-no").textContent = data.page;
  document.getElementById("next").disabled = data.page * data.page_size >= data.total;
  document.getElementById("prev").disabled = data.page <= 1;
  const signature = JSON.stringify(data.tasks);
  if (signature === view.shown) return;  // nothing moved: keep the DOM (and the thumbnails) as they are
  view.shown = signature;
  const rows = data.tasks.map((task) => el("tr", { "data-task-id": task.task_id, "data-status": task.status },
    el("td", { class: "mono" }, el("a", { href: `/__mock/ui/tasks/${encodeURIComponent(task.task_id)}` }, task.task_id)),
    el("td", { class: "mono" }, task.account),
    el("td", {}, task.model),
    el("td", { class: "status" }, badge(task.status)),
    el("td", { class: "where" }, where(task)),
    el("td", {}, thumbnails(task)),
    el("td", {}, task.submitted)));
  const body = document.getElementById("task-rows");
  body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7 }, "no tasks"))]));
}

function describeRule(rule) {
  const match = Object.entries(rule.match || {}).map(([k, v]) => `${k}=${v}`).join(" ") || "every request";
  const effect = ["http", "fail", "partial", "network", "pending", "running", "stuck", "extra"]
    .filter((name) => rule[name] !== undefined).map((name) => `${name}: ${JSON.stringify(rule[name])}`).join(", ");
  return [match, effect];
}

async function refreshRules() {
  const data = await api("GET", "/__mock/faults");
  const rows = data.rules.map((rule) => {
    const [match, effect] = describeRule(rule);
    const remove = el("button", { type: "button", "data-rule": rule.id }, "remove");
    remove.addEventListener("click", async () => { await api("DELETE", `/__mock/faults/${rule.id}`); refreshRules(); });
    return el("tr", { "data-rule-id": rule.id }, el("td", {}, rule.id), el("td", {}, match), el("td", {}, effect),
      el("td", {}, rule.seen), el("td", {}, rule.fired), el("td", { class: "remaining" }, rule.remaining ?? "∞"),
      el("td", {}, remove));
  });
  document.getElementById("rule-rows").replaceChildren(...rows);
}

function sparkline(values, colour, label) {
  const width = 120, height = 24, most = Math.max(1, ...values);
  const points = values.map((v, i) => `${(i * width) / (values.length - 1)},${height - (v * (height - 2)) / most - 1}`);
  return el("svg:svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
    el("svg:title", {}, `${label}: ${values.reduce((a, b) => a + b, 0)} in the last ${values.length} s, at most ${most}/s`),
    el("svg:polyline", { points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 1.5 }));
}

async function refreshAccounts() {
  const data = await api("GET", "/__mock/accounts");
  const blocks = data.accounts.map((account) => {
    const rows = Object.entries(account.models).map(([model, m]) => el("tr", {}, el("td", {}, model),
      el("td", {}, m.submit_per_second), el("td", {}, m.concurrency), el("td", {}, m.free_quota),
      el("td", {}, m.used), el("td", {}, m.remaining)));
    return el("div", { class: "account", "data-account": account.account },
      el("h3", {}, el("span", { class: "mono" }, account.account), " ",
        account.free_tier_only ? el("span", { class: "badge FAILED" }, "free tier only") : "",
        ` ${account.requests_per_second} queries/s `,
        "submits ", sparkline(account.activity.submits, "#3b82c4", "submits per second"),
        " 429s ", sparkline(account.activity.throttled, "#b3261e", "429 answers per second")),
      el("table", {}, el("thead", {}, el("tr", {}, ...["model", "submit/s", "concurrent", "free quota", "used", "remaining"]
        .map((h) => el("th", {}, h)))), el("tbody", {}, ...rows)));
  });
  document.getElementById("account-list").replaceChildren(...(blocks.length ? blocks : ["no account has called yet"]));
  addAccountOptions(data.accounts.map((account) => account.account));
}

// Accounts that called after the page was drawn join the filter's choices.
function addAccountOptions(ids) {
  const select = document.querySelector('#filters select[name="account"]');
  const known = new Set([...select.options].map((option) => option.value));
  for (const id of ids.filter((id) => !known.has(id))) select.append(el("option", { value: id }, id));
}

function ruleFromForm(form) {
  const data = new FormData(form);
  const rule = { match: {} };
  if (data.get("route")) rule.match.route = data.get("route");
  if (data.get("model")) rule.match.model = data.get("model");
  const kind = data.get("kind");
  if (kind === "http") rule.http = { code: data.get("code") };
  if (kind === "fail") rule.fail = { code: data.get("code") };
  if (kind === "partial") rule.partial = { failed: Number(data.get("failed")) };
  if (kind === "network") rule.network = { kind: data.get("network") };
  if (data.get("count")) rule.count = Number(data.get("count"));
  return rule;
}

function startIndex() {
  const refreshAll = () => Promise.all([refreshClock(), refreshTasks(), refreshRules(), refreshAccounts()]);
  const clockCall = (path, body) => async () => { await api("POST", path, body); await refreshAll(); };
  document.getElementById("advance-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    await clockCall("/__mock/clock/advance", { seconds: Number(document.getElementById("advance-seconds").value) })();
  });
  document.getElementById("freeze").addEventListener("click", clockCall("/__mock/clock/freeze"));
  document.getElementById("resume").addEventListener("click", clockCall("/__mock/clock/resume", {}));
  document.getElementById("reset").addEventListener("click", async () => {
    if (confirm("Forget every task, request and run-time rule?")) await clockCall("/__mock/reset", {})();
  });
  const filters = document.getElementById("filters");
  const refilter = () => { view.page = 1; refreshTasks(); };
  filters.addEventListener("change", refilter);
  filters.addEventListener("input", refilter);
  filters.addEventListener("submit", (event) => { event.preventDefault(); refilter(); });
  document.getElementById("prev").addEventListener("click", () => { view.page -= 1; refreshTasks(); });
  document.getElementById("next").addEventListener("click", () => { view.page += 1; refreshTasks(); });
  document.getElementById("rule-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("rule-error");
    try {
      await api("POST", "/__mock/faults", ruleFromForm(event.target));
      error.textContent = "";
    } catch (problem) {
      error.textContent = problem.message;
    }
    await refreshRules();
  });
  every(pollMs, refreshClock);
  every(pollMs, refreshTasks);
  every(pollMs, refreshRules);
  every(pollMs * 2, refreshAccounts);
}

// -- a task's page: its state and its timeline ----------------------------------------------------------

const COLOURS = { submit: "#3b82c4", poll: "#6b7280", throttled: "#b3261e", download: "#15803d", cancel: "#a16207" };
const LANES = { submit: 40, cancel: 40, poll: 62, throttled: 84, download: 106 };

function drawTimeline(events) {
  const width = 1000, height = 140, left = 20, right = 20;
  const times = events.map((e) => e.time);
  const start = Math.min(...times), span = Math.max(1e-3, Math.max(...times) - start);
  const x = (t) => left + ((t - start) / span) * (width - left - right);
  const svg = el("svg:svg", { class: "timeline", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none" },
    el("svg:line", { x1: left, x2: width - right, y1: height - 14, y2: height - 14, stroke: "#999" }),
    el("svg:text", { x: left, y: height - 2 }, "0 s"),
    el("svg:text", { x: width - right, y: height - 2, "text-anchor": "end" }, `${span.toFixed(1)} s`));
  let previous = null;
  for (const event of events) {
    const at = x(event.time);
    if (event.event === "transition") {
      svg.append(el("svg:line", { x1: at, x2: at, y1: 4, y2: height - 14, stroke: "#888", "stroke-dasharray": "3 2",
        class: "transition" }),
        el("svg:text", { x: at + 2, y: 14 }, event.task_status));
      continue;
    }
    const y = LANES[event.event] || 62;
    const gap = previous === null ? "" : ` (+${(event.time - previous).toFixed(2)} s)`;
    svg.append(el("svg:circle", { cx: at, cy: y, r: 4, fill: COLOURS[event.event] || "#444", class: `event ${event.event}` },
      el("svg:title", {}, `${event.at} ${event.event} ${event.status ?? "no answer"}${gap}`)));
    if (event.event === "poll" && previous !== null) {
      svg.append(el("svg:text", { x: at, y: y - 6, "text-anchor": "middle" }, `+${(event.time - previous).toFixed(1)}`));
    }
    previous = event.time;
  }
  return svg;
}

function timelineRows(events) {
  let previous = null;
  return events.map((event) => {
    const gap = event.event !== "transition" && previous !== null ? (event.time - previous).toFixed(2) : "";
    if (event.event !== "transition") previous = event.time;
    return el("tr", { class: `event-${event.event}` }, el("td", { class: "mono" }, event.at), el("td", {}, gap),
      el("td", {}, event.event), el("td", {}, event.status ?? ""), el("td", {}, event.task_status ?? ""),
      el("td", {}, event.fault ?? ""));
  });
}

function startTask() {
  const id = document.body.dataset.taskId;
  const path = encodeURIComponent(id);
  let shown = "";
  every(pollMs, async () => {
    const task = await api("GET", `/__mock/tasks/${path}`);
    const status = document.getElementById("task-status");
    status.textContent = task.status;
    status.className = `badge ${task.status}`;
    document.getElementById("task-now").textContent = task.now_shown;
    document.getElementById("task-where").replaceChildren(where(task));
    document.getElementById("task-failure").textContent = task.failure ? `${task.failure.code}: ${task.failure.message}` : "";
    const thumbs = document.getElementById("task-thumbnails");
    if (thumbs.dataset.count !== String(task.thumbnails.length)) {
      thumbs.dataset.count = task.thumbnails.length;
      thumbs.replaceChildren(thumbnails(task));
    }
    const timeline = (await api("GET", `/__mock/tasks/${path}/timeline`)).timeline;
    const signature = JSON.stringify(timeline);
    if (signature === shown || !timeline.length) return;
    shown = signature;
    document.getElementById("timeline-chart").replaceChildren(drawTimeline(timeline));
    document.getElementById("timeline-rows").replaceChildren(...timelineRows(timeline));
  });
}

if (document.body.dataset.page === "index") startIndex();
if (document.body.dataset.page === "task") startTask();
