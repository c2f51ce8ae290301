// Error classes and codes of the wire protocol (SPEC.md section 9).

/** code -> HTTP status (SPEC.md 9.1); a code this version does not know counts as 500. */
export const CODES = Object.freeze({
  "protocol.bad_frame": 400,
  "protocol.bad_version": 400,
  "protocol.unknown_command": 400,
  "protocol.bad_field": 400,
  "protocol.too_large": 413,
  "auth.unauthorized": 401,
  "auth.forbidden": 403,
  "path.forbidden": 403,
  "path.not_found": 404,
  "job.not_found": 404,
  "job.unknown_kind": 400,
  "job.bad_params": 400,
  "job.conflict": 409,
  "job.not_finished": 409,
  "job.finished": 409,
  "job.nothing_to_retry": 409,
  "queue.full": 503,
  "broker.unavailable": 502,
  internal: 500,
});

/** HTTP status of an error code (500 for codes this version does not know). */
export function httpStatus(code) {
  return Object.hasOwn(CODES, code) ? CODES[code] : 500;
}

/** Base class: an error with a stable wire code, a message for people and optional details. */
export class MedialoomError extends Error {
  constructor(message, { code = "internal", details = null } = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** A peer sent bytes that break the protocol (the broker's reply, an event, a vector). */
export class RemoteProtocolError extends MedialoomError {
  constructor(message, { code = "protocol.bad_frame", details = null } = {}) {
    super(message, { code, details });
  }
}

/** The broker refused a request: ``code`` is the ERROR's code, ``details`` its details. */
export class ClientError extends MedialoomError {}

/** No answer from the broker within the timeout (never sent on the wire, SPEC.md 9.1). */
export class BrokerUnavailable extends MedialoomError {
  constructor(message) {
    super(message, { code: "broker.unavailable" });
  }
}

/** A CURVE certificate file that cannot be used (code auth.bad_key, as the C client's); ``path`` names it. */
export class KeyFileError extends MedialoomError {
  constructor(path, problem) {
    super(`${path}: ${problem}`, { code: "auth.bad_key", details: { path } });
    this.path = path;
  }
}
