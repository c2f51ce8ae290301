// The committed protocol vectors (protocol/vectors/*.json, SPEC.md section 12), read with a
// JSON reader that keeps 3.0 (a float) and 3 (an int) apart, as the vectors require.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { Float, setKey } from "../../src/msgpack.js";

// $MEDIALOOM_VECTORS: another folder of valid.json and invalid.json (for example a release's)
const DIR = process.env.MEDIALOOM_VECTORS ? `${process.env.MEDIALOOM_VECTORS.replace(/\/$/, "")}/`
  : fileURLToPath(new URL("../../../../protocol/vectors/", import.meta.url));
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const TWO_53 = 2n ** 53n;

/** Parse JSON text: numbers with a point or an exponent become Float, others ints. */
export function parseTyped(text) {
  let pos = 0;
  const ws = () => {
    while (pos < text.length && " \t\r\n".includes(text[pos])) pos++;
  };
  const value = () => {
    ws();
    const c = text[pos];
    if (c === "{") {
      pos++;
      const obj = {};
      ws();
      if (text[pos] === "}") { pos++; return obj; }
      for (;;) {
        ws();
        const k = string();
        ws();
        if (text[pos++] !== ":") throw new SyntaxError(`':' expected at ${pos}`);
        setKey(obj, k, value());
        ws();
        const sep = text[pos++];
        if (sep === "}") return obj;
        if (sep !== ",") throw new SyntaxError(`',' expected at ${pos}`);
      }
    }
    if (c === "[") {
      pos++;
      const arr = [];
      ws();
      if (text[pos] === "]") { pos++; return arr; }
      for (;;) {
        arr.push(value());
        ws();
        const sep = text[pos++];
        if (sep === "]") return arr;
        if (sep !== ",") throw new SyntaxError(`',' expected at ${pos}`);
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, pos)) { pos += word.length; return v; }
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (!m) throw new SyntaxError(`unexpected ${JSON.stringify(c)} at ${pos}`);
    pos += m[0].length;
    if (m[1] !== undefined || m[2] !== undefined) return new Float(Number(m[0]));
    const big = BigInt(m[0]);
    return big >= -TWO_53 && big <= TWO_53 ? Number(big) : big;
  };
  const string = () => {
    if (text[pos] !== '"') throw new SyntaxError(`string expected at ${pos}`);
    let end = pos + 1;
    while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
    const s = JSON.parse(text.slice(pos, end + 1));
    pos = end + 1;
    return s;
  };
  const out = value();
  ws();
  if (pos !== text.length) throw new SyntaxError(`text after the value at ${pos}`);
  return out;
}

/** A vector's message with {"bin": hex} objects turned into bytes. */
export function fromJson(x) {
  if (Array.isArray(x)) return x.map(fromJson);
  if (x !== null && typeof x === "object" && !(x instanceof Float)) {
    const keys = Object.keys(x);
    if (keys.length === 1 && keys[0] === "bin") return new Uint8Array(Buffer.from(x.bin, "hex"));
    const out = {};
    for (const k of keys) setKey(out, k, fromJson(x[k]));
    return out;
  }
  return x;
}

/** A vector's frames, built from frames_generated when they are too big to inline. */
export function framesOf(vector) {
  if (vector.frames) return vector.frames.map((f) => Buffer.from(f, "hex"));
  const gen = vector.frames_generated;
  const prefix = Buffer.from(gen.body_prefix, "hex");
  const suffix = Buffer.from(gen.body_suffix ?? "", "hex");
  const body = Buffer.alloc(gen.body_size, Buffer.from(gen.fill, "hex"));
  prefix.copy(body, 0);
  suffix.copy(body, gen.body_size - suffix.length);
  return [Buffer.from(gen.tag, "hex"), body];
}

export const VALID = parseTyped(readFileSync(`${DIR}valid.json`, "utf8"));
export const INVALID = parseTyped(readFileSync(`${DIR}invalid.json`, "utf8"));
