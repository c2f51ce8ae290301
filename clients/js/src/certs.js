// ZeroMQ CURVE certificate files, as pyzmq's zmq.auth.create_certificates and czmq's zcert
// write them: ZPL text (rfc.zeromq.org/spec/4) with a "curve" section holding
//     public-key = "<40 Z85 characters>"
//     secret-key = "<40 Z85 characters>"     (only in the secret file, NAME.key_secret)

import { readFileSync } from "node:fs";

import { KeyFileError } from "./errors.js";

const Z85 = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** The entries of a ZPL text as a Map from "section/name" paths to values. */
export function parseZpl(text, path = "<text>") {
  const entries = new Map();
  const stack = []; // section names by depth
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n];
    const line = raw.replace(/\s+$/, "");
    const content = line.trimStart();
    if (content === "" || content.startsWith("#")) continue;
    const indent = line.length - content.length;
    if (indent % 4 !== 0 || /^\t/.test(line)) {
      throw new KeyFileError(path, `line ${n + 1}: indent with multiples of 4 spaces (ZPL)`);
    }
    const depth = indent / 4;
    if (depth > stack.length) throw new KeyFileError(path, `line ${n + 1}: indented below no section`);
    stack.length = depth;
    const m = /^([\w$\-@.&+/]+)\s*(?:=\s*(.*))?$/.exec(content);
    if (!m) throw new KeyFileError(path, `line ${n + 1}: not "name" or "name = value"`);
    const [, name, rawValue] = m;
    if (rawValue === undefined) {
      stack.push(name);
      continue;
    }
    let value = rawValue.replace(/\s*#.*$/, "");
    const q = rawValue[0];
    if (q === '"' || q === "'") {
      const end = rawValue.indexOf(q, 1);
      if (end < 0 || !/^\s*(#.*)?$/.test(rawValue.slice(end + 1))) {
        throw new KeyFileError(path, `line ${n + 1}: a quoted value must end with its quote`);
      }
      value = rawValue.slice(1, end);
    }
    entries.set([...stack, name].join("/"), value);
    stack.push(name);
  }
  return entries;
}

function key(entries, name, path) {
  const value = entries.get(`curve/${name}`);
  if (value === undefined) return undefined;
  if (!Z85.test(value)) {
    throw new KeyFileError(path, `curve ${name} is not a 40-character Z85 key`);
  }
  return value;
}

/**
 * Read a certificate file: { publicKey, secretKey } (secretKey undefined in a public file).
 * KeyFileError, naming the file, when it cannot be read or holds no usable key.
 */
export function readCertificate(path) {
  let text;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new KeyFileError(path, `cannot read the certificate (${err.code ?? err.message})`);
  }
  const entries = parseZpl(text, path);
  const publicKey = key(entries, "public-key", path);
  if (publicKey === undefined) {
    throw new KeyFileError(path, 'no curve public-key: not a ZeroMQ certificate (expected a "curve" '
      + 'section with public-key = "...")');
  }
  return { publicKey, secretKey: key(entries, "secret-key", path) };
}

/**
 * The CURVE options of a client: { publicKey, secretKey, serverKey } from a secret
 * certificate (keyFile) and the broker's public certificate (brokerKeyFile).
 */
export function curveFromFiles(keyFile, brokerKeyFile) {
  const mine = readCertificate(keyFile);
  if (mine.secretKey === undefined) {
    throw new KeyFileError(keyFile, "holds no curve secret-key: give the secret certificate "
      + "(NAME.key_secret), not the public one");
  }
  if (!brokerKeyFile) {
    throw new KeyFileError(keyFile, "a client key needs the broker's public key too (brokerKeyFile)");
  }
  const broker = readCertificate(brokerKeyFile);
  return { publicKey: mine.publicKey, secretKey: mine.secretKey, serverKey: broker.publicKey };
}
