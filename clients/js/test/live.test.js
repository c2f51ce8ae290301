// A live session against a real broker and a pool of 2 worker processes:
// start -> watch -> cancel -> status, and the other calls, their errors and pipelining.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { BrokerUnavailable, Client, ClientError, TERMINAL } from "../index.js";
import { freePorts, System } from "./support/system.js";

/** No test here takes long; a hang fails the suite instead of stalling CI. */
const LIMIT_MS = 180_000;

describe("a live session against a real broker with 2 workers", { timeout: LIMIT_MS }, () => {
  let system;
  let client;

  before(async () => {
    system = await System.start({ workers: 2 });
    client = system.client();
  });

  after(async () => {
    await client?.close();
    const codes = await system?.stop();
    assert.deepEqual(codes, { workers: 0, broker: 0 }, "clean exits on SIGTERM");
  });

  it("says hello: protocol 1, the kinds and their specs", async () => {
    const hello = await client.hello();
    assert.equal(hello.protocol, 1);
    assert.ok(hello.kinds.includes("sleep"), hello.kinds);
    assert.equal(hello.specs.sleep.name, "sleep");
    assert.deepEqual(hello.roots, [system.root]);
    assert.equal(typeof (await client.ping()), "number");
  });

  it("starts a job, watches it run, cancels it and reads its final status", async () => {
    const started = await client.start("sleep", { params: { seconds: 60, steps: 600 } });
    assert.equal(started.status, "queued");
    assert.equal(started.seq, 1);
    const seen = [];
    let cancelled = null;
    for await (const job of client.watch(started.id)) {
      assert.equal(job.id, started.id);
      if (seen.length) assert.ok(job.seq > seen.at(-1).seq, `seq ${job.seq} after ${seen.at(-1).seq}`);
      seen.push(job);
      if (cancelled === null && job.status === "running" && job.progress.processed >= 3) {
        cancelled = await client.cancel(started.id);
        assert.equal(cancelled.status, "running");
        assert.equal(cancelled.cancel_requested, true);
      }
    }
    assert.ok(cancelled, `never saw progress: ${JSON.stringify(seen.map((j) => [j.status, j.progress.processed]))}`);
    const last = seen.at(-1);
    assert.equal(last.status, "cancelled", "the watch ends with the terminal map");
    assert.ok(last.finished > 0, "the final map comes from STATUS (finished is set)");
    assert.ok(seen.some((j) => j.status === "running" && j.progress.processed > 0), "progress was watched");
    const final = await client.status(started.id);
    assert.equal(final.status, "cancelled");
    assert.equal(final.cancel_requested, true);
    assert.equal(final.seq, last.seq);
    assert.ok(final.progress.processed >= 3 && final.progress.processed < 600, final.progress);
    const results = await client.results(started.id, { limit: 1000 });
    assert.equal(results.total, final.progress.processed, "partial results are kept");
    assert.deepEqual(results.items.map((row) => row.i), [...Array(results.items.length).keys()]);
    assert.deepEqual(await client.wait(started.id), final);
    const plan = await client.plan(started.id);
    assert.deepEqual(plan, { ops: [], total: 0, complete: false });
    assert.equal(await client.clear(started.id), started.id);
    await assert.rejects(client.status(started.id), { name: "ClientError", code: "job.not_found" });
  });

  it("waits for a job to complete and finds it in list and stats", async () => {
    const job = await client.start("sleep", { params: { steps: 5 }, priority: "high" });
    const done = await client.wait(job.id, { timeoutMs: 30_000 });
    assert.equal(done.status, "completed");
    assert.equal(done.progress.percent, 100);
    assert.deepEqual(done.result, { slept_s: 0 });
    const page = await client.list({ status: ["completed"], kind: ["sleep"], limit: 10 });
    assert.ok(page.jobs.some((j) => j.id === job.id));
    const stats = await client.stats();
    assert.equal(stats.workers.length, 2);
    assert.ok(stats.counts.completed >= 1);
  });

  it("watches every job with no id until told to stop", async () => {
    const ids = new Set();
    const ended = new Set();
    const watching = (async () => {
      for await (const job of client.watch(null)) {
        if (TERMINAL.has(job.status)) ended.add(job.id);
        if ([...ids].every((id) => ended.has(id)) && ids.size === 3) return;
      }
    })();
    await new Promise((resolve) => { setTimeout(resolve, 200); });
    for (let i = 0; i < 3; i++) ids.add((await client.start("sleep", { params: { steps: 2, seconds: 0.2 } })).id);
    await watching;
    for (const id of ids) assert.equal((await client.status(id)).status, "completed");
  });

  it("matches 500 pipelined requests to their replies by rid", async () => {
    const jobs = await Promise.all(Array.from({ length: 20 }, () => client.start("sleep", { params: { steps: 0 } })));
    const asks = [];
    for (let i = 0; i < 500; i++) asks.push(client.status(jobs[i % jobs.length].id));
    const answers = await Promise.all(asks);
    answers.forEach((job, i) => assert.equal(job.id, jobs[i % jobs.length].id));
  });

  it("rejects refused requests with the broker's code and details", async () => {
    await assert.rejects(client.status("01JDC3ZPQV7WE2N6VYBN0CG6KF"),
      (err) => err instanceof ClientError && err.code === "job.not_found");
    await assert.rejects(client.start("no-such-kind"),
      (err) => err.code === "job.unknown_kind" && err.details.field === "kind");
    await assert.rejects(client.start("sleep", { params: { steps: "many" } }),
      (err) => err.code === "job.bad_params" && err.details.field === "params.steps");
    await assert.rejects(client.start("sleep", { paths: ["/etc/passwd"] }),
      (err) => err.code === "path.forbidden" && err.details.path === "/etc/passwd");
    await assert.rejects(client.list({ limit: 0 }), (err) => err.code === "protocol.bad_field");
    assert.equal(typeof (await client.ping()), "number", "the connection stays usable");
  });

  it("refuses to send what breaks the protocol, naming the field", async () => {
    await assert.rejects(client.start("sleep", { params: { seconds: NaN } }), /params\.seconds.*finite/);
    await assert.rejects(client.start("sleep", { paths: "/srv" }), /paths: must be \[str\]/);
    await assert.rejects(client.start("sleep", { dry_run: true }), /unknown option "dry_run"/);
    await assert.rejects(client.start("sleep", { params: { pad: "x".repeat(1 << 20) } }),
      { code: "protocol.too_large" });
  });
});

describe("without a broker", { timeout: LIMIT_MS }, () => {
  it("raises BrokerUnavailable after the timeout", async () => {
    const [port] = await freePorts(1);
    const c = new Client({ clients: `tcp://127.0.0.1:${port}`, timeoutMs: 300 });
    try {
      await assert.rejects(c.ping(), (err) => err instanceof BrokerUnavailable && err.code === "broker.unavailable");
    } finally {
      await c.close();
    }
    await assert.rejects(c.ping(), /closed/);
  });
});
