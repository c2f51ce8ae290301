// CURVE: key pairs from ZeroMQ certificate files (as pyzmq's zmq.auth writes them), a live
// session through a CURVE front (test/support/curve_proxy.py: pyzmq's ZAP authenticator with
// an allow-list) to a real broker, and the peers it must refuse.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";

import { BrokerUnavailable, Client, curveFromFiles, KeyFileError, readCertificate } from "../index.js";
import { freePorts, python, REPO, System } from "./support/system.js";

/** No test here takes long; a hang fails the suite instead of stalling CI. */
const LIMIT_MS = 180_000;

const PROXY = fileURLToPath(new URL("./support/curve_proxy.py", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "medialoom-js-curve-"));
const certs = join(dir, "certs");
const made = spawnSync(python(), [PROXY, "certs", certs, "broker", "client", "stranger"], { cwd: REPO });
assert.equal(made.status, 0, `making certificates failed: ${made.stderr}`);
const key = (name, secret = false) => join(certs, `${name}.key${secret ? "_secret" : ""}`);

describe("certificate files", { timeout: LIMIT_MS }, () => {
  it("reads the public and the secret certificate pyzmq writes", () => {
    const pub = readCertificate(key("client"));
    const sec = readCertificate(key("client", true));
    assert.match(pub.publicKey, /^.{40}$/);
    assert.equal(pub.secretKey, undefined);
    assert.equal(sec.publicKey, pub.publicKey);
    assert.match(sec.secretKey, /^.{40}$/);
    assert.deepEqual(curveFromFiles(key("client", true), key("broker")),
      { publicKey: pub.publicKey, secretKey: sec.secretKey, serverKey: readCertificate(key("broker")).publicKey });
  });

  it("reads czmq's layout: metadata entries, comments, single quotes, deeper sections", () => {
    const path = join(dir, "czmq.cert");
    writeFileSync(path, "#   ZeroMQ CURVE **Secret** Certificate\n\nmetadata\n    name = \"nas worker\" # who\n"
      + "    email = 'ops@example.org'\ncurve\n    public-key = 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'\n"
      + "    secret-key = \"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6\"\n");
    assert.deepEqual(readCertificate(path), { publicKey: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
      secretKey: "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6" });
  });

  const bad = [
    ["a missing file", null, /cannot read the certificate \(ENOENT\)/],
    ["an empty file", "", /no curve public-key/],
    ["a key of 39 characters", 'curve\n    public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf"\n',
      /public-key is not a 40-character Z85 key/],
    ["a character outside Z85", 'curve\n    public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf~"\n',
      /not a 40-character Z85 key/],
    ["a tab for indent", 'curve\n\tpublic-key = "x"\n', /line 2: indent with multiples of 4 spaces/],
    ["an unterminated quote", 'curve\n    public-key = "rq:rM\n', /line 2: a quoted value must end/],
  ];
  for (const [what, text, problem] of bad) {
    it(`refuses ${what}, naming the file`, () => {
      const path = join(dir, `bad-${what.replaceAll(" ", "-")}`);
      if (text !== null) writeFileSync(path, text);
      assert.throws(() => readCertificate(path),
        (err) => err instanceof KeyFileError && err.code === "auth.bad_key" && err.path === path
          && problem.test(err.message)
          && err.message.startsWith(path));
    });
  }

  it("refuses a public certificate where the client's secret one is needed, or no broker key", () => {
    assert.throws(() => curveFromFiles(key("client"), key("broker")), /holds no curve secret-key/);
    assert.throws(() => new Client({ keyFile: key("client", true), env: {} }), /needs the broker's public key/);
    assert.throws(() => new Client({ env: { MEDIALOOM_KEY: join(dir, "nope") } }), KeyFileError);
  });
});

const FRONT = "a live session over CURVE, through an allow-listing CURVE front to a real broker";
describe(FRONT, { timeout: LIMIT_MS }, () => {
  let system;
  let proxy;
  let front;

  before(async () => {
    system = await System.start({ workers: 2 });
    const allow = join(dir, "allow");
    mkdirSync(allow);
    copyFileSync(key("client"), join(allow, "client.key"));
    const [clients, events] = await freePorts(2);
    front = { clients: `tcp://127.0.0.1:${clients}`, events: `tcp://127.0.0.1:${events}` };
    proxy = spawn(python(), [PROXY, "serve", "--certs", certs, "--allow", allow, "--clients", front.clients,
      "--events", front.events, "--broker-clients", system.clients, "--broker-events", system.eventsOut],
    { cwd: REPO, stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((resolve, reject) => {
      proxy.stdout.once("data", (chunk) => (String(chunk).includes("ready") ? resolve() : reject(new Error(chunk))));
      proxy.once("exit", (code) => reject(new Error(`the CURVE front exited ${code}`)));
    });
  });

  after(async () => {
    if (proxy && proxy.exitCode === null) {
      const exited = new Promise((resolve) => { proxy.once("exit", resolve); });
      proxy.kill("SIGTERM");
      assert.equal(await exited, 0);
    }
    await system?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const curveClient = (options) => new Client({ ...front, onWarning: () => {}, ...options });

  it("starts, watches, cancels and reads the status of a job with an allowed key", async () => {
    const c = curveClient({ keyFile: key("client", true), brokerKeyFile: key("broker") });
    try {
      assert.equal((await c.hello()).protocol, 1);
      const job = await c.start("sleep", { params: { seconds: 60, steps: 600 } });
      let seen = 0;
      let cancelled = false;
      for await (const j of c.watch(job.id)) {
        seen += 1;
        if (!cancelled && j.status === "running" && j.progress.processed >= 2) {
          cancelled = (await c.cancel(job.id)).cancel_requested;
        }
      }
      assert.ok(cancelled);
      assert.ok(seen >= 3, `${seen} maps watched`);
      const final = await c.status(job.id);
      assert.equal(final.status, "cancelled");
      assert.ok(final.progress.processed >= 2);
    } finally {
      await c.close();
    }
  });

  it("takes the key files from MEDIALOOM_KEY and MEDIALOOM_BROKER_KEY", async () => {
    const c = curveClient({ env: { MEDIALOOM_KEY: key("client", true), MEDIALOOM_BROKER_KEY: key("broker") } });
    try {
      assert.equal(typeof (await c.ping()), "number");
    } finally {
      await c.close();
    }
  });

  const refused = [
    ["a key the allow-list does not hold", { keyFile: key("stranger", true), brokerKeyFile: key("broker") }],
    ["no key at all (plain ZeroMQ)", {}],
    ["the wrong broker key", { keyFile: key("client", true), brokerKeyFile: key("stranger") }],
  ];
  for (const [what, options] of refused) {
    it(`gets no reply within 2 s with ${what}`, async () => {
      const c = curveClient({ ...options, timeoutMs: 2000 });
      try {
        await assert.rejects(c.ping(), BrokerUnavailable);
      } finally {
        await c.close();
      }
    });
  }
});
