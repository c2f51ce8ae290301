// Type declarations of medialoom-client (protocol/SPEC.md, version 1).

/** Ints beyond +-2^53 decode as bigint. */
export type Int = number | bigint;
export type Status = "queued" | "running" | "completed" | "failed" | "cancelled";
export type Priority = "webhook" | "high" | "normal" | "low";
/** A msgpack value of job data: no bin, no extension types, finite floats. */
export type Value = null | boolean | number | bigint | string | Value[] | { [key: string]: Value };

/** A float for the wire: encodes as float 64 even when integral (decode gives it with exact). */
export class Float {
  constructor(value: number);
  readonly value: number;
  valueOf(): number;
}

/** The job progress map (SPEC.md 5.1). */
export interface Progress {
  total: Int;
  processed: Int;
  succeeded: Int;
  skipped: Int;
  failed: Int;
  remaining: Int;
  percent: number;
  rate: number;
  eta_seconds: number | null;
  current: string;
}

export interface JobError {
  code: string;
  message: string;
  [key: string]: Value;
}

/** The job map (SPEC.md 5.1); keys a newer broker adds come through unchecked. */
export interface Job {
  id: string;
  kind: string;
  paths: string[];
  params: { [key: string]: Value };
  priority: Priority | string;
  dry_run: boolean;
  status: Status | string;
  attempts: Int;
  max_attempts: Int;
  created: number;
  started: number | null;
  updated: number;
  finished: number | null;
  error: JobError | null;
  cancel_requested: boolean;
  seq: Int;
  result: { [key: string]: Value };
  planned: boolean;
  progress: Progress;
  retry_of: string | null;
  [key: string]: unknown;
}

/** An item row (SPEC.md 5.1). */
export interface ItemRow {
  i: Int;
  path: string;
  status: string;
  message: string;
  duration_ms: number;
  details: { [key: string]: Value };
  [key: string]: unknown;
}

/** A plan row (SPEC.md 8). */
export interface PlanRow {
  i: Int;
  op: string;
  src: string;
  dst: string;
  expect: { [key: string]: Value };
  status: string;
  message: string;
  details: { [key: string]: Value };
  [key: string]: unknown;
}

export interface ParamSpec {
  name: string;
  type: string;
  description: string;
  required: boolean;
  default?: Value;
  choices?: Value[];
  min?: number;
  max?: number;
  check?: string;
  [key: string]: unknown;
}

/** A kind spec (SPEC.md 5.4). */
export interface KindSpec {
  name: string;
  description: string;
  params: ParamSpec[];
  needs_paths: boolean;
  changes_files: boolean;
  outcomes: { [status: string]: string };
  target_param: string;
  [key: string]: unknown;
}

export interface Hello {
  protocol: Int;
  broker: string;
  kinds: string[];
  specs: { [kind: string]: KindSpec };
  limits: { max_body_bytes: Int; queue_max: Int; [key: string]: unknown };
  roots: string[];
  [key: string]: unknown;
}

export interface WorkerInfo {
  host: string;
  pid: Int;
  kinds: string[];
  slots: Int;
  running: Int;
  [key: string]: unknown;
}

export interface Stats {
  counts: { [status: string]: Int };
  total: Int;
  items_processed: Int;
  items_succeeded: Int;
  items_failed: Int;
  success_rate: number | null;
  mean_duration_s: number | null;
  at: number;
  workers: WorkerInfo[];
  queued_now: Int;
  broker?: { [counter: string]: Int };
  [key: string]: unknown;
}

/** CURVE keys, 40-character Z85 strings. */
export interface CurveKeys {
  publicKey: string;
  secretKey: string;
  /** the broker's public key */
  serverKey: string;
}

export interface ClientOptions {
  /** client endpoint; default $MEDIALOOM_CLIENTS, else tcp://$MEDIALOOM_HOST:5570 (127.0.0.1) */
  clients?: string;
  /** events-out endpoint; default $MEDIALOOM_EVENTS_OUT, else tcp://$MEDIALOOM_HOST:5573 */
  events?: string;
  /** per request; default 5000 */
  timeoutMs?: number;
  /** CURVE keys given directly */
  curve?: CurveKeys;
  /** this client's secret certificate (NAME.key_secret); default $MEDIALOOM_KEY */
  keyFile?: string;
  /** the broker's public certificate; default $MEDIALOOM_BROKER_KEY, else
   * DATA_DIR/keys/broker.key ($MEDIALOOM_DATA_DIR, else ~/.local/share/medialoom) */
  brokerKeyFile?: string;
  /** sent in HELLO */
  name?: string;
  /** dropped replies and events, ERRORs for no request; default process.emitWarning */
  onWarning?: (text: string) => void;
  /** environment to read the MEDIALOOM_* settings from; default process.env */
  env?: { [name: string]: string | undefined };
}

export interface StartOptions {
  paths?: string[];
  params?: { [key: string]: Value | Float };
  priority?: Priority;
  dryRun?: boolean;
  allowConflict?: boolean;
  maxAttempts?: number;
}

export interface PageOptions {
  status?: string[];
  limit?: number;
  offset?: number;
}

export interface ListOptions extends PageOptions {
  kind?: string[];
  order?: string;
}

export interface WatchOptions {
  /** a one-job watch ends after the job's terminal map (default true) */
  untilDone?: boolean;
  /** STATUS after this long without events (default 2000) */
  resyncMs?: number;
  /** wait after subscribing, before the snapshot (default 50) */
  settleMs?: number;
}

export class Client {
  constructor(options?: ClientOptions);
  readonly clients: string;
  readonly events: string;
  readonly timeoutMs: number;
  /** replies and events dropped because they broke the protocol */
  readonly dropped: number;
  readonly closed: boolean;
  hello(): Promise<Hello>;
  ping(options?: { timeoutMs?: number | null }): Promise<number>;
  start(kind: string, options?: StartOptions): Promise<Job>;
  retry(jobId: string, options?: Pick<StartOptions, "priority" | "allowConflict" | "maxAttempts">): Promise<Job>;
  status(jobId: string): Promise<Job>;
  cancel(jobId: string): Promise<Job>;
  clear(jobId: string): Promise<string>;
  list(options?: ListOptions): Promise<{ jobs: Job[]; total: Int }>;
  stats(): Promise<Stats>;
  results(jobId: string, options?: PageOptions): Promise<{ items: ItemRow[]; total: Int }>;
  plan(jobId: string, options?: PageOptions): Promise<{ ops: PlanRow[]; total: Int; complete: boolean }>;
  wait(jobId: string, options?: { timeoutMs?: number | null; pollMs?: number }): Promise<Job>;
  watch(jobId?: string | null, options?: WatchOptions): AsyncGenerator<Job, void, undefined>;
  /** one request: the REPLY's data, type-checked */
  request(word: string, fields?: { [field: string]: unknown }, options?: { timeoutMs?: number | null }): Promise<any>;
  close(): Promise<void>;
}

export const TERMINAL: ReadonlySet<string>;
export const VERSION: string;
export function settingsFromEnv(env?: { [name: string]: string | undefined }): {
  clients: string; events: string; keyFile?: string; brokerKeyFile?: string;
  defaultBrokerKeyFile: string;
};
/** $MEDIALOOM_DATA_DIR, else $XDG_DATA_HOME/medialoom, else ~/.local/share/medialoom. */
export function dataDir(env?: { [name: string]: string | undefined }): string;
export function mergeEvent(job: Job, event: { [field: string]: any }): Job;

/** A certificate file: secretKey is undefined in a public certificate. */
export function readCertificate(path: string): { publicKey: string; secretKey: string | undefined };
export function curveFromFiles(keyFile: string, brokerKeyFile: string): CurveKeys;

export type Channel = "client" | "reply" | "worker" | "broker" | "event";
/** A message: { cmd, ...its fields in wire order }. */
export type Message = { cmd: string; [field: string]: any };
/** Node Buffers (a Uint8Array subclass). */
export function encode(message: Message, channel: Channel): Uint8Array[];
export function decode(frames: Iterable<Uint8Array | string>, channel: Channel, options?: { exact?: boolean }): Message;
export function requestId(frames: Iterable<Uint8Array | string>): number;
export function topic(jobId: string): Uint8Array;
export const MAX_BODY_BYTES: number;
export const HARD_MAX_BYTES: number;
export const TAGS: { readonly [channel in Channel]: string };
export const CHANNELS: { readonly [channel in Channel]: { readonly [word: string]: readonly unknown[] } };

export const CODES: { readonly [code: string]: number };
export function httpStatus(code: string): number;

export class MedialoomError extends Error {
  constructor(message: string, options?: { code?: string; details?: unknown });
  code: string;
  details: unknown;
}
/** The broker's reply or an event broke the protocol (code protocol.*). */
export class RemoteProtocolError extends MedialoomError {}
/** The broker answered ERROR: code and details are the ERROR's. */
export class ClientError extends MedialoomError {}
/** No reply within the timeout (code broker.unavailable). */
export class BrokerUnavailable extends MedialoomError {
  constructor(message: string);
}
/** A certificate file that cannot be used: code auth.bad_key (never sent on the wire). */
export class KeyFileError extends MedialoomError {
  constructor(path: string, problem: string);
  path: string;
}
