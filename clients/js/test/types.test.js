// index.d.ts against a use of every call (test/types/usage.ts), compiled by TypeScript in
// strict mode: a declaration that does not match the package's shape fails here.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { it } from "node:test";

import * as pkg from "../index.js";

it("index.d.ts type-checks a use of the whole API (tsc --strict)", () => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const project = fileURLToPath(new URL("./types/tsconfig.json", import.meta.url));
  const run = spawnSync(process.execPath, [tsc, "-p", project], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});

it("index.d.ts declares every export of index.js", async () => {
  const { readFile } = await import("node:fs/promises");
  const dts = await readFile(new URL("../index.d.ts", import.meta.url), "utf8");
  for (const name of Object.keys(pkg)) {
    assert.match(dts, new RegExp(`export (declare )?(class|function|const|type|interface) ${name}\\b`), name);
  }
});
