// CURVE: key pairs from ZeroMQ certificate files (as pyzmq's zmq.auth writes them), a live
// session with a real broker that runs with --curve (its keys made by `medialoom keys`), and
// the peers it must refuse.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import {
  BrokerUnavailable, Client, ClientError, curveFromFiles, httpStatus, KeyFileError, readCertificate,
} from "../index.js";
import { python, REPO, System } from "./support/system.js";

/** No test here takes long; a hang fails the suite instead of stalling CI. */
const LIMIT_MS = 180_000;

const dir = mkdtempSync(join(tmpdir(), "medialoom-js-curve-"));
const certs = join(dir, "certs");
// key pairs as pyzmq writes them (zmq.auth.create_certificates), not as medialoom keys does
const made = spawnSync(python(), ["-c", "import os, sys, zmq.auth\nos.makedirs(sys.argv[1])\n"
  + "for n in sys.argv[2:]: zmq.auth.create_certificates(sys.argv[1], n)", certs, "broker", "client", "stranger"],
{ cwd: REPO });
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
    assert.throws(() => new Client({ keyFile: key("client", true), env: { MEDIALOOM_DATA_DIR: join(dir, "none") } }),
      (err) => err instanceof KeyFileError && err.path === join(dir, "none", "keys", "broker.key")
        && /needs the broker's public key/.test(err.message));
    assert.throws(() => new Client({ env: { MEDIALOOM_KEY: join(dir, "nope") } }), KeyFileError);
  });
});

const LIVE = "a live session over CURVE with a real broker that runs with --curve";
describe(LIVE, { timeout: LIMIT_MS }, () => {
  let system;

  before(async () => {
    system = await System.start({ workers: 2, curve: true });
  });

  after(async () => {
    const codes = await system?.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(Object.values(codes ?? {}).filter((c) => c !== 0), [], `exit codes ${JSON.stringify(codes)}`);
  });

  const curveClient = (options) => new Client({ clients: system.clients, events: system.eventsOut,
    onWarning: () => {}, ...options });

  it("starts, watches, cancels and reads the status of a job with a client key", async () => {
    const c = curveClient({ keyFile: system.key("js-client"), brokerKeyFile: system.brokerKey });
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

  it("takes MEDIALOOM_KEY, and the broker key from the data dir by default", async () => {
    const c = curveClient({ env: { MEDIALOOM_KEY: system.key("js-client"), MEDIALOOM_DATA_DIR: system.dataDir } });
    try {
      assert.equal(typeof (await c.ping()), "number");
    } finally {
      await c.close();
    }
  });

  it("reads with a watch key, and START with it is auth.forbidden (HTTP 403)", async () => {
    const c = curveClient({ keyFile: system.key("js-watch"), brokerKeyFile: system.brokerKey });
    try {
      assert.equal(typeof (await c.list()).total, "number");
      await assert.rejects(c.start("sleep", { params: { steps: 1 } }), (err) => err instanceof ClientError
        && err.code === "auth.forbidden" && httpStatus(err.code) === 403 && err.details.role === "watch");
      assert.equal(typeof (await c.ping()), "number"); // the connection stays usable
    } finally {
      await c.close();
    }
  });

  const refused = [
    ["a key no allow-list holds", () => ({ keyFile: key("stranger", true), brokerKeyFile: system.brokerKey })],
    ["a worker key on the client socket", () => ({ keyFile: system.key("js-workers"), brokerKeyFile: system.brokerKey })],
    ["no key at all (plain ZeroMQ)", () => ({})],
    ["the wrong broker key", () => ({ keyFile: system.key("js-client"), brokerKeyFile: key("stranger") })],
  ];
  for (const [what, options] of refused) {
    it(`gets no reply within 2 s with ${what}`, async () => {
      const c = curveClient({ ...options(), timeoutMs: 2000 });
      try {
        await assert.rejects(c.ping(), BrokerUnavailable);
      } finally {
        await c.close();
      }
    });
  }
});
