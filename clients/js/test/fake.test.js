// The client against a scripted broker on real sockets: every field of a reply is checked
// before a caller sees it, and watch follows the Clone pattern through duplicates, gaps,
// broken events and silence.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { Client, encode, Float, RemoteProtocolError } from "../index.js";
import { FakeBroker, jobMap } from "./support/fake.js";

/** No test here takes long; a hang fails the suite instead of stalling CI. */
const LIMIT_MS = 180_000;

const ID = "01JDC3ZPQV7WE2N6VYBN0CG6KF";

describe("replies that break the protocol are refused, not handed on", { timeout: LIMIT_MS }, () => {
  let fake;
  let client;
  let warnings;
  let answer; // (msg) -> the reply to send

  before(async () => {
    fake = await FakeBroker.start((msg) => answer(msg));
    warnings = [];
    client = new Client({ clients: fake.clients, events: fake.events, timeoutMs: 2000,
      onWarning: (text) => warnings.push(text) });
  });

  after(async () => {
    await client.close();
    await fake.close();
  });

  const reply = (data) => (msg) => ({ cmd: "REPLY", rid: msg.rid, data });

  it("passes a well-formed job map through, ints accepted for floats, new keys kept", async () => {
    answer = reply({ job: jobMap({ created: 1732352400, added_later: "x" }) });
    const job = await client.status(ID);
    assert.equal(job.created, 1732352400);
    assert.equal(job.progress.percent, 25);
    assert.equal(job.added_later, "x");
  });

  const cases = [
    ["a str seq", { job: jobMap({ seq: "7" }) }, "data.job.seq"],
    ["a float seq", { job: jobMap({ seq: new Float(7) }) }, "data.job.seq"],
    ["a negative attempts", { job: jobMap({ attempts: -1 }) }, "data.job.attempts"],
    ["no retry_of", (() => { const j = jobMap(); delete j.retry_of; return { job: j }; })(), "data.job.retry_of"],
    ["a progress counter as str", { job: jobMap({ progress: { ...jobMap().progress, total: "1200" } }) },
      "data.job.progress.total"],
    ["an error without code", { job: jobMap({ error: { message: "x" } }) }, "data.job.error.code"],
    ["no job at all", { jobs: [] }, "data.job"],
  ];
  for (const [what, data, path] of cases) {
    it(`refuses a STATUS reply with ${what} (${path})`, async () => {
      answer = reply(data);
      const before = client.dropped;
      await assert.rejects(client.status(ID), (err) => err instanceof RemoteProtocolError
        && err.code === "protocol.bad_field" && err.details.path === path);
      assert.equal(client.dropped, before + 1);
      assert.match(warnings.at(-1), new RegExp(path.replaceAll(".", "\\.")));
    });
  }

  it("checks the data of every other reply too", async () => {
    answer = reply({ now: "noon" });
    await assert.rejects(client.ping(), { details: { field: "data", path: "data.now" } });
    answer = reply({ jobs: [jobMap({ status: 3 })], total: 1 });
    await assert.rejects(client.list(), { details: { field: "data", path: "data.jobs[0].status" } });
    answer = reply({ items: [{ i: 0, path: "/a", status: "ok", message: "", duration_ms: "1", details: {} }], total: 1 });
    await assert.rejects(client.results(ID), { details: { field: "data", path: "data.items[0].duration_ms" } });
    answer = reply({ ops: [], total: 0, complete: 0 });
    await assert.rejects(client.plan(ID), { details: { field: "data", path: "data.complete" } });
    answer = reply({ cleared: null });
    await assert.rejects(client.clear(ID), { details: { field: "data", path: "data.cleared" } });
  });

  it("rejects at once a reply whose body is broken but whose rid can be read", async () => {
    answer = (msg) => {
      const [tag, body] = encode({ cmd: "REPLY", rid: msg.rid, data: { now: 1.5 } }, "reply");
      return [tag, body.subarray(0, body.length - 3)];
    };
    await assert.rejects(client.ping(), { name: "RemoteProtocolError", code: "protocol.bad_frame" });
    answer = (msg) => [Buffer.from("MLC2"), encode({ cmd: "REPLY", rid: msg.rid }, "reply")[1]];
    await assert.rejects(client.ping(), { code: "protocol.bad_version" });
  });

  it("logs an ERROR for no request in flight and keeps the request waiting", async () => {
    answer = () => ({ cmd: "ERROR", rid: 0, code: "protocol.bad_frame", message: "body must be a msgpack map" });
    await assert.rejects(client.ping({ timeoutMs: 500 }), { name: "BrokerUnavailable" });
    assert.match(warnings.at(-1), /ERROR protocol\.bad_frame for no request in flight \(rid 0\)/);
  });

  it("hands an ERROR on as ClientError with code and details", async () => {
    answer = (msg) => ({ cmd: "ERROR", rid: msg.rid, code: "job.conflict", message: "overlaps",
      details: { path: "/srv", job: ID } });
    await assert.rejects(client.start("scan", { paths: ["/srv"] }),
      { name: "ClientError", code: "job.conflict", message: "overlaps", details: { path: "/srv", job: ID } });
  });
});

describe("watch follows the Clone pattern", { timeout: LIMIT_MS }, () => {
  let fake;
  let client;
  let state; // the job map the fake's STATUS returns

  before(async () => {
    fake = await FakeBroker.start((msg) => (msg.cmd === "STATUS"
      ? { cmd: "REPLY", rid: msg.rid, data: { job: state } } : null));
    client = new Client({ clients: fake.clients, events: fake.events, onWarning: () => {} });
  });

  after(async () => {
    await client.close();
    await fake.close();
  });

  const progress = (processed) => ({ total: 10, processed, succeeded: processed, skipped: 0, failed: 0,
    remaining: 10 - processed, percent: new Float(processed * 10), rate: new Float(1.5), eta_seconds: null,
    current: `step ${processed}` });
  const event = (seq, status, processed, extra = {}) => ({ job: ID, seq, status, kind: "sleep", attempts: 1,
    progress: progress(processed), error: null, ts: 1732352500 + seq, ...extra });
  const statuses = () => fake.requests.filter((m) => m.cmd === "STATUS").length;

  it("applies the next event, drops old and broken ones, resyncs on a gap, ends on STATUS", async () => {
    state = jobMap({ status: "queued", seq: 1, attempts: 0, progress: progress(0) });
    const asked = statuses();
    const watching = client.watch(ID);
    let step = await watching.next();
    assert.equal(step.value.seq, 1, "the snapshot first");

    await fake.publish(event(2, "running", 1));
    step = await watching.next();
    assert.deepEqual([step.value.seq, step.value.status, step.value.progress.processed], [2, "running", 1]);
    assert.equal(step.value.updated, 1732352502, "updated from the event's ts");
    assert.equal(step.value.paths[0], "/srv/media/music", "the rest of the snapshot stays");

    await fake.publish(event(2, "running", 1)); // a duplicate
    await fake.publish(event(1, "queued", 0)); // older
    const [topic, tag, body] = encode({ cmd: "EVENT", ...event(3, "running", 2) }, "event");
    const nan = Buffer.from(body.toString("hex").replace("cb3ff8000000000000", "cb7ff8000000000000"), "hex");
    assert.notDeepEqual(nan, body);
    const droppedBefore = client.dropped;
    await fake.publish([topic, tag, nan]); // rate NaN: broken
    state = jobMap({ status: "running", seq: 5, attempts: 1, progress: progress(4) });
    await fake.publish(event(4, "running", 3)); // a gap: 3 never arrived intact
    step = await watching.next();
    assert.equal(step.value.seq, 5, "a gap is filled from STATUS");
    assert.equal(step.value.progress.processed, 4);
    assert.equal(client.dropped, droppedBefore + 1, "the NaN event was dropped");

    await fake.publish(event(6, "running", 5, { progress: { processed: 5 } }));
    step = await watching.next();
    assert.deepEqual(step.value.progress, { total: 0, processed: 5, succeeded: 0, skipped: 0, failed: 0,
      remaining: 0, percent: 0, rate: 0, eta_seconds: null, current: "" }, "missing progress keys are zero");

    state = jobMap({ status: "completed", seq: 7, finished: 1732352600.5, result: { slept_s: 1 } });
    await fake.publish(event(7, "completed", 10));
    step = await watching.next();
    assert.equal(step.value.status, "completed");
    assert.deepEqual(step.value.result, { slept_s: 1 }, "the terminal map comes from STATUS");
    assert.equal((await watching.next()).done, true, "a one-job watch ends with its job");
    assert.equal(statuses() - asked, 3, "STATUS for the snapshot, the gap and the end");
  });

  it("asks STATUS when the events go quiet, and yields only what is newer", async () => {
    state = jobMap({ status: "running", seq: 10 });
    const watching = client.watch(ID, { resyncMs: 200 });
    assert.equal((await watching.next()).value.seq, 10);
    state = jobMap({ status: "cancelled", seq: 12, finished: 1732352700.25 });
    const step = await watching.next(); // no event at all: found by STATUS
    assert.deepEqual([step.value.seq, step.value.status], [12, "cancelled"]);
    assert.equal((await watching.next()).done, true);
  });

  it("closes its socket when the loop is left early", async () => {
    state = jobMap({ status: "running", seq: 20 });
    for await (const job of client.watch(ID)) {
      assert.equal(job.seq, 20);
      break;
    }
    state = jobMap({ status: "completed", seq: 21, finished: 1732352800.5 });
    const all = [];
    for await (const job of client.watch(ID, { untilDone: true })) all.push(job.seq);
    assert.deepEqual(all, [21], "an ended job's watch yields its map and ends");
  });
});
