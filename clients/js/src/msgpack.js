// msgpack for protocol version 1 (SPEC.md section 3.1): the value types and the reader, exact
// about the types the spec counts (the writer is write.js).
//
// Why not @msgpack/msgpack at run time: it writes the float 3.0 as the int 3 and reads a
// float 64 1.0 as the same JS number as the int 1 (so "float where int" cannot be refused),
// lets invalid UTF-8 through, folds duplicate keys, turns an int map key into a string key
// and rounds uint 64 above 2^53.  This reader and writer keep those apart:
//   nil -> null, bool -> boolean, int -> number (or bigint beyond +-2^53),
//   float 32/64 -> Float, str -> string (valid UTF-8 or the body is refused),
//   bin -> Uint8Array, ext -> Ext, array -> Array,
//   map with str keys -> plain object (last key wins), any other map -> KeyedMap.

import { isUtf8 } from "node:buffer";

import { RemoteProtocolError } from "./errors.js";

/** A msgpack float: decoded floats are Floats until the codec unwraps them; encodes as float 64. */
export class Float {
  constructor(value) {
    this.value = Number(value);
  }

  valueOf() {
    return this.value;
  }
}

/** A msgpack extension value (never allowed in a known field). */
export class Ext {
  constructor(type, data) {
    this.type = type;
    this.data = data;
  }
}

/** A map with a key that is not a str (never allowed in a known field). */
export class KeyedMap {
  constructor(entries) {
    this.entries = entries;
  }
}

/** How deep the reader follows nesting; deeper input is not readable msgpack (SPEC.md 3.2.1). */
export const READ_DEPTH = 1024;
const TWO_53 = 2 ** 53;

/** Set key on a plain object, also when the key is "__proto__". */
export function setKey(obj, key, value) {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

class Reader {
  constructor(buf) {
    this.buf = buf;
    this.pos = 0;
  }

  need(n) {
    if (this.pos + n > this.buf.length) throw new RemoteProtocolError("body is truncated");
  }

  u8() {
    this.need(1);
    return this.buf[this.pos++];
  }

  uint(n) {
    this.need(n);
    const b = this.buf;
    const p = this.pos;
    this.pos += n;
    if (n === 1) return b[p];
    if (n === 2) return b.readUInt16BE(p);
    return b.readUInt32BE(p);
  }

  bytes(n) {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  str(n) {
    const raw = this.bytes(n);
    let ascii = true;
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return raw.length < 32 ? String.fromCharCode(...raw) : raw.toString("latin1");
    if (!isUtf8(raw)) throw new RemoteProtocolError("a str is not valid UTF-8");
    return raw.toString("utf8");
  }

  // level: the nesting level a container read here has (the body map is level 1)
  value(depth) {
    const t = this.u8();
    if (t <= 0x7f) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t >= 0xa0 && t <= 0xbf) return this.str(t & 0x1f);
    if (t >= 0x90 && t <= 0x9f) return this.array(t & 0x0f, depth);
    if (t >= 0x80 && t <= 0x8f) return this.map(t & 0x0f, depth);
    const b = this.buf;
    switch (t) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return new Uint8Array(this.bytes(this.uint(1)));
      case 0xc5: return new Uint8Array(this.bytes(this.uint(2)));
      case 0xc6: return new Uint8Array(this.bytes(this.uint(4)));
      case 0xc7: return this.ext(this.uint(1));
      case 0xc8: return this.ext(this.uint(2));
      case 0xc9: return this.ext(this.uint(4));
      case 0xca: this.need(4); this.pos += 4; return new Float(b.readFloatBE(this.pos - 4));
      case 0xcb: this.need(8); this.pos += 8; return new Float(b.readDoubleBE(this.pos - 8));
      case 0xcc: return this.uint(1);
      case 0xcd: return this.uint(2);
      case 0xce: return this.uint(4);
      case 0xcf: this.need(8); this.pos += 8; return small(b.readBigUInt64BE(this.pos - 8));
      case 0xd0: this.need(1); return b.readInt8(this.pos++);
      case 0xd1: this.need(2); this.pos += 2; return b.readInt16BE(this.pos - 2);
      case 0xd2: this.need(4); this.pos += 4; return b.readInt32BE(this.pos - 4);
      case 0xd3: this.need(8); this.pos += 8; return small(b.readBigInt64BE(this.pos - 8));
      case 0xd4: return this.ext(1);
      case 0xd5: return this.ext(2);
      case 0xd6: return this.ext(4);
      case 0xd7: return this.ext(8);
      case 0xd8: return this.ext(16);
      case 0xd9: return this.str(this.uint(1));
      case 0xda: return this.str(this.uint(2));
      case 0xdb: return this.str(this.uint(4));
      case 0xdc: return this.array(this.uint(2), depth);
      case 0xdd: return this.array(this.uint(4), depth);
      case 0xde: return this.map(this.uint(2), depth);
      case 0xdf: return this.map(this.uint(4), depth);
      default: throw new RemoteProtocolError(`byte 0x${t.toString(16)} is not msgpack`);
    }
  }

  ext(n) {
    this.need(1 + n);
    const type = this.buf.readInt8(this.pos++);
    return new Ext(type, new Uint8Array(this.bytes(n)));
  }

  array(n, depth) {
    if (depth > READ_DEPTH) throw new RemoteProtocolError(`nested deeper than ${READ_DEPTH} levels`);
    // every element takes at least one byte: a count beyond the bytes left is truncated input
    this.need(n);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  map(n, depth) {
    if (depth > READ_DEPTH) throw new RemoteProtocolError(`nested deeper than ${READ_DEPTH} levels`);
    this.need(2 * n);
    const obj = {};
    let entries = null;
    for (let i = 0; i < n; i++) {
      const key = this.value(depth + 1);
      const value = this.value(depth + 1);
      if (entries === null && typeof key === "string") {
        setKey(obj, key, value);
      } else {
        entries ??= Object.entries(obj);
        entries.push([key, value]);
      }
    }
    return entries === null ? obj : new KeyedMap(entries);
  }
}

function small(big) {
  return big >= -TWO_53 && big <= TWO_53 ? Number(big) : big;
}

/**
 * The body map of a message: its [key, value] entries in wire order.
 * RemoteProtocolError (protocol.bad_frame) when data is not exactly one map.
 */
export function readBody(data) {
  const r = new Reader(data);
  const t = r.u8();
  let n;
  if (t >= 0x80 && t <= 0x8f) n = t & 0x0f;
  else if (t === 0xde) n = r.uint(2);
  else if (t === 0xdf) n = r.uint(4);
  else throw new RemoteProtocolError("body must be a msgpack map");
  r.need(2 * n);
  const entries = [];
  for (let i = 0; i < n; i++) entries.push([r.value(2), r.value(2)]);
  if (r.pos !== data.length) {
    throw new RemoteProtocolError(`${data.length - r.pos} bytes follow the body map`);
  }
  return entries;
}

/**
 * Skip one value at pos without building it; returns the position after it.
 * Iterative, so any nesting depth is fine.  Throws RangeError when data ends first.
 */
export function skipValue(data, pos) {
  let left = 1;
  while (left > 0) {
    if (pos >= data.length) throw new RangeError("truncated");
    const t = data[pos++];
    left -= 1;
    let len = 0;
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) len = 0;
    else if (t >= 0xa0 && t <= 0xbf) len = t & 0x1f;
    else if (t >= 0x90 && t <= 0x9f) left += t & 0x0f;
    else if (t >= 0x80 && t <= 0x8f) left += 2 * (t & 0x0f);
    else {
      const fixed = { 0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2,
        0xd2: 4, 0xd3: 8, 0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17 }[t];
      if (fixed !== undefined) len = fixed;
      else {
        const size = { 0xc4: 1, 0xc5: 2, 0xc6: 4, 0xc7: 1, 0xc8: 2, 0xc9: 4, 0xd9: 1, 0xda: 2,
          0xdb: 4, 0xdc: 2, 0xdd: 4, 0xde: 2, 0xdf: 4 }[t];
        if (size === undefined) throw new RangeError("not msgpack");
        if (pos + size > data.length) throw new RangeError("truncated");
        const count = size === 1 ? data[pos] : size === 2 ? data.readUInt16BE(pos) : data.readUInt32BE(pos);
        pos += size;
        if (t === 0xdc || t === 0xdd) left += count;
        else if (t === 0xde || t === 0xdf) left += 2 * count;
        else len = count + (t >= 0xc7 && t <= 0xc9 ? 1 : 0);
      }
    }
    pos += len;
    if (pos > data.length) throw new RangeError("truncated");
  }
  return pos;
}
