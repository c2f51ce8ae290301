// The shape of each REPLY's data (SPEC.md 4.14, 5.1, 5.4, 8): every key this client hands on
// is type-checked before a caller sees it.  Keys it does not know are ignored (new keys may be
// added to reply data and job maps); the documented ones are required unless marked optional.

import {
  anyMap, anyValue, BOOL, FLOAT, listOf, NIL, STR, typeName, UINT, union,
} from "./values.js";

const OPTIONAL = Symbol("optional");

/** An optional key of a record: absent is fine, present must pass check. */
function optional(check) {
  return { [OPTIONAL]: true, check };
}

function isPlainMap(x) {
  return typeof x === "object" && x !== null && Object.getPrototypeOf(x) === Object.prototype;
}

/** A map with the given keys (each checked), other keys ignored. */
export function record(label, keys) {
  return Object.freeze({
    label,
    problem(x) {
      if (!isPlainMap(x)) return [`must be ${label}, not ${typeName(x)}`, []];
      for (const [k, spec] of Object.entries(keys)) {
        const isOptional = spec[OPTIONAL] === true;
        const check = isOptional ? spec.check : spec;
        if (!Object.hasOwn(x, k)) {
          if (isOptional) continue;
          return [`is missing (${label} needs ${k})`, [`.${k}`]];
        }
        const found = check.problem(x[k]);
        if (found) {
          found[1].push(`.${k}`);
          return found;
        }
      }
      return null;
    },
  });
}

/** A map from str keys to values that pass check (any keys). */
function mapOf(label, check) {
  return Object.freeze({
    label,
    problem(x) {
      if (!isPlainMap(x)) return [`must be ${label}, not ${typeName(x)}`, []];
      for (const [k, v] of Object.entries(x)) {
        const found = check.problem(v);
        if (found) {
          found[1].push(`.${k}`);
          return found;
        }
      }
      return null;
    },
  });
}

const MAP = anyMap(0);
const STRS = listOf(STR, 0);
const FLOAT_OR_NIL = union(FLOAT, NIL);

/** The job progress map (SPEC.md 5.1). */
export const PROGRESS = record("a job progress map", {
  total: UINT, processed: UINT, succeeded: UINT, skipped: UINT, failed: UINT, remaining: UINT,
  percent: FLOAT, rate: FLOAT, eta_seconds: FLOAT_OR_NIL, current: STR,
});

/** A job's error: {code, message}. */
export const JOB_ERROR = record("an error map", { code: STR, message: STR });

/** The job map (SPEC.md 5.1). */
export const JOB = record("a job map", {
  id: STR, kind: STR, paths: STRS, params: MAP, priority: STR, dry_run: BOOL, status: STR,
  attempts: UINT, max_attempts: UINT, created: FLOAT, started: FLOAT_OR_NIL, updated: FLOAT,
  finished: FLOAT_OR_NIL, error: union(JOB_ERROR, NIL), cancel_requested: BOOL, seq: UINT,
  result: MAP, planned: BOOL, progress: PROGRESS, retry_of: union(STR, NIL),
});

/** An item row (SPEC.md 5.1). */
export const ITEM = record("an item row", {
  i: UINT, path: STR, status: STR, message: STR, duration_ms: FLOAT, details: MAP,
});

/** A plan row (SPEC.md 8). */
export const PLAN_ROW = record("a plan row", {
  i: UINT, op: STR, src: STR, dst: STR, expect: MAP, status: STR, message: STR, details: MAP,
});

const PARAM = record("a parameter map", {
  name: STR, type: STR, description: STR, required: BOOL, default: optional(anyValue(0)),
  choices: optional(listOf(anyValue(0), 0)), min: optional(FLOAT), max: optional(FLOAT),
  check: optional(STR),
});

/** A kind spec (SPEC.md 5.4). */
export const SPEC = record("a kind spec", {
  name: STR, description: STR, params: listOf(PARAM, 0), needs_paths: BOOL, changes_files: BOOL,
  outcomes: mapOf("a map of str", STR), target_param: STR,
});

const WORKER = record("a worker map", { host: STR, pid: UINT, kinds: STRS, slots: UINT, running: UINT });
const JOB_DATA = record("{job}", { job: JOB });

/** Request word -> the check of its REPLY's data (SPEC.md 4.14). */
export const REPLY_DATA = Object.freeze({
  HELLO: record("HELLO data", {
    protocol: UINT, broker: STR, kinds: STRS, specs: mapOf("a map of kind specs", SPEC),
    limits: record("limits", { max_body_bytes: UINT, queue_max: UINT }), roots: STRS,
  }),
  PING: record("PING data", { now: FLOAT }),
  START: JOB_DATA,
  STATUS: JOB_DATA,
  WAIT: JOB_DATA,
  CANCEL: JOB_DATA,
  CLEAR: record("CLEAR data", { cleared: STR }),
  LIST: record("LIST data", { jobs: listOf(JOB, 0), total: UINT }),
  STATS: record("STATS data", {
    counts: record("counts", { queued: UINT, running: UINT, completed: UINT, failed: UINT, cancelled: UINT }),
    total: UINT, items_processed: UINT, items_succeeded: UINT, items_failed: UINT,
    success_rate: FLOAT_OR_NIL, mean_duration_s: FLOAT_OR_NIL, at: FLOAT, workers: listOf(WORKER, 0),
    queued_now: UINT, broker: optional(mapOf("a map of uint", UINT)),
  }),
  RESULTS: record("RESULTS data", { items: listOf(ITEM, 0), total: UINT }),
  PLAN: record("PLAN data", { ops: listOf(PLAN_ROW, 0), total: UINT, complete: BOOL }),
});

/** The EVENT body's progress: a missing key means its zero value (SPEC.md 7.2). */
export const EVENT_PROGRESS_ZERO = Object.freeze({
  total: 0, processed: 0, succeeded: 0, skipped: 0, failed: 0, remaining: 0, percent: 0,
  rate: 0, eta_seconds: null, current: "",
});
