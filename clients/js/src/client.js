// The client channel (SPEC.md section 4) over one DEALER socket: pipelined requests matched to
// replies by rid, every reply checked (codec, then the shape of its data) before a caller sees it.

import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

import * as zmq from "zeromq";

import { curveFromFiles } from "./certs.js";
import { decode, encode, HARD_MAX_BYTES, MAX_BODY_BYTES, requestId } from "./codec.js";
import { BrokerUnavailable, ClientError, KeyFileError, MedialoomError, RemoteProtocolError } from "./errors.js";
import { REPLY_DATA } from "./shapes.js";
import { explain, unwrapFloats } from "./values.js";
import { watch } from "./watch.js";

export const VERSION = "0.1.0";
/** Job statuses after which nothing changes. */
export const TERMINAL = Object.freeze(new Set(["completed", "failed", "cancelled"]));

function nonEmpty(value) {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The data dir: $MEDIALOOM_DATA_DIR, else $XDG_DATA_HOME/medialoom, else ~/.local/share/medialoom. */
export function dataDir(env = process.env) {
  return nonEmpty(env.MEDIALOOM_DATA_DIR)
    ?? join(nonEmpty(env.XDG_DATA_HOME) ?? join(env.HOME ?? homedir(), ".local", "share"), "medialoom");
}

/**
 * Endpoints and key files from the MEDIALOOM_* environment (SPEC.md 10.1): MEDIALOOM_HOST,
 * MEDIALOOM_CLIENTS, MEDIALOOM_EVENTS_OUT, MEDIALOOM_KEY and MEDIALOOM_BROKER_KEY.  The
 * broker's public key defaults to DATA_DIR/keys/broker.key (where `medialoom keys init` puts
 * it on the broker host); MEDIALOOM_CURVE=true alone takes DATA_DIR/keys/issued/local.key_secret
 * (the key `medialoom up --curve` makes for its host).
 */
export function settingsFromEnv(env = process.env) {
  const host = nonEmpty(env.MEDIALOOM_HOST) ?? "127.0.0.1";
  const curve = ["1", "true", "yes", "on"].includes(String(env.MEDIALOOM_CURVE ?? "").toLowerCase());
  const keys = join(dataDir(env), "keys");
  return {
    clients: nonEmpty(env.MEDIALOOM_CLIENTS) ?? `tcp://${host}:5570`,
    events: nonEmpty(env.MEDIALOOM_EVENTS_OUT) ?? `tcp://${host}:5573`,
    keyFile: nonEmpty(env.MEDIALOOM_KEY) ?? (curve ? join(keys, "issued", "local.key_secret") : undefined),
    brokerKeyFile: nonEmpty(env.MEDIALOOM_BROKER_KEY),
    defaultBrokerKeyFile: join(keys, "broker.key"),
  };
}

function onlyKnown(given, allowed, where) {
  for (const k of Object.keys(given)) {
    if (!allowed.includes(k)) {
      throw new TypeError(`${where}: unknown option ${JSON.stringify(k)} (known: ${allowed.join(", ")})`);
    }
  }
}

const CLIENT_OPTIONS = ["clients", "events", "timeoutMs", "curve", "keyFile", "brokerKeyFile", "name",
  "onWarning", "env"];

/** A client of the medialoom broker; close() it when done. */
export class Client {
  constructor(options = {}) {
    onlyKnown(options, CLIENT_OPTIONS, "new Client()");
    const env = settingsFromEnv(options.env ?? process.env);
    this.clients = options.clients ?? env.clients;
    this.events = options.events ?? env.events;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.name = options.name ?? `medialoom-js ${VERSION}`;
    this.onWarning = options.onWarning ?? ((text) => process.emitWarning(text, "MedialoomWarning"));
    const keyFile = options.keyFile ?? env.keyFile;
    let brokerKeyFile = options.brokerKeyFile ?? env.brokerKeyFile;
    if (keyFile && !brokerKeyFile && !options.curve) {
      brokerKeyFile = env.defaultBrokerKeyFile;
      if (!existsSync(brokerKeyFile)) {
        throw new KeyFileError(brokerKeyFile, "does not exist: a client key needs the broker's public key "
          + "too (brokerKeyFile, $MEDIALOOM_BROKER_KEY, or a copy of the broker's keys/broker.key here)");
      }
    }
    this.curve = options.curve ?? (keyFile ? curveFromFiles(keyFile, brokerKeyFile) : null);
    /** Replies and events this client dropped because they broke the protocol. */
    this.dropped = 0;
    this.closed = false;
    this.nextRid = 1;
    this.pending = new Map();
    this.sendChain = Promise.resolve();
    this.socket = this.makeSocket(zmq.Dealer, { sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    this.socket.connect(this.clients);
    this.reading = this.readReplies();
  }

  /** A socket of this client's settings (linger 0, the 64 MiB cap, CURVE keys). */
  makeSocket(Kind, extra = {}) {
    const curve = this.curve
      ? { curveServerKey: this.curve.serverKey, curvePublicKey: this.curve.publicKey,
        curveSecretKey: this.curve.secretKey }
      : {};
    return new Kind({ linger: 0, maxMessageSize: HARD_MAX_BYTES, ...curve, ...extra });
  }

  warn(text) {
    this.onWarning(`medialoom client (${this.clients}): ${text}`);
  }

  async readReplies() {
    try {
      for await (const frames of this.socket) this.onReply(frames);
    } catch (err) {
      if (!this.closed) this.failAll(new BrokerUnavailable(`the client socket failed: ${err.message}`));
    }
  }

  settle(rid) {
    const p = this.pending.get(rid);
    if (p === undefined) return undefined;
    this.pending.delete(rid);
    if (p.timer !== null) clearTimeout(p.timer);
    return p;
  }

  onReply(frames) {
    let msg;
    try {
      msg = decode(frames, "reply", { exact: true });
    } catch (err) {
      this.dropped += 1;
      const p = this.settle(requestId(frames));
      this.warn(`dropped a reply that breaks the protocol${p ? ` (to ${p.word})` : ""}: ${err.message}`);
      p?.reject(err);
      return;
    }
    const p = this.settle(msg.rid);
    if (p === undefined) {
      if (msg.cmd === "ERROR") {
        this.warn(`ERROR ${msg.code} for no request in flight (rid ${msg.rid}): ${msg.message}`);
      }
      return;
    }
    if (msg.cmd === "ERROR") {
      p.reject(new ClientError(msg.message, { code: msg.code, details: unwrapFloats(msg.details) }));
      return;
    }
    const found = REPLY_DATA[p.word].problem(msg.data);
    if (found) {
      this.dropped += 1;
      const [path, reason] = explain(found, "data");
      const err = new RemoteProtocolError(
        `the broker's REPLY to ${p.word} breaks the protocol: ${path} ${reason}`,
        { code: "protocol.bad_field", details: { field: "data", path } },
      );
      this.warn(err.message);
      p.reject(err);
      return;
    }
    p.resolve(unwrapFloats(msg.data));
  }

  failAll(err) {
    for (const rid of [...this.pending.keys()]) this.settle(rid).reject(err);
  }

  /**
   * Send one request (word and its fields but rid) and resolve with its REPLY's data.
   * timeoutMs null waits forever.  Rejects with ClientError (an ERROR reply),
   * BrokerUnavailable (no reply in time), RemoteProtocolError (a reply that breaks the
   * protocol) or TypeError (a request this client refuses to send).
   */
  request(word, fields = {}, { timeoutMs = this.timeoutMs } = {}) {
    if (this.closed) return Promise.reject(new MedialoomError("the client is closed"));
    const rid = this.nextRid++;
    let frames;
    try {
      frames = encode({ ...fields, cmd: word, rid }, "client");
    } catch (err) {
      return Promise.reject(err);
    }
    if (frames[1].length > MAX_BODY_BYTES) {
      return Promise.reject(new MedialoomError(`${word} of ${frames[1].length} bytes exceeds the `
        + `broker's limit of ${MAX_BODY_BYTES}`, { code: "protocol.too_large" }));
    }
    return new Promise((resolve, reject) => {
      const timer = timeoutMs === null ? null : setTimeout(() => {
        this.settle(rid);
        reject(new BrokerUnavailable(`no answer to ${word} from the broker at ${this.clients} within `
          + `${timeoutMs / 1000} s; is it running (medialoom up)?`));
      }, timeoutMs);
      this.pending.set(rid, { word, resolve, reject, timer });
      const sent = this.sendChain.then(() => this.socket.send(frames));
      this.sendChain = sent.catch(() => {});
      sent.catch((err) => {
        this.settle(rid)?.reject(new BrokerUnavailable(`could not send ${word}: ${err.message}`));
      });
    });
  }

  /** Protocol version, broker version, kinds, their specs, limits and library roots. */
  hello() {
    return this.request("HELLO", { client: this.name });
  }

  /** The broker's clock (unix seconds). */
  async ping(options) {
    return (await this.request("PING", {}, options)).now;
  }

  /** Start a job; resolves with its job map once the broker has persisted it. */
  async start(kind, options = {}) {
    onlyKnown(options, ["paths", "params", "priority", "dryRun", "allowConflict", "maxAttempts"], "start()");
    const { paths = [], params = {}, priority = "normal", dryRun = false, allowConflict = false,
      maxAttempts = 0 } = options;
    return (await this.request("START", {
      kind, paths, params, priority, dry_run: dryRun, allow_conflict: allowConflict,
      max_attempts: maxAttempts,
    })).job;
  }

  /** Start a new job over only the failed items of a finished job (START retry_of). */
  async retry(jobId, options = {}) {
    onlyKnown(options, ["priority", "allowConflict", "maxAttempts"], "retry()");
    const { priority = "normal", allowConflict = false, maxAttempts = 0 } = options;
    return (await this.request("START", {
      kind: "", priority, allow_conflict: allowConflict, max_attempts: maxAttempts, retry_of: jobId,
    })).job;
  }

  /** The job map now, with the seq of the job's last EVENT. */
  async status(jobId) {
    return (await this.request("STATUS", { job: jobId })).job;
  }

  /** Cancel a queued job at once, or ask the worker to stop a running one. */
  async cancel(jobId) {
    return (await this.request("CANCEL", { job: jobId })).job;
  }

  /** Delete a finished job with its results and plan; resolves with its id. */
  async clear(jobId) {
    return (await this.request("CLEAR", { job: jobId })).cleared;
  }

  /** A page of jobs: { jobs, total }. */
  list(options = {}) {
    onlyKnown(options, ["status", "kind", "limit", "offset", "order"], "list()");
    const { status = [], kind = [], limit = 50, offset = 0, order = "-created" } = options;
    return this.request("LIST", { status, kind, limit, offset, order });
  }

  /** Counts by status, items processed, success rate, mean duration, connected workers. */
  stats() {
    return this.request("STATS");
  }

  /** A page of a job's item results: { items, total }. */
  results(jobId, options = {}) {
    onlyKnown(options, ["status", "limit", "offset"], "results()");
    const { status = [], limit = 100, offset = 0 } = options;
    return this.request("RESULTS", { job: jobId, status, limit, offset });
  }

  /** A page of a file-changing job's planned operations: { ops, total, complete }. */
  plan(jobId, options = {}) {
    onlyKnown(options, ["status", "limit", "offset"], "plan()");
    const { status = [], limit = 100, offset = 0 } = options;
    return this.request("PLAN", { job: jobId, status, limit, offset });
  }

  /**
   * The job map once the job has finished.  WAIT is sent again every pollMs (after a
   * STATUS), so a broker restart does not lose it; timeoutMs null waits forever.
   */
  async wait(jobId, { timeoutMs = null, pollMs = 5000 } = {}) {
    const deadline = timeoutMs === null ? null : Date.now() + timeoutMs;
    for (;;) {
      const left = deadline === null ? pollMs : Math.max(1, Math.min(pollMs, deadline - Date.now()));
      try {
        return (await this.request("WAIT", { job: jobId }, { timeoutMs: left })).job;
      } catch (err) {
        if (!(err instanceof BrokerUnavailable) || (deadline !== null && Date.now() >= deadline)) throw err;
      }
      const job = await this.status(jobId);
      if (TERMINAL.has(job.status)) return job;
    }
  }

  /** Job maps as they change (the Clone pattern, SPEC.md 7.3); see watch.js. */
  watch(jobId = null, options = {}) {
    return watch(this, jobId, options);
  }

  /** Close the socket; requests still in flight reject. */
  async close() {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new MedialoomError("the client was closed"));
    this.socket.close();
    await this.reading;
  }

  async [Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose")]() {
    await this.close();
  }
}
