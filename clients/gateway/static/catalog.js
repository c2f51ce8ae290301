// medialoom web UI, catalog matching (issue 11, item 5): each track of a match job with its
// best match, score and candidates, and a filter by match status.  Plain functions returning
// HTML; app.js calls them for jobs of kind match.
"use strict";

const catalog = (() => {
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  // The results filter of a match job: by match status (values are RESULTS status lists).
  const FILTERS = [["", "all tracks"], ["matched,retagged,planned", "matched"],
    ["ambiguous", "ambiguous"], ["no_match", "no match"], ["skipped", "skipped"],
    ["catalog_error,failed,conflict", "errors"]];

  function filterOptions(select) {
    if (select.dataset.kind === "match") return;
    select.dataset.kind = "match";
    select.innerHTML = FILTERS.map(([v, label]) => `<option value="${esc(v)}">${esc(label)}</option>`).join("");
  }

  function score(s) {
    return typeof s === "number" ? s.toFixed(2) : "";
  }

  function year(date) {
    return String(date || "").slice(0, 4);
  }

  function mbLink(id, text) {
    if (!id) return esc(text);
    return `<a href="https://musicbrainz.org/recording/${encodeURIComponent(id)}" rel="noreferrer noopener" target="_blank">${esc(text)}</a>`;
  }

  // The candidates of a track as a small table (score, artist – title, release, year).
  function candidatesTable(d) {
    const list = Array.isArray(d.candidates) ? d.candidates : [];
    if (!list.length) return '<p class="muted">no candidates</p>';
    const rows = list.map((c) => `<tr class="${c.recording_id === d.recording_id ? "chosen" : ""}">
      <td class="num">${esc(score(c.score))}</td>
      <td>${mbLink(c.recording_id, `${c.artist} – ${c.title}`)}</td>
      <td>${esc(c.release)}</td><td>${esc(year(c.date))}</td></tr>`).join("");
    return `<table class="candidates"><thead><tr><th class="num">score</th><th>recording</th>
      <th>release</th><th>year</th></tr></thead><tbody>${rows}</tbody></table>`;
  }

  // The best match of a matched track in one line.
  function bestText(d) {
    const release = [d.release, year(d.date)].filter(Boolean).join(", ");
    return `${d.artist} – ${d.title}${release ? ` (${release})` : ""}`;
  }

  // A results-table row for a match item, with its candidates under it when it has some.
  function matchRows(item, shown) {
    const d = item.details || {};
    const q = d.query || {};
    const matched = Boolean(d.recording_id);
    const what = matched ? mbLink(d.recording_id, bestText(d)) : esc(item.message);
    const track = q.title ? `${q.artist} – ${q.title}` : shown;
    const closed = item.status === "matched" || item.status === "retagged";
    const extra = Array.isArray(d.candidates) && d.candidates.length && !closed;
    return `<tr class="st-${esc(item.status)} match-track"><td class="num">${item.i + 1}</td>
      <td class="file" title="${esc(item.path)}">${esc(track)}</td>
      <td class="st">${esc(item.status)}${d.score !== undefined ? ` <span class="score">${esc(score(d.score))}</span>` : ""}</td>
      <td>${what}${matched && item.status !== "matched" ? `<div class="help">${esc(item.message)}</div>` : ""}</td>
      <td class="num">${Math.round(item.duration_ms)}</td></tr>` +
      (extra ? `<tr class="candidates-row"><td></td><td colspan="4">${candidatesTable(d)}</td></tr>` : "");
  }

  // Whether a match job changes files: only with write_tags (then it plans and can be rolled
  // back); writing <name>.matched.xml creates a new file and changes none.
  function changesFiles(job) {
    return Boolean(job.params && job.params.write_tags);
  }

  return { filterOptions, matchRows, candidatesTable, changesFiles };
})();
