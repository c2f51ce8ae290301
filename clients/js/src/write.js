// The msgpack writer of protocol version 1 (SPEC.md 3.1): the shortest form of every value,
// as the vectors are written.  An integral number is an int, any other number or a Float a
// float 64; a Map keeps its key order; undefined, functions, NaN and +-Infinity are refused.

import { Float, READ_DEPTH } from "./msgpack.js";

const TWO_53 = 2 ** 53;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

class Writer {
  constructor() {
    this.buf = Buffer.allocUnsafe(256);
    this.pos = 0;
  }

  room(n) {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  byte(b) {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  head(small, fix, codes, n) {
    // fix: (max, base) of the fix form, or null; codes: [8-bit, 16-bit, 32-bit] type bytes
    this.room(5);
    if (fix !== null && n <= fix) this.buf[this.pos++] = small | n;
    else if (codes[0] !== null && n <= 0xff) {
      this.buf[this.pos++] = codes[0];
      this.buf[this.pos++] = n;
    } else if (n <= 0xffff) {
      this.buf[this.pos++] = codes[1];
      this.pos = this.buf.writeUInt16BE(n, this.pos);
    } else {
      this.buf[this.pos++] = codes[2];
      this.pos = this.buf.writeUInt32BE(n, this.pos);
    }
  }

  int(n) {
    this.room(9);
    const b = this.buf;
    if (n >= 0) {
      if (n <= 0x7f) b[this.pos++] = n;
      else if (n <= 0xff) { b[this.pos++] = 0xcc; b[this.pos++] = n; }
      else if (n <= 0xffff) { b[this.pos++] = 0xcd; this.pos = b.writeUInt16BE(n, this.pos); }
      else if (n <= 0xffffffff) { b[this.pos++] = 0xce; this.pos = b.writeUInt32BE(n, this.pos); }
      else { b[this.pos++] = 0xcf; this.pos = b.writeBigUInt64BE(BigInt(n), this.pos); }
    } else if (n >= -32) b[this.pos++] = n + 0x100;
    else if (n >= -0x80) { b[this.pos++] = 0xd0; this.pos = b.writeInt8(n, this.pos); }
    else if (n >= -0x8000) { b[this.pos++] = 0xd1; this.pos = b.writeInt16BE(n, this.pos); }
    else if (n >= -0x80000000) { b[this.pos++] = 0xd2; this.pos = b.writeInt32BE(n, this.pos); }
    else { b[this.pos++] = 0xd3; this.pos = b.writeBigInt64BE(BigInt(n), this.pos); }
  }

  float(x, path) {
    if (!Number.isFinite(x)) throw new TypeError(`${path}: ${x} cannot be sent (floats must be finite)`);
    this.room(9);
    this.buf[this.pos++] = 0xcb;
    this.pos = this.buf.writeDoubleBE(x, this.pos);
  }

  str(s) {
    const n = Buffer.byteLength(s);
    this.head(0xa0, 31, [0xd9, 0xda, 0xdb], n);
    this.room(n);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  value(x, path, depth) {
    if (depth > READ_DEPTH) throw new TypeError(`${path}: nested deeper than ${READ_DEPTH} levels`);
    switch (typeof x) {
      case "string": return this.str(x);
      case "boolean": return this.byte(x ? 0xc3 : 0xc2);
      case "number":
        if (Number.isSafeInteger(x) || (Number.isInteger(x) && Math.abs(x) < 2 ** 63)) return this.int(x);
        return this.float(x, path);
      case "bigint":
        if (x < INT64_MIN || x > UINT64_MAX) {
          throw new TypeError(`${path}: ${x} is outside msgpack's integers`);
        }
        return x >= -TWO_53 && x <= TWO_53 ? this.int(Number(x)) : this.bigint(x);
      case "object": break;
      default: throw new TypeError(`${path}: a ${typeof x} cannot be sent`);
    }
    if (x === null) return this.byte(0xc0);
    if (x instanceof Float) return this.float(x.value, path);
    if (Array.isArray(x)) {
      this.head(0x90, 15, [null, 0xdc, 0xdd], x.length);
      for (let i = 0; i < x.length; i++) this.value(x[i], `${path}[${i}]`, depth + 1);
      return undefined;
    }
    if (x instanceof Uint8Array) {
      this.head(0, null, [0xc4, 0xc5, 0xc6], x.length);
      this.room(x.length);
      this.buf.set(x, this.pos);
      this.pos += x.length;
      return undefined;
    }
    const entries = x instanceof Map ? [...x.entries()] : Object.entries(x);
    this.head(0x80, 15, [null, 0xde, 0xdf], entries.length);
    for (const [k, v] of entries) {
      if (typeof k !== "string") throw new TypeError(`${path}: map keys must be strings`);
      this.str(k);
      this.value(v, `${path}.${k}`, depth + 1);
    }
    return undefined;
  }

  bigint(x) {
    this.room(9);
    if (x >= 0n) {
      this.buf[this.pos++] = 0xcf;
      this.pos = this.buf.writeBigUInt64BE(x, this.pos);
    } else {
      this.buf[this.pos++] = 0xd3;
      this.pos = this.buf.writeBigInt64BE(x, this.pos);
    }
  }
}

/**
 * Encode entries ([key, value] pairs, in order) as one msgpack map, the shortest form of
 * every value.  Numbers that are integers become ints, other numbers and Floats float 64.
 */
export function encodeMap(entries) {
  const w = new Writer();
  w.head(0x80, 15, [null, 0xde, 0xdf], entries.length);
  for (const [k, v] of entries) {
    w.str(k);
    w.value(v, k, 2);
  }
  return Buffer.from(w.buf.subarray(0, w.pos));
}
