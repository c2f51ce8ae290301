// A scripted stand-in for the broker on real ZeroMQ sockets (a ROUTER and a PUB), for the
// replies and events a real broker never sends: malformed ones, gaps, duplicates.

import * as zmq from "zeromq";

import { decode, encode, Float } from "../../index.js";
import { fromJson, VALID } from "./vectors.js";

/** A copy of x that keeps Floats (structuredClone would not). */
export function copy(x) {
  if (x instanceof Float) return new Float(x.value);
  if (Array.isArray(x)) return x.map(copy);
  if (x !== null && typeof x === "object" && !(x instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, copy(v)]));
  }
  return x;
}

/** The job map of vector reply-status (floats as Float), with changes. */
export function jobMap(changes = {}) {
  const vector = VALID.find((v) => v.name === "reply-status");
  return { ...copy(fromJson(vector.message).data.job), ...changes };
}

/** A ROUTER answering each decoded request with handler(msg): a message, raw frames or null. */
export class FakeBroker {
  static async start(handler) {
    const fake = new FakeBroker();
    fake.handler = handler;
    fake.router = new zmq.Router({ linger: 0 });
    fake.pub = new zmq.Publisher({ linger: 0 });
    await fake.router.bind("tcp://127.0.0.1:*");
    await fake.pub.bind("tcp://127.0.0.1:*");
    fake.clients = fake.router.lastEndpoint;
    fake.events = fake.pub.lastEndpoint;
    fake.requests = [];
    fake.serving = fake.serve();
    return fake;
  }

  async serve() {
    for await (const [id, ...frames] of this.router) {
      const msg = decode(frames, "client");
      this.requests.push(msg);
      const answer = await this.handler(msg);
      if (answer === null) continue;
      await this.router.send([id, ...(Array.isArray(answer) ? answer : encode(answer, "reply"))]);
    }
  }

  /** Publish an EVENT (a message, or raw frames). */
  async publish(event) {
    await this.pub.send(Array.isArray(event) ? event : encode({ cmd: "EVENT", ...event }, "event"));
  }

  async close() {
    this.router.close();
    this.pub.close();
    await this.serving;
  }
}
