// The value rules of SPEC.md section 3.2.1 and the field checks built on them.
//
// A check's problem(x) is null when x may stand in the field, else [reason, parts]: parts is
// the path inside the value, innermost first (joined in reverse for the error message).
// Values are as the reader builds them (msgpack.js): a float is a Float, a big int a bigint.
// The same checks run on what this client sends, where a float may be a plain number.

import { Ext, Float, KeyedMap, setKey } from "./msgpack.js";

/** Deepest container nesting, the body map counting as level 1 (SPEC.md 3.2.1, 10). */
export const MAX_DEPTH = 32;
export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);
const TWO_63 = 2 ** 63;

/** The msgpack type name of a value, for error messages. */
export function typeName(x) {
  if (x === null) return "nil";
  if (typeof x === "number") return Number.isInteger(x) ? "int" : "float";
  if (typeof x === "bigint") return "int";
  if (typeof x === "string") return "str";
  if (typeof x === "boolean") return "bool";
  if (x instanceof Float) return "float";
  if (Array.isArray(x)) return "array";
  if (x instanceof Uint8Array) return "bin";
  if (x instanceof Ext) return `extension ${x.type}`;
  if (x instanceof KeyedMap || x instanceof Map) return "map";
  if (typeof x === "object") return "map";
  return typeof x;
}

function isMap(x) {
  return typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof Float)
    && !(x instanceof Uint8Array) && !(x instanceof Ext) && !(x instanceof KeyedMap);
}

function entriesOf(x) {
  return x instanceof Map ? [...x.entries()] : Object.entries(x);
}

function isInt(x) {
  if (typeof x === "number") return Number.isInteger(x);
  return typeof x === "bigint";
}

function intInRange(x) {
  return typeof x === "number" ? Math.abs(x) < TWO_63 || x === -TWO_63 : x >= INT64_MIN && x <= INT64_MAX;
}

function within(found, part) {
  found[1].push(part);
  return found;
}

function key(k) {
  const text = typeof k === "string" ? k : String(k);
  return text.length <= 40 ? text : `${text.slice(0, 37)}...`;
}

/** What breaks the value rules in x, a value at nesting level depth (if it is a container). */
export function valueProblem(x, depth) {
  if (x === null || typeof x === "string" || typeof x === "boolean") return null;
  if (typeof x === "number" || typeof x === "bigint") {
    if (isInt(x)) return intInRange(x) ? null : ["an integer outside the signed 64-bit range", []];
    return Number.isFinite(x) ? null : [`${x} is not allowed (floats must be finite)`, []];
  }
  if (x instanceof Float) {
    return Number.isFinite(x.value) ? null : [`${x.value} is not allowed (floats must be finite)`, []];
  }
  if (x instanceof Uint8Array) return ["a bin value (job data must not hold bin)", []];
  if (x instanceof Ext) return [`a value of extension type ${x.type} (extension types are not allowed)`, []];
  if (x instanceof KeyedMap) {
    const bad = x.entries.find(([k]) => typeof k !== "string");
    return [`a map key of type ${typeName(bad[0])} (keys must be str)`, []];
  }
  if (Array.isArray(x) || isMap(x)) {
    if (depth > MAX_DEPTH) return [`containers nested deeper than ${MAX_DEPTH} levels`, []];
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) {
        const found = valueProblem(x[i], depth + 1);
        if (found) return within(found, `[${i}]`);
      }
      return null;
    }
    for (const [k, v] of entriesOf(x)) {
      if (typeof k !== "string") return [`a map key of type ${typeName(k)} (keys must be str)`, []];
      const found = valueProblem(v, depth + 1);
      if (found) return within(found, `.${key(k)}`);
    }
    return null;
  }
  return [`a value of type ${typeName(x)}`, []];
}

function check(label, problem) {
  return Object.freeze({ label, problem });
}

function mustBe(label, x) {
  return [`must be ${label}, not ${typeName(x)}`, []];
}

export const STR = check("str", (x) => (typeof x === "string" ? null : mustBe("str", x)));
export const BOOL = check("bool", (x) => (typeof x === "boolean" ? null : mustBe("bool", x)));
export const NIL = check("nil", (x) => (x === null ? null : mustBe("nil", x)));
export const UINT = check("uint", (x) => {
  if (!isInt(x)) return mustBe("uint", x);
  const ok = typeof x === "number" ? x >= 0 && x < TWO_63 : x >= 0n && x <= INT64_MAX;
  return ok ? null : ["must be 0..2^63-1", []];
});
export const FLOAT = check("float", (x) => {
  if (!(x instanceof Float) && typeof x !== "number" && typeof x !== "bigint") return mustBe("float", x);
  return valueProblem(x, 0);
});

/** any: any value under the value rules, at nesting level depth. */
export function anyValue(depth = 2) {
  return check("any", (x) => valueProblem(x, depth));
}

/** map: str keys, values under the value rules. */
export function anyMap(depth = 2) {
  return check("map", (x) => (isMap(x) ? valueProblem(x, depth) : mustBe("map", x)));
}

/** array of any values under the value rules. */
export function anyArray(depth = 2) {
  return check("array", (x) => (Array.isArray(x) ? valueProblem(x, depth) : mustBe("array", x)));
}

/** [T]: an array whose elements pass elem (built for level depth + 1). */
export function listOf(elem, depth = 2) {
  const label = `[${elem.label}]`;
  return check(label, (x) => {
    if (!Array.isArray(x)) return mustBe(label, x);
    if (depth > MAX_DEPTH) return [`containers nested deeper than ${MAX_DEPTH} levels`, []];
    for (let i = 0; i < x.length; i++) {
      const found = elem.problem(x[i]);
      if (found) return within(found, `[${i}]`);
    }
    return null;
  });
}

/** A | B: the first option that accepts x; a value of the right type but bad contents says why. */
export function union(...options) {
  const label = options.map((o) => o.label).join(" | ");
  return check(label, (x) => {
    const found = [];
    for (const o of options) {
      const p = o.problem(x);
      if (p === null) return null;
      found.push(p);
    }
    return found.find((p) => !p[0].startsWith("must be ")) ?? mustBe(label, x);
  });
}

/** "field.path[2]" and the reason, for the message of a bad_field error. */
export function explain(found, field) {
  const [reason, parts] = found;
  return [field + [...parts].reverse().join(""), reason];
}

/** x with every Float replaced by its number, in place where x is a container. */
export function unwrapFloats(x) {
  if (x instanceof Float) return x.value;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (typeof v === "object" && v !== null) x[i] = unwrapFloats(v);
    }
  } else if (isMap(x) && !(x instanceof Map)) {
    for (const k of Object.keys(x)) {
      const v = x[k];
      if (typeof v === "object" && v !== null) setKey(x, k, unwrapFloats(v));
    }
  }
  return x;
}
