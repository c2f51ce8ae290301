// medialoom web UI: plain JavaScript, no build step.
// Data comes from the REST API (/api/v1) and, live, from one WebSocket (/api/v1/ws):
// the jobs page subscribes to "*", a job page to its job id; both resume with the
// last seq seen after a reconnect, so nothing is lost or shown twice.
"use strict";

const TOKEN_KEY = "medialoom.token";
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const FAILED_ITEMS = "failed,error,conflict";
const PLAN_HEAD = "<tr><th>#</th><th>op</th><th>old → new</th><th>status</th><th>message</th></tr>";
const state = { token: "", kinds: [], roots: [], jobs: new Map(), sources: new Map(), view: null };

// --- token: taken from ?token= once, then kept in localStorage ------------------------

(function takeToken() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token) {
    localStorage.setItem(TOKEN_KEY, token);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  state.token = localStorage.getItem(TOKEN_KEY) || "";
})();

// --- helpers -------------------------------------------------------------------------

const $ = (sel, root = document) => root.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function fmtDuration(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}
const fmtTime = (t) => (t ? new Date(t * 1000).toLocaleString() : "–");
const fmtRate = (r) => (r >= 100 ? Math.round(r) : (r || 0).toFixed(1));
const shortId = (id) => id.slice(-8);

class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "";
    this.field = (err.details && err.details.field) || "";
  }
}

// The token goes in the Authorization header, never in the URL; every write says
// Content-Type: application/json (the gateway refuses any other write, body or not).
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (method !== "GET" || body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (_) { /* empty body */ }
  if (response.status === 401) showAuth();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function notice(text) {
  const el = $("#notice");
  el.textContent = text || "";
  el.hidden = !text;
}

function showAuth() {
  $("#auth").hidden = false;
  $("#auth-token").focus();
}

$("#auth-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.token = $("#auth-token").value.trim();
  localStorage.setItem(TOKEN_KEY, state.token);
  $("#auth").hidden = true;
  live.reconnect();
  route();
});

// --- live updates: one WebSocket, per-job seq, resume with since ------------------------

const live = {
  ws: null,
  subs: new Set(),
  retry: 0,
  timer: null,
  listeners: new Set(),

  connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    let url = `${proto}//${location.host}/api/v1/ws`;
    // browsers cannot give a WebSocket an Authorization header: the gateway takes
    // ?token= here (and on reads), never for a write
    if (state.token) url += `?token=${encodeURIComponent(state.token)}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      setConn(true);
      for (const key of this.subs) this.send(this.subMessage(key));
    };
    ws.onmessage = (ev) => this.receive(JSON.parse(ev.data));
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      setConn(false);
      const delay = Math.min(5000, 250 * 2 ** this.retry++);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  },

  reconnect() {
    clearTimeout(this.timer);
    const old = this.ws;
    this.ws = null;
    if (old) old.close();
    this.connect();
  },

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  },

  subMessage(key) {
    if (key === "*") return { subscribe: "*", limit: 50 };
    const job = state.jobs.get(key);
    return { subscribe: key, since: job ? job.seq : 0 };
  },

  subscribe(key) {
    this.subs.add(key);
    this.send(this.subMessage(key));
  },

  unsubscribe(key) {
    if (this.subs.delete(key)) this.send({ unsubscribe: key });
  },

  receive(msg) {
    if (msg.type === "snapshot") applyJob(msg.job, true, msg.reset);
    else if (msg.type === "update") applyJob(msg.job, false, false);
    else if (msg.type === "list") msg.jobs.forEach((j) => applyJob(j, true, false, true));
    else if (msg.type === "error" && msg.subscribe && msg.subscribe !== "*") {
      for (const fn of this.listeners) fn(null, msg);
    }
  },
};

function setConn(on) {
  const el = $("#conn");
  el.textContent = on ? "live" : "offline";
  el.className = `conn ${on ? "on" : "off"}`;
}

// Merge a job map (full snapshot) or an update (status/progress) into the cache;
// listeners hear about it unless quiet (the "*" list only seeds the cache) -- but a job
// already shown that the "*" list has newer news of is heard all the same: a page that
// rendered a job from GET /jobs as running, and whose WebSocket list then brought its
// end (the event itself came before the subscription), would otherwise show it running
// for good (no later event comes for a finished job).
function applyJob(job, full, reset, quiet = false) {
  const prev = state.jobs.get(job.id);
  if (prev && !reset && (job.seq < prev.seq || (job.seq === prev.seq && !full))) return;
  const merged = { ...(prev || {}), ...job };
  state.jobs.set(job.id, merged);
  if (!quiet || (prev && job.seq > prev.seq)) for (const fn of live.listeners) fn(merged, null);
}

function onJob(fn) {
  live.listeners.add(fn);
  return () => live.listeners.delete(fn);
}

// --- progress bar ----------------------------------------------------------------------

function progressHTML(big) {
  return `<div class="prog${big ? " big" : ""}">
    <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><span></span></div>
    <div class="text"><span class="pct">0%</span><span class="count"></span><span class="rate"></span><span class="eta"></span></div>
    <div class="current"></div></div>`;
}

function setProgress(el, job) {
  if (!el) return;
  const p = job.progress || {};
  const pct = Math.max(0, Math.min(100, p.percent || 0));
  const bar = el.querySelector(".bar");
  if (bar.getAttribute("aria-valuenow") !== String(pct)) {
    bar.setAttribute("aria-valuenow", String(pct));
    bar.firstElementChild.style.width = `${pct}%`;
  }
  el.classList.toggle("done", job.status === "completed");
  el.classList.toggle("bad", job.status === "failed");
  el.classList.toggle("stopped", job.status === "cancelled");
  el.querySelector(".pct").textContent = `${pct.toFixed(pct % 1 ? 1 : 0)}%`;
  el.querySelector(".count").textContent = p.total ? `${p.processed}/${p.total}` +
    (p.failed ? ` · ${p.failed} failed` : "") : "";
  el.querySelector(".rate").textContent = p.rate ? `${fmtRate(p.rate)}/s` : "";
  el.querySelector(".eta").textContent = job.status === "running" && p.eta_seconds !== null &&
    p.eta_seconds !== undefined ? `ETA ${fmtDuration(p.eta_seconds)}` : "";
  const current = job.status === "running" ? p.current || "" : "";
  const cur = el.querySelector(".current");
  cur.textContent = current;
  cur.title = current;
}

// --- router ------------------------------------------------------------------------------

function route() {
  if (state.view && state.view.teardown) state.view.teardown();
  notice("");
  const hash = location.hash || "#/";
  const m = hash.match(/^#\/jobs\/([^/?]+)/);
  if (hash.startsWith("#/workers")) state.view = workers.page($("#view"), api, notice);
  else state.view = m ? jobPage(decodeURIComponent(m[1])) : jobsPage();
}

window.addEventListener("hashchange", route);

async function loadKinds() {
  try {
    const data = await api("GET", "/api/v1/kinds");
    state.kinds = data.kinds;
    state.roots = data.roots || [];
  } catch (err) {
    if (err.status !== 401) notice(`Cannot load job kinds: ${err.message}`);
  }
}

const kindInfo = (name) => state.kinds.find((k) => k.name === name);

// Which Sonarr/Radarr webhook started each job (the gateway keeps it; null: none did).
async function loadSources(ids) {
  const missing = ids.filter((id) => !state.sources.has(id));
  if (!missing.length) return;
  try {
    const q = new URLSearchParams({ id: missing.join(",") });
    const data = await api("GET", `/api/v1/webhooks/jobs?${q}`);
    for (const id of missing) state.sources.set(id, data.sources[id] || null);
  } catch (_) { /* an older gateway: no marks */ }
}

// --- jobs page ---------------------------------------------------------------------------

function jobsPage() {
  const view = $("#view");
  const list = { status: "", kind: "", limit: 50, offset: 0, total: 0, ids: [] };
  view.innerHTML = `
  <section class="card">
    <details id="start-box" open><summary>Start a job</summary>
      <form id="start-form" class="start" novalidate>
        <label>Kind <select name="kind" required></select></label>
        <label class="path-label">Path <input type="text" name="path" list="roots" autocomplete="off"
          placeholder="/music/library"></label>
        <datalist id="roots"></datalist>
        <div id="kind-fields" class="kind-fields"></div>
        <label class="wide">More options <textarea name="extra"
          placeholder="key=value, one per line (e.g. pattern=*.flac)"></textarea></label>
        <label>Priority <select name="priority">
          <option>normal</option><option>high</option><option>low</option><option>webhook</option></select></label>
        <label class="check"><input type="checkbox" name="dry_run"> Dry run (plan only, change nothing)</label>
        <div class="wide actions"><button type="submit" class="primary">Start</button>
          <p id="start-error" class="form-error" role="alert"></p></div>
      </form>
    </details>
  </section>
  <section class="card">
    <div class="toolbar">
      <h2>Jobs</h2>
      <select id="f-status" aria-label="status filter"><option value="">all statuses</option>
        <option>queued</option><option>running</option><option>completed</option>
        <option>failed</option><option>cancelled</option></select>
      <select id="f-kind" aria-label="kind filter"><option value="">all kinds</option></select>
      <span class="spacer"></span>
      <div class="pager"><button id="prev" aria-label="previous page">‹</button>
        <span id="pageinfo">…</span><button id="next" aria-label="next page">›</button></div>
    </div>
    <ul id="job-list" class="jobs"></ul>
  </section>`;
  const form = $("#start-form");
  if (window.matchMedia("(max-width: 640px)").matches) $("#start-box").open = false;
  let refreshTimer = null;

  function fillKinds() {
    const sel = form.elements.kind;
    const current = sel.value;
    sel.innerHTML = state.kinds.map((k) => `<option value="${esc(k.name)}">${esc(k.name)}</option>`).join("");
    if (current && kindInfo(current)) sel.value = current;
    else if (kindInfo("scan")) sel.value = "scan";
    $("#f-kind").innerHTML = `<option value="">all kinds</option>` +
      state.kinds.map((k) => `<option>${esc(k.name)}</option>`).join("");
    $("#roots").innerHTML = state.roots.map((r) => `<option value="${esc(r)}">`).join("");
    if (state.roots.length) form.elements.path.placeholder = state.roots[0];
    kindFields();
  }

  function kindFields() {
    const kind = kindInfo(form.elements.kind.value);
    const box = $("#kind-fields");
    form.querySelector(".path-label").hidden = kind ? !kind.needs_paths : false;
    if (!kind) { box.innerHTML = ""; return; }
    box.innerHTML = Object.entries(kind.params).map(([name, p]) => {
      const types = p.types || [];
      const title = esc(p.help || "");
      const key = `opt.${esc(name)}`;
      if (types.includes("boolean")) {
        return `<label class="check" title="${title}"><input type="checkbox" name="${key}"
          ${p.default ? "checked" : ""}> ${esc(name)}</label>`;
      }
      const isNum = types.includes("integer") || types.includes("number");
      const value = Array.isArray(p.default) ? p.default.join(",") : p.default ?? "";
      return `<label title="${title}">${esc(name)}${p.required ? " *" : ""}
        <input type="${isNum ? "number" : "text"}" name="${key}" value="${esc(value)}"
        ${isNum ? 'step="any"' : ""} placeholder="${types.includes("array") ? "comma,separated" : ""}">
        <span class="help">${esc(p.help || "")}</span></label>`;
    }).join("");
  }

  function parseValue(text, p) {
    const types = (p && p.types) || [];
    if (types.includes("array")) return text.split(",").map((s) => s.trim()).filter(Boolean);
    if (types.includes("integer") && /^-?\d+$/.test(text)) return parseInt(text, 10);
    if (types.includes("number") && text !== "" && !isNaN(Number(text))) return Number(text);
    if (types.includes("boolean")) return /^(1|true|yes|on)$/i.test(text);
    if (!p) { try { return JSON.parse(text); } catch (_) { return text; } }
    return text;
  }

  function collect() {
    const kind = kindInfo(form.elements.kind.value);
    const options = {};
    if (kind) {
      for (const [name, p] of Object.entries(kind.params)) {
        const input = form.elements[`opt.${name}`];
        if (!input) continue;
        const def = Array.isArray(p.default) ? p.default.join(",") : p.default;
        if (input.type === "checkbox") {
          if (input.checked !== Boolean(p.default)) options[name] = input.checked;
        } else if (input.value !== "" && input.value !== String(def ?? "")) {
          options[name] = parseValue(input.value.trim(), p);
        }
      }
    }
    for (const line of form.elements.extra.value.split("\n")) {
      const text = line.trim();
      if (!text) continue;
      const at = text.indexOf("=");
      if (at < 1) throw new ApiError(400, { error: { message: `"${text}" is not key=value`, details: { field: "extra" } } });
      const key = text.slice(0, at).trim();
      options[key] = parseValue(text.slice(at + 1).trim(), kind && kind.params[key]);
    }
    const body = { kind: form.elements.kind.value, options,
      priority: form.elements.priority.value, dry_run: form.elements.dry_run.checked };
    const path = form.elements.path.value.trim();
    if (path && (!kind || kind.needs_paths)) body.paths = [path];
    return body;
  }

  form.elements.kind.addEventListener("change", kindFields);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    $("#start-error").textContent = "";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const data = await api("POST", "/api/v1/jobs", collect());
      applyJob(data.job, true, false);
      location.hash = `#/jobs/${encodeURIComponent(data.id)}`;
    } catch (err) {
      $("#start-error").textContent = err.message;
      const name = err.field === "paths" ? "path" : err.field.replace(/^options\./, "opt.");
      const input = form.elements[name] || (err.field.startsWith("options.") && form.elements.extra);
      if (input && input.classList) input.classList.add("invalid");
    } finally {
      button.disabled = false;
    }
  });

  function rowHTML(job) {
    const path = (job.paths || []).join(", ");
    return `<li data-id="${esc(job.id)}">
      <a class="job-main" href="#/jobs/${encodeURIComponent(job.id)}">
        <span class="kind">${esc(job.kind)}</span>${media.sourceBadge(state.sources.get(job.id))}
        <span class="badge s-${esc(job.status)}">${esc(job.status)}</span>
        ${job.dry_run ? '<span class="dry">dry run</span>' : ""}
        <span class="path" title="${esc(path)}">${esc(path)}</span>
        <span class="id">${esc(shortId(job.id))}</span></a>
      ${progressHTML(false)}</li>`;
  }

  function updateRow(li, job) {
    const badge = li.querySelector(".badge");
    badge.textContent = job.status;
    badge.className = `badge s-${job.status}`;
    setProgress(li.querySelector(".prog"), job);
  }

  async function load() {
    const q = new URLSearchParams({ limit: list.limit, offset: list.offset });
    if (list.status) q.set("status", list.status);
    if (list.kind) q.set("kind", list.kind);
    try {
      const data = await api("GET", `/api/v1/jobs?${q}`);
      list.total = data.total;
      list.ids = data.jobs.map((j) => j.id);
      data.jobs.forEach((j) => applyJob(j, true, false));
      const ul = $("#job-list");
      if (!ul) return;
      ul.innerHTML = data.jobs.length ? list.ids.map((id) => rowHTML(state.jobs.get(id))).join("")
        : `<li class="empty">No jobs${list.status || list.kind ? " match the filter" : " yet"}.</li>`;
      for (const li of ul.querySelectorAll("li[data-id]")) updateRow(li, state.jobs.get(li.dataset.id));
      loadSources(list.ids).then(markSources);
      const last = Math.min(list.offset + list.limit, list.total);
      $("#pageinfo").textContent = list.total ? `${list.offset + 1}–${last} of ${list.total}` : "0";
      $("#prev").disabled = list.offset === 0;
      $("#next").disabled = last >= list.total;
    } catch (err) {
      if (err.status !== 401) notice(`Cannot list jobs: ${err.message}`);
    }
  }

  function markSources() {
    for (const li of document.querySelectorAll("#job-list li[data-id]")) {
      const src = state.sources.get(li.dataset.id);
      if (src && !li.querySelector(".source")) {
        li.querySelector(".kind").insertAdjacentHTML("afterend", media.sourceBadge(src));
      }
    }
  }

  function scheduleReload() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = null; load(); }, 700);
  }

  const off = onJob((job) => {
    if (!job) return;
    const li = document.querySelector(`#job-list li[data-id="${CSS.escape(job.id)}"]`);
    if (li) {
      updateRow(li, job);
      if (list.status && list.status !== job.status) scheduleReload();
    } else if (list.offset === 0 && (!list.status || list.status === job.status) &&
               (!list.kind || list.kind === job.kind) && !list.ids.includes(job.id)) {
      scheduleReload(); // a new job (or one that now matches the filter) belongs on page 1
    }
  });

  $("#f-status").addEventListener("change", (ev) => { list.status = ev.target.value; list.offset = 0; load(); });
  $("#f-kind").addEventListener("change", (ev) => { list.kind = ev.target.value; list.offset = 0; load(); });
  $("#prev").addEventListener("click", () => { list.offset = Math.max(0, list.offset - list.limit); load(); });
  $("#next").addEventListener("click", () => { list.offset += list.limit; load(); });

  (state.kinds.length ? Promise.resolve() : loadKinds()).then(fillKinds);
  load();
  live.subscribe("*");
  return { teardown() { off(); clearTimeout(refreshTimer); live.unsubscribe("*"); } };
}

// --- job page ----------------------------------------------------------------------------

function jobPage(id) {
  const view = $("#view");
  const results = { status: "", limit: 50, offset: 0, loadedAt: 0, timer: null };
  const plan = { status: "", limit: 50, offset: 0 };
  let job = state.jobs.get(id) || null;
  let lastStatus = job ? job.status : "";
  view.innerHTML = `
  <section class="card">
    <a href="#/">← Jobs</a>
    <h1><span class="kind" id="job-kind">…</span>
      <span id="job-source"></span>
      <span class="badge" id="job-status">loading</span><span class="dry" id="job-dry" hidden>dry run</span></h1>
    <div class="mono muted" id="job-id">${esc(id)}</div>
    <p class="muted" id="job-retry-of" hidden>retry of <a class="mono" id="job-retry-of-link"></a></p>
    <dl class="meta" id="job-meta"></dl>
    <div id="job-progress">${progressHTML(true)}</div>
    <p id="job-error" class="error" hidden></p>
    <div class="actions">
      <button id="btn-cancel" class="danger" hidden>Cancel</button>
      <button id="btn-rollback" hidden>Roll back</button>
      <button id="btn-retry" hidden title="a new job over only the failed items">Retry failed items</button>
      <button id="btn-clear" hidden>Clear</button>
    </div>
  </section>
  <section class="card" id="plan-card" hidden>
    <div class="toolbar"><h2>Plan <small class="muted" id="plan-count"></small></h2>
      <select id="plan-filter" aria-label="plan filter"><option value="">all operations</option>
        <option value="conflict">conflicts</option></select>
      <span class="spacer"></span>
      <div class="pager"><button id="plan-prev" aria-label="previous page">‹</button>
        <span id="plan-page"></span><button id="plan-next" aria-label="next page">›</button></div></div>
    <div class="table-wrap"><table id="plan-table"><thead>${PLAN_HEAD}</thead><tbody></tbody></table></div>
  </section>
  <section class="card" id="results-card">
    <div class="toolbar"><h2>Results <small class="muted" id="results-count"></small></h2>
      <select id="results-filter" aria-label="result filter"><option value="">all items</option>
        <option value="${FAILED_ITEMS}">failed</option><option value="skipped,vanished">skipped</option>
        <option value="ok">ok</option></select>
      <button id="results-refresh">Refresh</button>
      <span class="spacer"></span>
      <div class="pager"><button id="results-prev" aria-label="previous page">‹</button>
        <span id="results-page"></span><button id="results-next" aria-label="next page">›</button></div></div>
    <div class="table-wrap"><table id="results-table"><thead><tr><th>#</th><th>file</th><th>status</th>
      <th>message</th><th class="num">ms</th></tr></thead><tbody></tbody></table></div>
  </section>`;

  // Paths under the job's (single) path are shown relative to it, the job's own file by its
  // name; the title has the full path.
  function relative(path) {
    const one = job && job.paths && job.paths.length === 1 ? job.paths[0].replace(/\/+$/, "") : "";
    if (one && path === one) return path.slice(path.lastIndexOf("/") + 1);
    return one && path.startsWith(one + "/") ? path.slice(one.length + 1) : path;
  }

  function render() {
    if (!job) return;
    const kind = kindInfo(job.kind);
    $("#job-kind").textContent = job.kind;
    if (job.kind === "match") catalog.filterOptions($("#results-filter"));
    const src = state.sources.get(id);
    $("#job-source").innerHTML = media.sourceBadge(src);
    const badge = $("#job-status");
    badge.textContent = job.cancel_requested && !TERMINAL.has(job.status) ? "cancelling" : job.status;
    badge.className = `badge s-${job.status}`;
    $("#job-dry").hidden = !job.dry_run;
    const params = Object.entries(job.params || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("  ");
    $("#job-meta").innerHTML = [
      ["paths", (job.paths || []).join("\n") || "–"], ["options", params || "–"],
      ...(job.status === "queued" && job.waiting ? [["waiting", job.waiting]] : []),
      ...(src ? [["started by", `${media.sourceText(src)} webhook${src.instance ? ` (${src.instance})` : ""}` +
        (src.title ? `: ${src.title}` : "")]] : []),
      ["priority", job.priority], ["attempts", `${job.attempts ?? 0} of ${job.max_attempts ?? "?"}`],
      ["created", fmtTime(job.created)], ["started", fmtTime(job.started)],
      ["finished", fmtTime(job.finished)],
      ["took", job.finished && job.started ? fmtDuration(job.finished - job.started) : "–"],
    ].filter(([, v]) => v !== undefined).map(([k, v]) => `<dt>${k}</dt><dd>${esc(v)}</dd>`).join("");
    setProgress($("#job-progress .prog"), job);
    const err = $("#job-error");
    err.hidden = !job.error;
    err.textContent = job.error ? `${job.error.code}: ${job.error.message}` : "";
    const done = TERMINAL.has(job.status);
    const changes = (job.kind === "match" ? catalog.changesFiles(job) : kind && kind.changes_files) ||
      job.planned;
    $("#btn-cancel").hidden = done;
    $("#btn-cancel").disabled = Boolean(job.cancel_requested);
    $("#btn-rollback").hidden = !(done && changes && !job.dry_run && job.kind !== "rollback");
    $("#btn-retry").hidden = !(done && job.progress && job.progress.failed > 0);
    const retryOf = $("#job-retry-of");
    retryOf.hidden = !job.retry_of;
    if (job.retry_of) {
      const link = $("#job-retry-of-link");
      link.textContent = job.retry_of;
      link.href = `#/jobs/${encodeURIComponent(job.retry_of)}`;
    }
    $("#btn-clear").hidden = !done;
    $("#plan-card").hidden = !(job.planned || job.dry_run || changes);
  }

  async function loadResults() {
    results.loadedAt = Date.now();
    const mine = (results.asked = (results.asked || 0) + 1);
    const q = new URLSearchParams({ limit: results.limit, offset: results.offset });
    if (results.status) q.set("status", results.status);
    try {
      const data = await api("GET", `/api/v1/jobs/${encodeURIComponent(id)}/results?${q}`);
      const body = $("#results-table tbody");
      // answers can come back out of order (a slow one asked while the job ran): only
      // the last one asked is shown, never an older page over a newer one
      if (!body || mine !== results.asked) return;
      const probe = job && job.kind === "probe";
      body.innerHTML = data.items.length ? data.items.map((r) => {
        if (probe) return media.probeRows(r, relative(r.path));
        if (job && job.kind === "match") return catalog.matchRows(r, relative(r.path));
        const dst = r.details && (r.details.new_path || r.details.dst);
        return `<tr class="st-${esc(r.status)}"><td class="num">${r.i + 1}</td>
          <td class="file" title="${esc(r.path)}">${esc(relative(r.path))}${dst ? `<span class="arrow">→</span>${esc(relative(dst))}` : ""}</td>
          <td class="st">${esc(r.status)}</td><td>${esc(r.message)}</td>
          <td class="num">${Math.round(r.duration_ms)}</td></tr>`;
      }).join("") : `<tr><td colspan="5" class="empty">No item results${results.status ? " with this status" : " yet"}.</td></tr>`;
      $("#results-count").textContent = `${data.total} item${data.total === 1 ? "" : "s"}`;
      const last = Math.min(results.offset + results.limit, data.total);
      $("#results-page").textContent = data.total ? `${results.offset + 1}–${last} of ${data.total}` : "";
      $("#results-prev").disabled = results.offset === 0;
      $("#results-next").disabled = last >= data.total;
    } catch (err) {
      if (err.status !== 401) notice(`Cannot load results: ${err.message}`);
    }
  }

  async function loadPlan() {
    if ($("#plan-card").hidden) return;
    const mine = (plan.asked = (plan.asked || 0) + 1);
    const q = new URLSearchParams({ limit: plan.limit, offset: plan.offset });
    if (plan.status) q.set("status", plan.status);
    try {
      const data = await api("GET", `/api/v1/jobs/${encodeURIComponent(id)}/plan?${q}`);
      const body = $("#plan-table tbody");
      if (!body || mine !== plan.asked) return; // an older answer than one already asked
      const audio = (job && job.kind === "audio-default") || data.ops.some((op) => op.op === "audio-default");
      $("#plan-table thead").innerHTML = audio ? media.AUDIO_PLAN_HEAD : PLAN_HEAD;
      body.innerHTML = data.ops.length ? data.ops.map((op) => {
        if (audio) return media.audioPlanRow(op, relative(op.src));
        const conflict = op.status === "conflict" || (op.details && op.details.conflict);
        return `<tr class="${conflict ? "conflict" : ""}"><td class="num">${op.i + 1}</td>
          <td>${esc(op.op)}</td>
          <td class="file" title="${esc(op.src)} → ${esc(op.dst)}">${esc(relative(op.src))}<span class="arrow">→</span>${esc(relative(op.dst))}</td>
          <td class="st">${conflict ? "⚠ " : ""}${esc(op.status)}</td><td>${esc(op.message)}</td></tr>`;
      }).join("") : `<tr><td colspan="${audio ? 6 : 5}" class="empty">${data.complete ? "The plan has no operations." : "No plan yet."}</td></tr>`;
      $("#plan-count").textContent = `${data.total} operation${data.total === 1 ? "" : "s"}${data.complete ? "" : " so far"}`;
      const last = Math.min(plan.offset + plan.limit, data.total);
      $("#plan-page").textContent = data.total ? `${plan.offset + 1}–${last} of ${data.total}` : "";
      $("#plan-prev").disabled = plan.offset === 0;
      $("#plan-next").disabled = last >= data.total;
    } catch (err) {
      if (err.status !== 401) notice(`Cannot load the plan: ${err.message}`);
    }
  }

  // Results are stored at the broker: reload them on open, on cancel, at the end, and
  // while running at most every 2 s (driven by pushed progress, never a timer per page).
  function maybeReloadResults() {
    if (results.timer) return;
    const wait = Math.max(0, 2000 - (Date.now() - results.loadedAt));
    results.timer = setTimeout(() => { results.timer = null; loadResults(); }, wait);
  }

  const off = onJob((update, error) => {
    if (error) { notice(error.message); return; }
    if (update.id !== id) return;
    job = update;
    render();
    if (TERMINAL.has(job.status) && !TERMINAL.has(lastStatus)) {
      // updates carry status and progress; the job map has finished, result, error
      api("GET", `/api/v1/jobs/${encodeURIComponent(id)}`).then((j) => applyJob(j, true, false),
        () => {});
      loadResults();
      loadPlan();
    } else if (job.status === "running") {
      maybeReloadResults();
    }
    lastStatus = job.status;
  });

  $("#btn-cancel").addEventListener("click", async () => {
    $("#btn-cancel").disabled = true;
    try {
      const data = await api("POST", `/api/v1/jobs/${encodeURIComponent(id)}/cancel`);
      applyJob(data.job, true, false);
      loadResults(); // the partial results, at once
    } catch (err) {
      notice(err.message);
      $("#btn-cancel").disabled = false;
    }
  });
  $("#btn-rollback").addEventListener("click", async () => {
    if (!confirm("Undo this job's changes to the files?")) return;
    try {
      const data = await api("POST", `/api/v1/jobs/${encodeURIComponent(id)}/rollback`);
      applyJob(data.job, true, false);
      location.hash = `#/jobs/${encodeURIComponent(data.id)}`;
    } catch (err) { notice(err.message); }
  });
  $("#btn-retry").addEventListener("click", async () => {
    $("#btn-retry").disabled = true;
    try {
      const data = await api("POST", `/api/v1/jobs/${encodeURIComponent(id)}/retry`);
      applyJob(data.job, true, false);
      location.hash = `#/jobs/${encodeURIComponent(data.id)}`;
    } catch (err) { notice(err.message); }
    $("#btn-retry").disabled = false;
  });
  $("#btn-clear").addEventListener("click", async () => {
    if (!confirm("Delete this job and its results?")) return;
    try {
      await api("DELETE", `/api/v1/jobs/${encodeURIComponent(id)}`);
      state.jobs.delete(id);
      location.hash = "#/";
    } catch (err) { notice(err.message); }
  });
  $("#results-filter").addEventListener("change", (ev) => { results.status = ev.target.value; results.offset = 0; loadResults(); });
  $("#results-refresh").addEventListener("click", loadResults);
  $("#results-prev").addEventListener("click", () => { results.offset = Math.max(0, results.offset - results.limit); loadResults(); });
  $("#results-next").addEventListener("click", () => { results.offset += results.limit; loadResults(); });
  $("#plan-filter").addEventListener("change", (ev) => { plan.status = ev.target.value; plan.offset = 0; loadPlan(); });
  $("#plan-prev").addEventListener("click", () => { plan.offset = Math.max(0, plan.offset - plan.limit); loadPlan(); });
  $("#plan-next").addEventListener("click", () => { plan.offset += plan.limit; loadPlan(); });

  render();
  (async () => {
    if (!state.kinds.length) await loadKinds();
    try {
      const fresh = await api("GET", `/api/v1/jobs/${encodeURIComponent(id)}`);
      applyJob(fresh, true, false);
      job = state.jobs.get(id);
      lastStatus = job.status;
      await loadSources([id]);
      render();
    } catch (err) {
      if (err.status === 404) {
        view.innerHTML = `<section class="card"><a href="#/">← Jobs</a><p class="error">No job ${esc(id)}.</p></section>`;
        return;
      }
      notice(err.message);
    }
    live.subscribe(id);
    loadResults();
    loadPlan();
  })();
  return { teardown() { off(); clearTimeout(results.timer); live.unsubscribe(id); } };
}

live.connect();
route();
