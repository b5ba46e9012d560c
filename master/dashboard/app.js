// The ampmr dashboard: reads /api/v1 and updates the page in place every
// two seconds while anything runs. No libraries, no build step.
"use strict";

const REFRESH_MS = 2000;
const JOBS_PER_PAGE = 20;
const TASKS_PER_PAGE = 100;
const TIMELINE_ATTEMPTS = 5000;
const SVG = "http://www.w3.org/2000/svg";

// el("td", {class: "num"}, "text", child...): a new element; strings become
// text nodes, so nothing from the API is ever parsed as HTML.
function el(tag, attrs, ...children) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4))
                                   : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function get(path) {
  const r = await fetch(path, {cache: "no-store"});
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || (path + ": HTTP " + r.status));
  return body;
}

function duration(seconds) {
  if (!(seconds >= 0)) return "";
  if (seconds < 1) return Math.round(seconds * 1000) + " ms";
  if (seconds < 60) return seconds.toFixed(1) + " s";
  const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
  if (m < 60) return m + " min " + s + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}
function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}
function clock(t) { return t > 0 ? new Date(t * 1000).toLocaleTimeString() : ""; }
function now() { return Date.now() / 1000; }
function finished(state) { return ["succeeded", "failed", "cancelled"].includes(state); }
function jobDuration(j) {
  if (!(j.start_time > 0)) return "";
  return duration((j.end_time > 0 ? j.end_time : now()) - j.start_time);
}
function badge(state) { return el("span", {class: "state " + state}, state); }
function bar(phase, kind) {
  const total = Math.max(phase.total, 1);
  return el("span", {class: "progress " + kind,
                     title: phase.done + " done, " + phase.running + " running of " + phase.total},
            el("span", {class: "done", style: "width:" + (100 * phase.done / total) + "%"}),
            el("span", {class: "running", style: "left:" + (100 * phase.done / total) +
                        "%;width:" + (100 * phase.running / total) + "%"}));
}
function table(headers, rows, numeric) {
  return el("table", {},
            el("thead", {}, el("tr", {}, headers.map((h, i) =>
                el("th", {class: numeric && numeric.includes(i) ? "num" : null}, h)))),
            el("tbody", {}, rows));
}
function replace(id, ...nodes) {
  const target = document.getElementById(id);
  if (target) target.replaceChildren(...nodes.flat(2).filter(n => n !== null && n !== undefined));
}

// ---- Overview: jobs (paged), workers, handlers ----

let jobsOffset = Number(new URLSearchParams(location.search).get("offset") || 0);

function overviewSkeleton() {
  document.title = "ampmr";
  replace("main",
          el("section", {}, el("h2", {}, "Jobs"), el("div", {id: "jobs"}, "Loading…")),
          el("section", {}, el("h2", {}, "Workers"), el("div", {id: "workers"})),
          el("section", {}, el("h2", {}, "Handlers"), el("div", {id: "handlers"})));
}

function renderJobs(data) {
  const rows = data.jobs.map(j => el("tr", {"data-job": j.id},
      el("td", {}, el("a", {href: "/jobs/" + encodeURIComponent(j.id)}, j.id)),
      el("td", {class: "wrap"}, j.name),
      el("td", {}, badge(j.state)),
      el("td", {}, bar(j.map, "map"), " ", j.map.done + "/" + j.map.total),
      el("td", {}, j.reduce.total ? [bar(j.reduce, "reduce"), " ", j.reduce.done + "/" +
                                     j.reduce.total] : el("span", {class: "muted"}, "none")),
      el("td", {class: "num" + (j.map.failed_attempts + j.reduce.failed_attempts ? " error" : "")},
         j.map.failed_attempts + j.reduce.failed_attempts),
      el("td", {class: "num"}, jobDuration(j)),
      el("td", {}, clock(j.submit_time)),
      el("td", {class: "wrap error"}, j.error)));
  const pages = el("div", {class: "pager"},
      el("button", {disabled: jobsOffset === 0 ? "" : null,
                    onclick: () => { jobsOffset = Math.max(0, jobsOffset - JOBS_PER_PAGE); tick(); }},
         "Newer"),
      el("span", {class: "muted"}, data.total ? (data.offset + 1) + "–" +
         (data.offset + data.jobs.length) + " of " + data.total : "no jobs yet"),
      el("button", {disabled: data.offset + data.jobs.length >= data.total ? "" : null,
                    onclick: () => { jobsOffset += JOBS_PER_PAGE; tick(); }}, "Older"));
  replace("jobs", table(["job", "name", "state", "map", "reduce", "failed attempts", "duration",
                         "submitted", "error"], rows, [5, 6]), pages);
}

function renderWorkers(data) {
  if (!data.workers.length) { replace("workers", el("p", {class: "muted"}, "No worker connected.")); return; }
  const rows = data.workers.map(w => el("tr", {},
      el("td", {}, w.id), el("td", {}, w.host), el("td", {class: "num"}, w.pid),
      el("td", {class: "num"}, w.slots), el("td", {class: "num"}, w.running),
      el("td", {class: "num"}, w.tasks_done),
      el("td", {class: "num" + (w.attempts_failed ? " error" : "")}, w.attempts_failed),
      el("td", {class: "num"}, w.cpu_percent.toFixed(0) + "%"),
      el("td", {class: "num"}, bytes(w.rss_bytes)),
      el("td", {class: "num"}, duration(Math.max(0, data.now - w.last_heartbeat_time)) + " ago"),
      el("td", {}, w.shuffle_address), el("td", {}, w.handlers.join(", "))));
  replace("workers", table(["worker", "host", "pid", "slots", "running", "done", "failed", "CPU",
                            "RSS", "last heartbeat", "shuffle", "handlers"], rows,
                           [2, 3, 4, 5, 6, 7, 8, 9]));
}

function renderHandlers(data) {
  if (!data.handlers.length) { replace("handlers", el("p", {class: "muted"}, "No handler offered.")); return; }
  const rows = data.handlers.map(h => el("tr", {},
      el("td", {}, h.name), el("td", {class: "num"}, h.workers), el("td", {class: "num"}, h.queued),
      el("td", {class: "num"}, h.running), el("td", {class: "num"}, h.calls_per_second.toFixed(1)),
      el("td", {class: "num"}, h.calls ? duration(h.p50_seconds) : ""),
      el("td", {class: "num"}, h.calls ? duration(h.p99_seconds) : ""),
      el("td", {class: "num"}, h.calls),
      el("td", {class: "wrap"}, Object.entries(h.errors).map(([c, n]) => c + " " + n).join(", "))));
  replace("handlers", table(["handler", "workers", "queued", "in flight", "calls/s", "p50", "p99",
                             "calls", "errors by code"], rows, [1, 2, 3, 4, 5, 6, 7]));
}

async function refreshOverview() {
  const [jobs, workers, handlers] = await Promise.all([
      get("/api/v1/jobs?offset=" + jobsOffset + "&limit=" + JOBS_PER_PAGE),
      get("/api/v1/workers"), get("/api/v1/handlers")]);
  renderJobs(jobs);
  renderWorkers(workers);
  renderHandlers(handlers);
  return true;  // the cluster is live: keep refreshing
}

// ---- A job: facts, phases, counters, timeline, tasks ----

let tasksOffset = 0;

function jobSkeleton(id) {
  document.title = "ampmr " + id;
  replace("main",
          el("section", {id: "summary"}, "Loading…"),
          el("section", {}, el("h2", {}, "Timeline"), el("div", {id: "timeline"})),
          el("section", {}, el("h2", {}, "Tasks (failures first)"), el("div", {id: "tasks"})),
          el("section", {}, el("h2", {}, "Counters"), el("div", {id: "counters"})));
}

function renderSummary(j) {
  const failed = j.map.failed_attempts + j.reduce.failed_attempts;
  const phase = (name, p, kind) => el("div", {class: "phase"}, el("strong", {}, name), bar(p, kind),
      p.done + "/" + p.total + " done, " + p.running + " running" +
      (p.failed_attempts ? ", " + p.failed_attempts + " failed attempts" : ""));
  const facts = [["mapper", j.mapper], ["reducer", j.reducer], ["combiner", j.combiner],
                 ["input", j.inputs.join(" ")], ["output", j.output],
                 ["submitted", clock(j.submit_time)], ["duration", jobDuration(j)]]
      .filter(([, v]) => v).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]);
  const statuses = j.task_statuses.length ? el("div", {},
      el("h2", {}, "Running attempts say"),
      table(["task", "attempt", "worker", "status"], j.task_statuses.map(s => el("tr", {},
          el("td", {}, s.task_id), el("td", {}, s.attempt_id), el("td", {}, s.worker_id),
          el("td", {class: "wrap"}, s.status))))) : null;
  replace("summary",
          el("h1", {}, "Job " + j.id + (j.name ? " · " + j.name : "") + " ", badge(j.state)),
          j.error ? el("p", {class: "error"}, j.error) : null,
          phase("map", j.map, "map"),
          j.reduce.total ? phase("reduce", j.reduce, "reduce") : null,
          failed ? el("p", {class: "error"}, failed + " failed attempt" + (failed > 1 ? "s" : "")) : null,
          el("dl", {class: "facts"}, facts), statuses);
  replace("counters", Object.keys(j.counters).length
      ? table(["counter", "value"], Object.keys(j.counters).sort().map(k => el("tr", {},
            el("td", {}, k), el("td", {class: "num"}, j.counters[k].toLocaleString()))), [1])
      : el("p", {class: "muted"}, "No counters yet."));
}

function attemptClass(a) {
  return "bar " + (a.task_id.startsWith("r") ? "reduce" : "map") + " " + a.state +
         (a.backup ? " backup" : "");
}

// One row per worker slot: on each worker, attempts take the first lane
// free at their start.
function renderTimeline(data, job) {
  const attempts = data.attempts;
  if (!attempts.length) { replace("timeline", el("p", {class: "muted"}, "No attempt yet.")); return; }
  const t = now();
  const end = a => a.end_time > 0 ? a.end_time : (job.end_time > 0 ? job.end_time : t);
  const t0 = Math.min(...attempts.map(a => a.start_time));
  const t1 = Math.max(t0 + 0.001, ...attempts.map(end));
  const lanes = {};
  const placed = attempts.slice().sort((a, b) => a.start_time - b.start_time).map(a => {
    const free = (lanes[a.worker_id] = lanes[a.worker_id] || []);
    let lane = free.findIndex(busyUntil => busyUntil <= a.start_time + 1e-3);
    if (lane < 0) { lane = free.length; free.push(0); }
    free[lane] = end(a);
    return {a, lane};
  });
  const workers = Object.keys(lanes).sort((x, y) => x.localeCompare(y, undefined, {numeric: true}));
  const rowOf = {};
  let rows = 0;
  for (const w of workers) { rowOf[w] = rows; rows += lanes[w].length; }
  const LABEL = 80, WIDTH = 1100, ROW = 18, AXIS = 20;
  const x = v => LABEL + (WIDTH - LABEL - 10) * (v - t0) / (t1 - t0);
  const svg = el("svg:svg", {class: "timeline", viewBox: "0 0 " + WIDTH + " " + (rows * ROW + AXIS),
                             "data-attempts": attempts.length});
  for (let i = 0; i <= 5; ++i) {
    const v = t0 + (t1 - t0) * i / 5;
    svg.append(el("svg:line", {class: "grid", x1: x(v), x2: x(v), y1: 0, y2: rows * ROW}),
               el("svg:text", {x: x(v), y: rows * ROW + 14, "text-anchor": i ? "end" : "start"},
                  "+" + duration(v - t0)));
  }
  for (const w of workers) {
    lanes[w].forEach((_, lane) => svg.append(el("svg:text", {x: 0, y: (rowOf[w] + lane) * ROW + 13},
                                                 w + " slot " + (lane + 1))));
  }
  for (const {a, lane} of placed) {
    const y = (rowOf[a.worker_id] + lane) * ROW + 2;
    svg.append(el("svg:rect", {class: attemptClass(a), x: x(a.start_time), y: y,
                               width: Math.max(1.5, x(end(a)) - x(a.start_time)), height: ROW - 4,
                               rx: 2, "data-attempt": a.attempt_id, "data-state": a.state},
                  el("svg:title", {}, a.attempt_id + " on " + a.worker_id + ": " + a.state +
                     (a.backup ? " (backup)" : "") + ", " + duration(end(a) - a.start_time) +
                     (a.error ? "\n" + a.error : ""))));
  }
  const legend = el("div", {class: "legend"}, ["map", "reduce", "failed", "backup", "killed",
                                               "lost", "running"].map(k => el("span", {},
                                                   el("i", {class: k}), k)));
  replace("timeline", svg, legend, data.total > attempts.length
      ? el("p", {class: "muted"}, "The latest " + attempts.length + " of " + data.total +
           " attempts.") : null);
}

function logLink(job, a) {
  return el("a", {href: "/api/v1/jobs/" + encodeURIComponent(job) + "/tasks/" + a.task_id +
                        "/log?attempt=" + a.attempt}, "stderr");
}

function renderTasks(data, job) {
  const rows = [];
  for (const task of data.tasks) {
    const failed = task.attempts.some(a => a.state === "failed");
    const cls = failed ? "task-failed" : null;
    if (!task.attempts.length) {
      rows.push(el("tr", {class: cls}, el("td", {}, task.task_id), el("td", {}, task.kind),
                   el("td", {}, badge(task.state)), el("td", {colspan: 6, class: "muted"}, "not started"),
                   el("td", {class: "wrap muted"}, task.input)));
    }
    task.attempts.forEach((a, i) => rows.push(el("tr", {class: cls, "data-attempt": a.attempt_id},
        el("td", {}, i ? "" : task.task_id), el("td", {}, i ? "" : task.kind),
        el("td", {}, i ? "" : badge(task.state)),
        el("td", {}, "#" + a.attempt + (a.backup ? " backup" : "")), el("td", {}, a.worker_id),
        el("td", {class: "num"}, job.start_time > 0
                                   ? "+" + duration(Math.max(0, a.start_time - job.start_time)) : ""),
        el("td", {class: "num"}, duration((a.end_time > 0 ? a.end_time : now()) - a.start_time)),
        el("td", {}, badge(a.state)),
        el("td", {class: "wrap error"}, a.error, a.error ? " " : "", logLink(job.id, a)),
        el("td", {class: "wrap muted"}, i ? "" : task.input))));
  }
  const pages = el("div", {class: "pager"},
      el("button", {disabled: tasksOffset === 0 ? "" : null,
                    onclick: () => { tasksOffset = Math.max(0, tasksOffset - TASKS_PER_PAGE); tick(); }},
         "Previous"),
      el("span", {class: "muted"}, data.total ? (data.offset + 1) + "–" +
         (data.offset + data.tasks.length) + " of " + data.total + " tasks" : "no tasks"),
      el("button", {disabled: data.offset + data.tasks.length >= data.total ? "" : null,
                    onclick: () => { tasksOffset += TASKS_PER_PAGE; tick(); }}, "Next"));
  replace("tasks", table(["task", "kind", "task state", "attempt", "worker", "start", "duration",
                          "state", "error / log", "input"], rows, [5, 6]), pages);
}

async function refreshJob(id) {
  const base = "/api/v1/jobs/" + encodeURIComponent(id);
  const [job, tasks, attempts] = await Promise.all([
      get(base), get(base + "/tasks?offset=" + tasksOffset + "&limit=" + TASKS_PER_PAGE),
      get(base + "/attempts?limit=" + TIMELINE_ATTEMPTS)]);
  renderSummary(job);
  renderTimeline(attempts, job);
  renderTasks(tasks, job);
  return !finished(job.state);
}

// ---- Routing and the refresh loop ----

const jobMatch = location.pathname.match(/^\/jobs\/([^/]+)$/);
const refresh = jobMatch ? () => refreshJob(decodeURIComponent(jobMatch[1])) : refreshOverview;
let timer = null;

async function tick() {
  clearTimeout(timer);
  let again = true;
  try {
    again = await refresh();
    replace("updated", "updated " + new Date().toLocaleTimeString());
  } catch (e) {
    replace("updated", el("span", {class: "error"}, String(e.message || e)));
  }
  if (again) timer = setTimeout(tick, REFRESH_MS);
}

if (jobMatch) jobSkeleton(decodeURIComponent(jobMatch[1])); else overviewSkeleton();
tick();
