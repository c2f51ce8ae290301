// Watching jobs: the Clone pattern of SPEC.md 7.3 as an async iterator.
//
// Subscribe first, then take the STATUS snapshot; drop every EVENT whose seq is not newer
// than the last applied; apply one that is exactly the next; on a gap take STATUS again.
// Events are lossy, so a quiet SUB socket is checked with STATUS every resyncMs, and a job's
// end is read from STATUS (result, error and counters travel on the reliable channel).

import * as zmq from "zeromq";

import { decode, topic } from "./codec.js";
import { ClientError } from "./errors.js";
import { EVENT_PROGRESS_ZERO, JOB_ERROR, PROGRESS } from "./shapes.js";
import { explain, NIL, union, unwrapFloats } from "./values.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const ERROR_OR_NIL = union(JOB_ERROR, NIL);

/** The EVENT on frames, its progress completed with zero values; null if it breaks the rules. */
function eventOf(frames) {
  let ev;
  try {
    ev = decode(frames, "event", { exact: true });
  } catch {
    return null;
  }
  if (ev.cmd !== "EVENT") return null;
  ev.progress = { ...EVENT_PROGRESS_ZERO, ...ev.progress };
  for (const [name, check] of [["progress", PROGRESS], ["error", ERROR_OR_NIL]]) {
    const found = check.problem(ev[name]);
    if (found) {
      ev.problem = explain(found, name).join(": ");
      return ev;
    }
  }
  return unwrapFloats(ev);
}

/** The job map after an EVENT: status, attempts, progress, error, seq, kind and updated. */
export function mergeEvent(job, ev) {
  const out = { ...job, status: ev.status, attempts: ev.attempts, progress: ev.progress, error: ev.error,
    seq: ev.seq };
  if (ev.kind) out.kind = ev.kind;
  if (ev.ts > 0) out.updated = ev.ts;
  if (out.id === undefined) out.id = ev.job;
  return out;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * Yield job maps as they change: of one job (until it ends, unless untilDone is false) or,
 * with jobId null, of every job.  The first map of a one-job watch is its STATUS snapshot;
 * the last one of a job is the STATUS taken when its terminal EVENT arrived.
 */
export async function* watch(client, jobId = null, options = {}) {
  for (const k of Object.keys(options)) {
    if (!["untilDone", "resyncMs", "settleMs"].includes(k)) {
      throw new TypeError(`watch(): unknown option ${JSON.stringify(k)}`);
    }
  }
  const { untilDone = true, resyncMs = 2000, settleMs = 50 } = options;
  const sub = client.makeSocket(zmq.Subscriber, { receiveHighWaterMark: 100_000, receiveTimeout: resyncMs });
  sub.connect(client.events);
  sub.subscribe(jobId ? topic(jobId) : "job/");
  // job id -> the last job map yielded; a finished job keeps only { seq, ended: true }
  const seen = new Map();
  const remember = (job) => {
    seen.set(job.id, TERMINAL.has(job.status) && !jobId ? { seq: job.seq, ended: true } : job);
    return job;
  };
  try {
    await sleep(settleMs); // let the subscription reach the broker before the snapshot
    if (jobId) {
      const snap = remember(await client.status(jobId));
      yield snap;
      if (untilDone && TERMINAL.has(snap.status)) return;
    }
    for (;;) {
      let frames;
      try {
        frames = await sub.receive();
      } catch (err) {
        if (err.code !== "EAGAIN") throw err;
        if (jobId) { // quiet: check on the reliable channel, the events may have been lost
          const snap = await client.status(jobId);
          if (snap.seq > seen.get(jobId).seq) {
            yield remember(snap);
            if (untilDone && TERMINAL.has(snap.status)) return;
          }
        }
        continue;
      }
      const ev = eventOf(frames);
      if (ev === null || ev.problem) {
        client.dropped += 1;
        client.warn(`dropped an event that breaks the protocol${ev ? `: ${ev.problem}` : ""}`);
        continue;
      }
      if (jobId && ev.job !== jobId) continue;
      const last = seen.get(ev.job);
      if (last !== undefined && ev.seq <= last.seq) continue;
      let job;
      if (last === undefined || last.ended || ev.seq > last.seq + 1 || TERMINAL.has(ev.status)) {
        try {
          job = await client.status(ev.job);
        } catch (err) {
          if (err instanceof ClientError && err.code === "job.not_found") continue; // cleared since
          throw err;
        }
        if (job.seq < ev.seq) job = mergeEvent(job, ev);
      } else {
        job = mergeEvent(last, ev);
      }
      yield remember(job);
      if (jobId && untilDone && TERMINAL.has(job.status)) return;
    }
  } finally {
    sub.close();
  }
}
