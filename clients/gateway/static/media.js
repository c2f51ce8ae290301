// medialoom web UI, video views (issue 10, item 4): the probe kind's streams per file, the
// audio-default plan as file / tracks / default before -> after, and the mark of jobs a
// Sonarr or Radarr webhook started.  Plain functions returning HTML; app.js calls them.
"use strict";

const media = (() => {
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const APPS = { sonarr: "Sonarr", radarr: "Radarr" };

  function fmtBytes(n) {
    if (n === null || n === undefined || !isFinite(n)) return "";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
  }

  function fmtSeconds(s) {
    if (s === null || s === undefined || !isFinite(s)) return "";
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const two = (x) => String(x).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
  }

  // --- probe: one streams table per file ---------------------------------------------

  function streamShape(s) {
    if (s.type === "video" && s.width && s.height) return `${s.width}×${s.height}`;
    if (s.type === "audio" && s.channels) return `${s.channels} ch`;
    return "";
  }

  function flags(s) {
    return [s.default ? '<span class="flag on" title="default">default</span>' : "",
      s.forced ? '<span class="flag" title="forced">forced</span>' : ""].join(" ");
  }

  // The line under a probe item: container, duration, size, bit rate.
  function probeSummary(d) {
    const parts = [d.container ? d.container.split(",")[0] : "",
      fmtSeconds(d.duration_s), fmtBytes(d.size_bytes),
      d.bit_rate ? `${Math.round(d.bit_rate / 1000)} kb/s` : ""].filter(Boolean);
    return parts.join(" · ");
  }

  // The streams of one probed file as a table (index, type, codec, language, title, ...).
  function streamsTable(d) {
    const streams = (d && d.streams) || [];
    if (!streams.length) return '<p class="muted">no streams</p>';
    const rows = streams.map((s) => `<tr class="stream t-${esc(s.type)}">
      <td class="num">${esc(s.index)}</td><td>${esc(s.type)}</td><td>${esc(s.codec)}</td>
      <td class="lang">${esc(s.language || "und")}</td><td>${esc(s.title)}</td>
      <td>${esc(streamShape(s))}</td><td>${flags(s)}</td></tr>`).join("");
    return `<table class="streams"><thead><tr><th class="num">#</th><th>type</th><th>codec</th>
      <th>language</th><th>title</th><th>size</th><th>flags</th></tr></thead>
      <tbody>${rows}</tbody></table>`;
  }

  // A results-table row for a probe item, plus its streams table under it.
  function probeRows(item, shown) {
    const d = item.details || {};
    const hasStreams = Array.isArray(d.streams);
    const summary = hasStreams ? probeSummary(d) : "";
    return `<tr class="st-${esc(item.status)} probe-file"><td class="num">${item.i + 1}</td>
      <td class="file" title="${esc(item.path)}">${esc(shown)}</td>
      <td class="st">${esc(item.status)}</td>
      <td>${esc(summary || item.message)}</td>
      <td class="num">${Math.round(item.duration_ms)}</td></tr>` +
      (hasStreams ? `<tr class="streams-row"><td></td><td colspan="4">${streamsTable(d)}</td></tr>` : "");
  }

  // --- audio-default: file, tracks, default before -> after -------------------------

  function trackName(t) {
    const lang = t.language || "und";
    return t.stream !== null && t.stream !== undefined ? `${lang} (#${t.stream})` : lang;
  }

  function defaults(tracks, which) {
    const on = tracks.filter((t) => t[which]).map(trackName);
    return on.length ? on.join(", ") : "none";
  }

  function tracksCell(d) {
    if (!Array.isArray(d.tracks)) return '<span class="muted">–</span>'; // not read
    const tracks = d.tracks;
    if (!tracks.length) return '<span class="muted">no audio</span>';
    return `<ul class="tracks">${tracks.map((t) => {
      const bits = [t.codec, t.channels ? `${t.channels} ch` : "", t.title,
        t.commentary ? "commentary" : ""].filter(Boolean).join(" · ");
      const chosen = d.chosen && d.chosen === t.key;
      return `<li class="${chosen ? "chosen" : ""}" data-key="${esc(t.key)}">
        <span class="lang">${esc(trackName(t))}</span>
        ${bits ? `<span class="muted">${esc(bits)}</span>` : ""}</li>`;
    }).join("")}</ul>`;
  }

  const AUDIO_PLAN_HEAD = `<tr><th>#</th><th>file</th><th>audio tracks</th>
    <th>default before → after</th><th>status</th><th>message</th></tr>`;

  // A plan-table row of an audio-default job.
  function audioPlanRow(op, shown) {
    const d = op.details || {};
    const tracks = d.tracks || [];
    const before = defaults(tracks, "default_before"), after = defaults(tracks, "default_after");
    const changes = tracks.length && before !== after;
    const wanted = (d.wanted || []).join(", ");
    const from = { job: "given to the job", file: "tagged in the file" }[d.original_from] || d.original_from;
    const original = d.original_language ?
      `original ${d.original_language}${from ? ` (${from})` : ""}` : "";
    return `<tr class="audio-op st-${esc(op.status)}${op.status === "conflict" ? " conflict" : ""}">
      <td class="num">${op.i + 1}</td>
      <td class="file" title="${esc(op.src)}">${esc(shown)}</td>
      <td>${tracksCell(d)}</td>
      <td class="defaults"><span class="before">${esc(tracks.length ? before : "–")}</span><span class="arrow">→</span>
        <span class="after${changes ? " changed" : ""}">${esc(tracks.length ? after : "–")}</span>
        ${wanted || original ? `<div class="help">${esc([wanted && `wanted ${wanted}`, original].filter(Boolean).join("; "))}</div>` : ""}</td>
      <td class="st">${op.status === "conflict" ? "⚠ " : ""}${esc(op.status)}</td>
      <td>${esc(op.message)}</td></tr>`;
  }

  // --- webhook jobs: which app and event started them --------------------------------

  function sourceText(src) {
    return `${APPS[src.app] || src.app} · ${src.shape || src.event}`;
  }

  function sourceBadge(src) {
    if (!src) return "";
    const title = [src.instance && `instance ${src.instance}`, src.title,
      src.event !== src.shape ? `eventType ${src.event}` : ""].filter(Boolean).join(" · ");
    return `<span class="source src-${esc(src.app)}" title="${esc(title)}">${esc(sourceText(src))}</span>`;
  }

  return { probeRows, streamsTable, audioPlanRow, AUDIO_PLAN_HEAD, sourceBadge, sourceText };
})();
