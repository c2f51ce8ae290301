// Frames <-> messages of protocol version 1 (SPEC.md sections 2-3, 4.13).
//
// A message is a plain object: { cmd: "WORD", ...every field of the command in wire order }.
// decode() checks every field (SPEC.md 3.2.1) and fills in the defaults of missing optional
// fields; floats come back as numbers, or as Float with { exact: true } (so that 3.0 and 3
// stay apart and a decoded message encodes back to the same bytes).

import { RemoteProtocolError } from "./errors.js";
import { CHANNELS, TAGS } from "./messages.js";
import { Float, readBody, setKey, skipValue } from "./msgpack.js";
import { encodeMap } from "./write.js";
import { explain, FLOAT, INT64_MAX, unwrapFloats } from "./values.js";

/** Largest body of a client request; larger gets protocol.too_large (SPEC.md 10). */
export const MAX_BODY_BYTES = 1 << 20;
/** ZMQ_MAXMSGSIZE of every socket: larger frames drop the connection. */
export const HARD_MAX_BYTES = 64 << 20;

const TAG_BYTES = Object.fromEntries(Object.entries(TAGS).map(([c, t]) => [c, Buffer.from(t)]));

function asBuffer(frame) {
  if (Buffer.isBuffer(frame)) return frame;
  if (frame instanceof Uint8Array) return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (typeof frame === "string") return Buffer.from(frame);
  throw new TypeError("a frame must be a Buffer, a Uint8Array or a string");
}

function tableOf(channel) {
  const table = CHANNELS[channel];
  if (table === undefined) throw new TypeError(`unknown channel ${JSON.stringify(channel)}`);
  return table;
}

/** Event topic of a job: subscribe to "job/" for every job. */
export function topic(jobId) {
  return Buffer.from(`job/${jobId}`);
}

/**
 * Frames of message on channel: [tag, body], or [topic, tag, body] on the event channel.
 * TypeError when the message breaks the protocol (a wrong type, a NaN, a missing field).
 */
export function encode(message, channel) {
  const word = message.cmd;
  const fields = Object.hasOwn(tableOf(channel), word) ? CHANNELS[channel][word] : undefined;
  if (fields === undefined) throw new TypeError(`${channel} channel has no command ${JSON.stringify(word)}`);
  const entries = [["cmd", word]];
  for (const [name, check, required, make] of fields) {
    let v = message[name];
    if (v === undefined) {
      if (required) throw new TypeError(`${word} needs field ${name}`);
      v = make();
    }
    const found = check.problem(v);
    if (found) {
      const [path, reason] = explain(found, name);
      throw new TypeError(`${word} field ${path}: ${reason}`);
    }
    if (check === FLOAT && !(v instanceof Float)) v = new Float(v);
    entries.push([name, v]);
  }
  const body = encodeMap(entries);
  if (channel === "event") return [topic(message.job), TAG_BYTES.event, body];
  return [TAG_BYTES[channel], body];
}

/**
 * The message in frames received on channel.  RemoteProtocolError with the wire code
 * (protocol.bad_frame, bad_version, too_large, unknown_command, bad_field) if invalid.
 */
export function decode(frames, channel, { exact = false } = {}) {
  const table = tableOf(channel);
  let parts = Array.from(frames, asBuffer);
  if (channel === "event") {
    if (parts.length !== 3) throw new RemoteProtocolError("an event is three frames: topic, tag, body");
    parts = parts.slice(1);
  }
  if (parts.length !== 2) throw new RemoteProtocolError("a message is two frames: version tag and body");
  const [tag, data] = parts;
  if (!tag.equals(TAG_BYTES[channel])) {
    throw new RemoteProtocolError(`version tag ${JSON.stringify(tag.subarray(0, 16).toString("latin1"))} `
      + `is not ${TAGS[channel]}`, { code: "protocol.bad_version" });
  }
  if (channel === "client" && data.length > MAX_BODY_BYTES) {
    throw new RemoteProtocolError(`message of ${data.length} bytes exceeds the limit of ${MAX_BODY_BYTES}`,
      { code: "protocol.too_large" });
  }
  const body = new Map();
  for (const [k, v] of readBody(data)) {
    if (typeof k !== "string") throw new RemoteProtocolError("the keys of the body map must be msgpack str");
    if (body.has(k)) throw new RemoteProtocolError(`the body map holds the key ${JSON.stringify(k)} twice`);
    body.set(k, v);
  }
  const word = body.get("cmd");
  const fields = typeof word === "string" && Object.hasOwn(table, word) ? table[word] : undefined;
  if (fields === undefined) {
    const shown = typeof word === "string" ? JSON.stringify(word.slice(0, 40)) : `of another type`;
    throw new RemoteProtocolError(`unknown command ${shown}`, { code: "protocol.unknown_command" });
  }
  const message = { cmd: word };
  for (const [name, check, required, make] of fields) {
    if (!body.has(name)) {
      if (required) {
        throw new RemoteProtocolError(`${word} needs field ${name}`,
          { code: "protocol.bad_field", details: { field: name } });
      }
      setKey(message, name, make());
      continue;
    }
    let v = body.get(name);
    const found = check.problem(v);
    if (found) {
      const [path, reason] = explain(found, name);
      throw new RemoteProtocolError(`${word} field ${path}: ${reason}`,
        { code: "protocol.bad_field", details: { field: name } });
    }
    if (check === FLOAT && !(v instanceof Float)) v = new Float(v);
    setKey(message, name, v);
  }
  return exact ? message : unwrapFloats(message);
}

function readRid(data, pos) {
  const t = data[pos];
  if (t <= 0x7f) return t;
  const width = { 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8 }[t];
  if (width === undefined || pos + 1 + width > data.length) return 0;
  const signed = t >= 0xd0;
  const v = width === 8
    ? (signed ? data.readBigInt64BE(pos + 1) : data.readBigUInt64BE(pos + 1))
    : BigInt(signed ? data.readIntBE(pos + 1, width) : data.readUIntBE(pos + 1, width));
  return v >= 0n && v <= INT64_MAX ? Number(v) : 0;
}

const RID_KEY = Buffer.from("rid");

/**
 * The rid of the ERROR about a refused client message (SPEC.md 4.13): read the last frame's
 * map entries in wire order, skipping values unread, up to the first key "rid"; 0 when its
 * value is not an int in 0..2^63-1 or cannot be reached within the first MAX_BODY_BYTES.
 * (As a number: rids above 2^53 lose precision.)
 */
export function requestId(frames) {
  const all = Array.from(frames, asBuffer);
  if (all.length === 0) return 0;
  const data = all[all.length - 1].subarray(0, MAX_BODY_BYTES);
  try {
    let pos = 0;
    const t = data[pos++];
    let n;
    if (t >= 0x80 && t <= 0x8f) n = t & 0x0f;
    else if (t === 0xde) { n = data.readUInt16BE(pos); pos += 2; }
    else if (t === 0xdf) { n = data.readUInt32BE(pos); pos += 4; }
    else return 0;
    for (let i = 0; i < n; i++) {
      const k = data[pos];
      let len = -1;
      let at = pos + 1;
      if (k >= 0xa0 && k <= 0xbf) len = k & 0x1f;
      else if (k === 0xd9) { len = data[at]; at += 1; }
      else if (k === 0xda) { len = data.readUInt16BE(at); at += 2; }
      else if (k === 0xdb) { len = data.readUInt32BE(at); at += 4; }
      if (len === 3 && at + 3 <= data.length && data.subarray(at, at + 3).equals(RID_KEY)) {
        return at + 3 < data.length ? readRid(data, at + 3) : 0;
      }
      pos = skipValue(data, skipValue(data, pos));
    }
  } catch {
    return 0;
  }
  return 0;
}
