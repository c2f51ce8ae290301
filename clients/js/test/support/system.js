// A real broker (python -m medialoom.broker) and worker pool (python -m medialoom.workers) on
// free loopback ports with a temporary data dir and library root, as tests/support.py starts
// them: wait for a PING reply instead of sleeping, stop with SIGTERM and report exit codes.
// With { curve: true } the broker runs with --curve and `medialoom keys` has made, in its data
// dir, the keys js-client (role client: this system's own client), js-watch (role watch) and
// js-workers (role worker: the pool's); system.key(name) is an issued secret file.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { Client } from "../../index.js";

export const REPO = fileURLToPath(new URL("../../../../", import.meta.url));

/** The Python that runs medialoom: $MEDIALOOM_PYTHON, else the repo's .venv, else python3. */
export function python() {
  if (process.env.MEDIALOOM_PYTHON) return process.env.MEDIALOOM_PYTHON;
  const venv = join(REPO, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

/** n free TCP ports on 127.0.0.1. */
export async function freePorts(n) {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => resolve(s));
  })));
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((resolve) => { s.close(resolve); })));
  return ports;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function exited(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode ?? proc.signalCode);
  return new Promise((resolve) => { proc.once("exit", (code, signal) => resolve(code ?? signal)); });
}

/** A broker and optional workers for one test file. */
export class System {
  constructor(dir, ports, heartbeat) {
    this.dir = dir;
    this.root = join(dir, "library");
    this.dataDir = join(dir, "data");
    this.logs = join(dir, "logs");
    mkdirSync(this.root);
    mkdirSync(this.logs);
    [this.clients, this.workers, this.eventsIn, this.eventsOut] = ports.map((p) => `tcp://127.0.0.1:${p}`);
    this.heartbeat = heartbeat;
    this.procs = [];
    this.clientDefaults = {};
    this.poolEnv = {};
  }

  /** Start a broker (and a pool of workers processes, each with slots) and wait for them. */
  static async start({ workers = 0, slots = 2, heartbeat = 0.25, brokerArgs = [], curve = false } = {}) {
    const system = new System(mkdtempSync(join(tmpdir(), "medialoom-js-")), await freePorts(4), heartbeat);
    try {
      if (curve) {
        system.makeKeys();
        brokerArgs = [...brokerArgs, "--curve"];
      }
      await system.startBroker(brokerArgs);
      if (workers > 0) await system.startPool(workers, slots);
    } catch (err) {
      await system.stop();
      throw err;
    }
    return system;
  }

  /** The broker's key pair and the keys js-client, js-watch and js-workers, with `medialoom keys`. */
  makeKeys() {
    const keys = (...args) => {
      const out = spawnSync(python(), ["-m", "medialoom.clients.cli_main", "keys", ...args, "--data-dir",
        this.dataDir], { cwd: REPO, encoding: "utf8" });
      if (out.status !== 0) throw new Error(`medialoom keys ${args.join(" ")}: ${out.stderr}`);
    };
    keys("init");
    for (const [role, name] of [["client", "js-client"], ["watch", "js-watch"], ["worker", "js-workers"]]) {
      keys("add", "--role", role, name);
    }
    this.brokerKey = join(this.dataDir, "keys", "broker.key");
    this.clientDefaults = { keyFile: this.key("js-client"), brokerKeyFile: this.brokerKey };
    this.poolEnv = { MEDIALOOM_KEY: this.key("js-workers"), MEDIALOOM_BROKER_KEY: this.brokerKey };
  }

  /** The secret file of a key `medialoom keys add` issued. */
  key(name) {
    return join(this.dataDir, "keys", "issued", `${name}.key_secret`);
  }

  spawn(args, log, detached = false, env = {}) {
    const fd = openSync(join(this.logs, `${log}.log`), "a");
    try {
      const proc = spawn(python(), args, { cwd: REPO, stdio: ["ignore", fd, fd], detached,
        env: { ...process.env, ...env } });
      this.procs.push({ proc, log, detached });
      return proc;
    } finally {
      closeSync(fd);
    }
  }

  client(options = {}) {
    return new Client({ clients: this.clients, events: this.eventsOut, onWarning: () => {}, ...this.clientDefaults,
      ...options });
  }

  async startBroker(extra) {
    const proc = this.spawn(["-m", "medialoom.broker", "--data-dir", this.dataDir, "--root", this.root,
      "--clients", this.clients, "--workers", this.workers, "--events-in", this.eventsIn,
      "--events-out", this.eventsOut, "--heartbeat", String(this.heartbeat), "--liveness", "4", ...extra],
    "broker");
    const c = this.client({ timeoutMs: 500 });
    try {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (proc.exitCode !== null) throw new Error(`broker exited ${proc.exitCode}: ${this.log("broker")}`);
        try {
          await c.ping();
          return;
        } catch {
          // not up yet
        }
      }
      throw new Error(`broker did not answer PING: ${this.log("broker")}`);
    } finally {
      await c.close();
    }
  }

  /** python -m medialoom.workers -n N in a process group of its own; waits until N registered. */
  async startPool(n, slots) {
    this.spawn(["-m", "medialoom.workers", "-n", String(n), "--slots", String(slots), "--workers", this.workers,
      "--events-in", this.eventsIn, "--heartbeat", String(this.heartbeat)], "workers", true, this.poolEnv);
    await this.waitFor(async (c) => (await c.stats()).workers.length >= n, `${n} workers registered`);
  }

  async waitFor(predicate, what, timeoutMs = 30_000) {
    const c = this.client();
    try {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (await predicate(c)) return;
        await sleep(50);
      }
    } finally {
      await c.close();
    }
    throw new Error(`timed out waiting for ${what}\n${this.tails()}`);
  }

  log(name) {
    const path = join(this.logs, `${name}.log`);
    return existsSync(path) ? readFileSync(path, "utf8") : "";
  }

  tails(chars = 3000) {
    return `--- broker log ---\n${this.log("broker").slice(-chars)}\n--- workers log ---\n`
      + `${this.log("workers").slice(-chars)}`;
  }

  /** SIGTERM the workers, then the broker; { log name: exit code or "hung" }. */
  async stop() {
    const codes = {};
    for (const { proc, log, detached } of [...this.procs].reverse()) {
      if (proc.exitCode === null && proc.signalCode === null) {
        try {
          process.kill(detached ? -proc.pid : proc.pid, "SIGTERM");
        } catch {
          // gone already
        }
      }
      let timer;
      const hung = new Promise((resolve) => { timer = setTimeout(resolve, 15_000, "hung"); });
      const code = await Promise.race([exited(proc), hung]);
      clearTimeout(timer);
      if (code === "hung") process.kill(detached ? -proc.pid : proc.pid, "SIGKILL");
      codes[log] = code;
    }
    rmSync(this.dir, { recursive: true, force: true });
    return codes;
  }
}
