// The commands of protocol version 1 per channel (SPEC.md sections 2, 4, 6, 7): for each wire
// word its fields in wire order, with their check, whether they are required and their default.

import { Float } from "./msgpack.js";
import {
  anyArray, anyMap, anyValue, BOOL, FLOAT, listOf, STR, UINT,
} from "./values.js";

const STRS = listOf(STR);
const MAPS = listOf(anyMap(3));
const ARRAYS = listOf(anyArray(3));
const MAP = anyMap(2);
const ANY = anyValue(2);

// [name, check, required, default factory]
const req = (name, chk) => [name, chk, true, null];
const opt = (name, chk, make) => [name, chk, false, make];
const emptyList = () => [];
const emptyMap = () => ({});
const value = (v) => () => v;
const float0 = () => new Float(0);

const RID = req("rid", UINT);
const JOB = req("job", STR);
const ATTEMPT = req("attempt", UINT);
const PROGRESS = opt("progress", MAP, emptyMap);
const N = opt("n", UINT, value(0));

const CLIENT = {
  HELLO: [RID, opt("client", STR, value("")), opt("batch", BOOL, value(false))],
  PING: [RID],
  START: [RID, req("kind", STR), opt("paths", STRS, emptyList), opt("params", MAP, emptyMap),
    opt("priority", STR, value("normal")), opt("dry_run", BOOL, value(false)),
    opt("allow_conflict", BOOL, value(false)), opt("max_attempts", UINT, value(0)),
    opt("retry_of", STR, value(""))],
  STATUS: [RID, JOB],
  WAIT: [RID, JOB],
  CANCEL: [RID, JOB],
  CLEAR: [RID, JOB],
  LIST: [RID, opt("status", STRS, emptyList), opt("kind", STRS, emptyList),
    opt("limit", UINT, value(50)), opt("offset", UINT, value(0)), opt("order", STR, value("-created"))],
  STATS: [RID],
  RESULTS: [RID, JOB, opt("status", STRS, emptyList), opt("limit", UINT, value(100)),
    opt("offset", UINT, value(0))],
  PLAN: [RID, JOB, opt("status", STRS, emptyList), opt("limit", UINT, value(100)),
    opt("offset", UINT, value(0))],
};

const REPLY = {
  REPLY: [RID, opt("data", MAP, emptyMap)],
  ERROR: [RID, req("code", STR), req("message", STR), opt("details", ANY, value(null))],
};

const WORKER = {
  READY: [req("kinds", STRS), req("slots", UINT), opt("host", STR, value("")), opt("pid", UINT, value(0)),
    opt("running", ARRAYS, emptyList), opt("specs", MAPS, emptyList),
    opt("path_map", ARRAYS, emptyList), opt("batch", BOOL, value(false))],
  HEARTBEAT: [],
  ACCEPT: [JOB, ATTEMPT],
  ITEMS: [JOB, ATTEMPT, req("items", MAPS), PROGRESS, N],
  DONE: [JOB, ATTEMPT, PROGRESS, opt("result", MAP, emptyMap), N],
  FAILED: [JOB, ATTEMPT, req("code", STR), req("message", STR), opt("retry", BOOL, value(false)),
    PROGRESS, N, opt("retry_after_s", FLOAT, float0)],
  CANCELLED: [JOB, ATTEMPT, PROGRESS, N],
  DISCONNECT: [opt("reason", STR, value("")), opt("code", STR, value(""))],
  PLAN: [JOB, ATTEMPT, req("ops", MAPS), opt("complete", BOOL, value(false)), N,
    opt("total", UINT, value(0))],
  FETCH: [RID, JOB, ATTEMPT, req("what", STR), req("source", STR), opt("offset", UINT, value(0)),
    opt("limit", UINT, value(1000)), opt("status", STRS, emptyList)],
  TOKEN: [RID, req("key", STR), req("rate", FLOAT)],
};

const BROKER = {
  DISPATCH: [JOB, ATTEMPT, req("kind", STR), opt("paths", STRS, emptyList), opt("params", MAP, emptyMap),
    opt("dry_run", BOOL, value(false)), opt("roots", STRS, emptyList), opt("has_plan", BOOL, value(false))],
  CANCEL: [JOB, ATTEMPT],
  HEARTBEAT: [],
  DISCONNECT: [opt("reason", STR, value("")), opt("code", STR, value(""))],
  PAGE: [RID, opt("rows", MAPS, emptyList), opt("total", UINT, value(0)), opt("error", ANY, value(null))],
  ACK: [req("acks", ARRAYS)],
  GRANT: [RID, opt("wait_s", FLOAT, float0), opt("error", ANY, value(null))],
};

const EVENT = {
  PROGRESS: [JOB, ATTEMPT, req("progress", MAP)],
  EVENT: [JOB, req("seq", UINT), req("status", STR), opt("kind", STR, value("")),
    opt("attempts", UINT, value(0)), PROGRESS, opt("error", ANY, value(null)), opt("ts", FLOAT, float0)],
};

/** channel -> { wire word -> fields }; a word means one command per channel and direction. */
export const CHANNELS = Object.freeze({
  client: CLIENT, reply: REPLY, worker: WORKER, broker: BROKER, event: EVENT,
});

/** Version tag frame of each channel (SPEC.md 2). */
export const TAGS = Object.freeze({
  client: "MLC1", reply: "MLC1", worker: "MLW1", broker: "MLW1", event: "MLE1",
});
