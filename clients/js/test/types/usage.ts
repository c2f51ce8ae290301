// Compiled (not run) by test/types.test.js: the declarations in index.d.ts describe this use.
import {
  BrokerUnavailable, Client, ClientError, decode, encode, Float, KeyFileError, readCertificate,
  RemoteProtocolError, TERMINAL, type Job,
} from "medialoom-client";

async function session(): Promise<number> {
  const client = new Client({ clients: "tcp://127.0.0.1:5570", timeoutMs: 1000, onWarning: (t: string) => t });
  try {
    const hello = await client.hello();
    const kinds: string[] = hello.kinds;
    const job: Job = await client.start("sleep", { params: { seconds: new Float(1), steps: 3 }, priority: "high" });
    for await (const seen of client.watch(job.id, { resyncMs: 500 })) {
      const percent: number = seen.progress.percent;
      if (TERMINAL.has(seen.status)) break;
      if (percent > 50) await client.cancel(seen.id);
    }
    const page = await client.results(job.id, { limit: 10 });
    const first: string | undefined = page.items[0]?.path;
    const { jobs, total } = await client.list({ status: ["completed"], kind: kinds });
    const done: Job = await client.wait(job.id, { timeoutMs: null });
    const cleared: string = await client.clear(done.id);
    const stats = await client.stats();
    return jobs.length + Number(total) + (first ?? cleared).length + stats.workers.length;
  } catch (err) {
    if (err instanceof ClientError || err instanceof BrokerUnavailable || err instanceof RemoteProtocolError) {
      const code: string = err.code;
      return code.length;
    }
    throw err;
  } finally {
    await client.close();
  }
}

const frames: Uint8Array[] = encode({ cmd: "PING", rid: 1 }, "client");
const message = decode(frames, "client", { exact: true });
const cmd: string = message.cmd;
export function brokerKey(path: string): string {
  try {
    const { publicKey, secretKey } = readCertificate(path);
    return publicKey + (secretKey ?? "");
  } catch (err) {
    if (err instanceof KeyFileError) return err.path;
    throw err;
  }
}
void session();
void cmd;
