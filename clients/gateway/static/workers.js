// medialoom web UI, the workers panel (issue 12, item 4): every connected worker process with
// its host, pid, kinds, busy slots, the jobs it runs and its path mappings (library -> its
// host), from GET /api/v1/stats, refreshed every 2 s while shown.  app.js routes #/workers here.
"use strict";

const workers = (() => {
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const REFRESH_MS = 2000;

  function mappings(pairs) {
    if (!pairs || !pairs.length) return '<span class="muted">library paths as they are</span>';
    return pairs.map(([lib, local]) => `<div class="mono">${esc(lib)} → ${esc(local)}</div>`).join("");
  }

  function jobLinks(ids) {
    if (!ids || !ids.length) return '<span class="muted">–</span>';
    return ids.map((id) => `<a class="mono" href="#/jobs/${encodeURIComponent(id)}">${esc(id.slice(-8))}</a>`)
      .join(" ");
  }

  function rowHTML(w) {
    const full = w.running >= w.slots;
    return `<tr data-pid="${esc(w.pid)}" data-host="${esc(w.host)}">
      <td>${esc(w.host)}</td><td class="num">${esc(w.pid)}</td>
      <td class="num${full ? " busy" : ""}">${esc(w.running)}/${esc(w.slots)}</td>
      <td>${esc((w.kinds || []).join(", "))}</td><td>${jobLinks(w.jobs)}</td>
      <td>${mappings(w.path_map)}</td></tr>`;
  }

  // The page: api(method, path) is app.js's fetch wrapper, notice(text) its banner.
  function page(view, api, notice) {
    view.innerHTML = `
    <section class="card" id="workers-card">
      <div class="toolbar"><h2>Workers <small class="muted" id="workers-count"></small></h2>
        <span class="spacer"></span><button id="workers-refresh">Refresh</button></div>
      <p class="error" id="workers-waiting" hidden></p>
      <div class="table-wrap"><table id="workers-table"><thead><tr><th>host</th>
        <th class="num">pid</th><th class="num">running</th><th>kinds</th><th>jobs</th>
        <th>path map (library → host)</th></tr></thead><tbody></tbody></table></div>
    </section>`;
    let timer = null;
    let gone = false;

    async function load() {
      clearTimeout(timer);
      try {
        const stats = await api("GET", "/api/v1/stats");
        if (gone) return;
        const list = [...(stats.workers || [])].sort((a, b) =>
          a.host.localeCompare(b.host) || a.pid - b.pid);
        const body = view.querySelector("#workers-table tbody");
        body.innerHTML = list.length ? list.map(rowHTML).join("")
          : '<tr><td colspan="6" class="muted">No worker is connected.</td></tr>';
        const slots = list.reduce((n, w) => n + w.slots, 0);
        const busy = list.reduce((n, w) => n + w.running, 0);
        view.querySelector("#workers-count").textContent =
          `${list.length} process${list.length === 1 ? "" : "es"}, ${busy} of ${slots} slots busy`;
        const waiting = view.querySelector("#workers-waiting");
        waiting.hidden = !stats.waiting;
        const one = stats.waiting === 1;
        waiting.textContent = stats.waiting ? `${stats.waiting} queued job${one ? " waits" : "s wait"} ` +
          `for a worker that can reach ${one ? "its" : "their"} paths (the job's page says which path).` : "";
        notice("");
      } catch (err) {
        if (!gone && err.status !== 401) notice(`Cannot load the workers: ${err.message}`);
      }
      if (!gone) timer = setTimeout(load, REFRESH_MS);
    }

    view.querySelector("#workers-refresh").addEventListener("click", load);
    load();
    return { teardown() { gone = true; clearTimeout(timer); } };
  }

  return { page, mappings };
})();
