// medialoom-client: a Node client of the medialoom broker (protocol/SPEC.md, version 1).

export { Client, dataDir, settingsFromEnv, TERMINAL, VERSION } from "./src/client.js";
export { mergeEvent } from "./src/watch.js";
export { curveFromFiles, readCertificate } from "./src/certs.js";
export { decode, encode, HARD_MAX_BYTES, MAX_BODY_BYTES, requestId, topic } from "./src/codec.js";
export { CHANNELS, TAGS } from "./src/messages.js";
export { Float } from "./src/msgpack.js";
export {
  BrokerUnavailable, ClientError, CODES, httpStatus, KeyFileError, MedialoomError, RemoteProtocolError,
} from "./src/errors.js";
