// START ack latency and end-to-end no-op jobs/s driven from this JS client against a real
// broker with 2 worker processes (the workload of the fabric benchmark in benchmarks/), and,
// unless --no-python, the same workload from the Python client on the same broker, the two
// taking turns each round: this machine is shared and noisy, only figures taken side by side
// compare.  Medians over the rounds are printed.
//
//   node bench/bench.js [--quick] [--rounds N] [--no-python]     (npm run bench -- --quick)

import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";

import { python, REPO, System } from "../test/support/system.js";

const quick = process.argv.includes("--quick");
const withPython = !process.argv.includes("--no-python");
const ACKS = quick ? 1000 : 3000;
const JOBS = quick ? 2000 : 10_000;
const WINDOW = 2000;
const BROKER_ARGS = ["--queue-max", "1000000", "--log-level", "WARNING"];

/** The q-th percentile as Python's statistics.quantiles(n=100) gives it (exclusive method). */
export function pct(values, q) {
  const xs = [...values].sort((a, b) => a - b);
  if (xs.length < 2) return xs[0] ?? NaN;
  const m = xs.length + 1;
  const j = Math.min(Math.max(Math.floor((q * m) / 100), 1), xs.length - 1);
  const delta = q * m - j * 100;
  return (xs[j - 1] * (100 - delta) + xs[j] * delta) / 100;
}

async function ackLatency(system, n) {
  const c = system.client();
  const lat = [];
  try {
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await c.start("sleep", { params: { steps: 0 } });
      lat.push(performance.now() - t);
    }
  } finally {
    await c.close();
  }
  return [pct(lat, 50), pct(lat, 99)];
}

async function jobsPerSecond(system, n) {
  const c = system.client({ timeoutMs: 120_000 });
  try {
    let next = 0;
    const statuses = [];
    const t0 = performance.now();
    const lane = async () => {
      while (next < n) {
        next += 1;
        const job = await c.start("sleep", { params: { steps: 0 } });
        statuses.push((await c.wait(job.id, { pollMs: 60_000 })).status);
      }
    };
    await Promise.all(Array.from({ length: Math.min(WINDOW, n) }, lane));
    const elapsed = (performance.now() - t0) / 1000;
    const completed = statuses.filter((s) => s === "completed").length;
    if (completed !== n) throw new Error(`${completed} of ${n} jobs completed`);
    return n / elapsed;
  } finally {
    await c.close();
  }
}

// the same workload from the Python client (medialoom.clients.client), self-contained
const PYTHON_SIDE = `
import asyncio, json, statistics, sys, time
from medialoom.clients.client import AsyncClient, Client
clients, events, acks, jobs, window = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
out = {}
if acks:
    lat = []
    with Client(clients, events) as c:
        for _ in range(acks):
            t = time.perf_counter()
            c.start("sleep", params={"steps": 0})
            lat.append((time.perf_counter() - t) * 1000)
    q = statistics.quantiles(lat, n=100)
    out["ack"] = [q[49], q[98]]
async def throughput():
    async with AsyncClient(clients, events, timeout_s=120) as c:
        lane_free = asyncio.Semaphore(window)
        async def one():
            async with lane_free:
                job = await c.start("sleep", params={"steps": 0})
                return (await c.wait(job["id"], poll_s=60))["status"]
        t0 = time.perf_counter()
        statuses = await asyncio.gather(*[one() for _ in range(jobs)])
        assert statuses.count("completed") == jobs
        return jobs / (time.perf_counter() - t0)
if jobs:
    out["jps"] = asyncio.run(throughput())
print(json.dumps(out))
`;

function pythonFigures(system, acks, jobs) {
  const run = spawnSync(python(), ["-c", PYTHON_SIDE, system.clients, system.eventsOut, String(acks), String(jobs),
    String(WINDOW)],
    { cwd: REPO, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`the Python side failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").at(-1));
}

const ms = (x) => `${x.toFixed(3)} ms`;
const median = (xs) => pct(xs, 50);
const rate = (x) => `${Math.round(x).toLocaleString("en")} jobs/s`;

/** Each figure once per round, JS and Python taking turns to go first; medians printed. */
async function main() {
  const rounds = quick ? 1 : Number(process.argv[process.argv.indexOf("--rounds") + 1] || 3);
  console.log(`node ${process.version}; ${rounds} round(s), medians; ${ACKS} STARTs one at a time, `
    + `${JOBS} no-op jobs (sleep steps=0) pipelined ${WINDOW} at a time, start + wait each`);
  const fig = { jsAck: [], pyAck: [], jsBusyAck: [], pyBusyAck: [], jsJps: [], pyJps: [] };
  let system = await System.start({ workers: 0, brokerArgs: BROKER_ARGS, heartbeat: 1 });
  try {
    for (let r = 0; r < rounds; r++) {
      const js = async () => fig.jsAck.push(await ackLatency(system, ACKS));
      const py = async () => withPython && fig.pyAck.push(pythonFigures(system, ACKS, 0).ack);
      for (const step of r % 2 ? [py, js] : [js, py]) await step();
    }
  } finally {
    await system.stop();
  }
  system = await System.start({ workers: 2, slots: 64, brokerArgs: BROKER_ARGS, heartbeat: 1 });
  try {
    const busy = Math.round((ACKS * 2) / 3);
    for (let r = 0; r < rounds; r++) {
      const js = async () => {
        fig.jsBusyAck.push(await ackLatency(system, busy));
        fig.jsJps.push(await jobsPerSecond(system, JOBS));
      };
      const py = async () => {
        if (!withPython) return;
        const out = pythonFigures(system, busy, JOBS);
        fig.pyBusyAck.push(out.ack);
        fig.pyJps.push(out.jps);
      };
      for (const step of r % 2 ? [py, js] : [js, py]) await step();
    }
  } finally {
    await system.stop();
  }
  const acks = (list) => `p50 ${ms(median(list.map((x) => x[0])))}, p99 ${ms(median(list.map((x) => x[1])))}`;
  const lines = [
    ["START ack (persisted), no workers:        ", fig.jsAck, fig.pyAck, acks],
    ["START ack while 2 workers run each job:   ", fig.jsBusyAck, fig.pyBusyAck, acks],
    ["no-op jobs end to end, 2 worker processes:", fig.jsJps, fig.pyJps, (xs) => rate(median(xs))],
  ];
  for (const [what, js, py, show] of lines) {
    console.log(`js      ${what} ${show(js)}`);
    if (withPython) console.log(`python  ${what} ${show(py)}`);
  }
}

await main();
