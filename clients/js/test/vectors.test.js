// Every committed protocol vector against this package's codec (SPEC.md section 12):
// valid ones encode byte for byte and decode back (types included: 3.0 is not 3),
// every invalid one is refused with its code, details and (client channel) rid.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { decode as referenceDecode } from "@msgpack/msgpack";

import { decode, encode, requestId } from "../src/codec.js";
import { RemoteProtocolError } from "../src/errors.js";
import { CHANNELS } from "../src/messages.js";
import { Float } from "../src/msgpack.js";
import { framesOf, fromJson, INVALID, VALID } from "./support/vectors.js";

const hex = (frames) => frames.map((f) => Buffer.from(f).toString("hex"));
/** A copy of x with every Float a number (what decode gives without { exact: true }). */
function plain(x) {
  if (x instanceof Float) return x.value;
  if (Array.isArray(x)) return x.map(plain);
  if (x !== null && typeof x === "object" && !(x instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  }
  return x;
}

describe("the vector files", () => {
  it("name only commands this codec knows, on every channel", () => {
    const channels = new Set(VALID.map((v) => v.channel));
    assert.deepEqual([...channels].sort(), Object.keys(CHANNELS).sort());
    for (const v of VALID) assert.ok(Object.hasOwn(CHANNELS[v.channel], v.message.cmd), `${v.channel} ${v.message.cmd}`);
    assert.ok(VALID.length > 50 && INVALID.length > 80, `${VALID.length} valid, ${INVALID.length} invalid vectors`);
  });
});

describe("valid vectors", () => {
  for (const vector of VALID) {
    const expected = fromJson(vector.message);
    if (!vector.decode_only) {
      it(`${vector.name}: encoding the message gives the frames byte for byte`, () => {
        assert.deepEqual(hex(encode(expected, vector.channel)), vector.frames);
      });
    }
    it(`${vector.name}: the frames decode to the message, with its types`, () => {
      const exact = decode(framesOf(vector), vector.channel, { exact: true });
      assert.deepEqual(exact, expected);
      assert.deepEqual(Object.keys(exact), Object.keys(expected), "fields in wire order");
      assert.deepEqual(decode(framesOf(vector), vector.channel), plain(expected));
    });
    if (!vector.decode_only) {
      it(`${vector.name}: @msgpack/msgpack reads the same body`, () => {
        const body = framesOf(vector).at(-1);
        assert.deepEqual(referenceDecode(body), plain(expected));
      });
    }
  }
});

describe("invalid vectors", () => {
  for (const vector of INVALID) {
    const codes = [vector.error, ...(vector.also_accept ?? [])];
    it(`${vector.name}: refused with ${codes.join(" or ")}`, () => {
      let caught;
      try {
        decode(framesOf(vector), vector.channel);
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof RemoteProtocolError, `not refused (${caught})`);
      assert.ok(codes.includes(caught.code), `${caught.code}: ${caught.message}`);
      if (vector.details && caught.code === vector.error) assert.deepEqual(caught.details, vector.details);
    });
    if (vector.channel === "client") {
      it(`${vector.name}: the broker's ERROR would carry rid ${vector.rid}`, () => {
        assert.equal(requestId(framesOf(vector)), vector.rid);
      });
    }
  }
});

describe("encoding what the vectors cannot show", () => {
  it("writes a float field given as an integral number as float 64", () => {
    const [, , body] = encode({ cmd: "EVENT", job: "J", seq: 1, status: "queued", ts: 3 }, "event");
    assert.equal(body.subarray(-9).toString("hex"), "cb4008000000000000");
  });

  it("keeps a Float in job data a float, and a number with a fraction too", () => {
    const [, body] = encode({ cmd: "START", rid: 1, kind: "k", params: { a: new Float(2), b: 0.5 } }, "client");
    assert.ok(body.includes(Buffer.from("a161cb4000000000000000", "hex")));
    assert.ok(body.includes(Buffer.from("a162cb3fe0000000000000", "hex")));
  });

  it("refuses to send what the value rules forbid", () => {
    for (const params of [{ a: NaN }, { a: Infinity }, { a: new Uint8Array(1) }, { a: undefined },
      { a: 2n ** 63n }, { a: () => 1 }]) {
      assert.throws(() => encode({ cmd: "START", rid: 1, kind: "k", params }, "client"), TypeError);
    }
    assert.throws(() => encode({ cmd: "STATUS", rid: -1, job: "x" }, "client"), /rid/);
    assert.throws(() => encode({ cmd: "STATUS", rid: 1 }, "client"), /needs field job/);
    assert.throws(() => encode({ cmd: "REPLY", rid: 1 }, "client"), /no command/);
  });

  it("encodes a key named __proto__ as a key and decodes it back as one", () => {
    const params = JSON.parse('{"__proto__": {"x": 1}}');
    const frames = encode({ cmd: "START", rid: 1, kind: "k", params }, "client");
    const back = decode(frames, "client");
    assert.deepEqual(Object.keys(back.params), ["__proto__"]);
    assert.equal(Object.getPrototypeOf(back.params), Object.prototype);
  });

  it("decodes ints beyond 2^53 as bigint, exactly", () => {
    const frames = encode({ cmd: "PING", rid: 2n ** 62n + 1n }, "client");
    assert.equal(decode(frames, "client").rid, 2n ** 62n + 1n);
  });
});
