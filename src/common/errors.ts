/**
 * The one registry of camplex error codes. Every error a client or operator can see carries one
 * of these codes; docs/PROTOCOL.md lists the same table and a test keeps the two in step.
 */
export const ErrorCodes = {
  BAD_JSON: 'CAMPLEX_ERR_BAD_JSON',
  BAD_MESSAGE: 'CAMPLEX_ERR_BAD_MESSAGE',
  UNKNOWN_COMMAND: 'CAMPLEX_ERR_UNKNOWN_COMMAND',
  UNKNOWN_CAMERA: 'CAMPLEX_ERR_UNKNOWN_CAMERA',
  TOO_MANY_CAMERAS: 'CAMPLEX_ERR_TOO_MANY_CAMERAS',
  NO_FRAME: 'CAMPLEX_ERR_NO_FRAME',
  NOT_FOUND: 'CAMPLEX_ERR_NOT_FOUND',
  UNAUTHENTICATED: 'CAMPLEX_ERR_UNAUTHENTICATED',
  ORIGIN: 'CAMPLEX_ERR_ORIGIN',
  FORBIDDEN: 'CAMPLEX_ERR_FORBIDDEN',
  HOST: 'CAMPLEX_ERR_HOST',
  RATE_LIMITED: 'CAMPLEX_ERR_RATE_LIMITED',
  TOO_MANY_CONNECTIONS: 'CAMPLEX_ERR_TOO_MANY_CONNECTIONS',
  BAD_REQUEST: 'CAMPLEX_ERR_BAD_REQUEST',
  METHOD_NOT_ALLOWED: 'CAMPLEX_ERR_METHOD_NOT_ALLOWED',
  CONFIG: 'CAMPLEX_ERR_CONFIG',
  INTERNAL: 'CAMPLEX_ERR_INTERNAL',
  /** The camera's PTZ is not configured or does not answer now. */
  PTZ_UNAVAILABLE: 'CAMPLEX_ERR_PTZ_UNAVAILABLE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** WebSocket close codes camplex uses (RFC 6455 section 7.4.1). */
export const CloseCodes = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
} as const;

/** An error with a stable code, safe to show to a client (it never holds secrets). */
export class CamplexError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'CamplexError';
    this.code = code;
  }
}
