/** Defaults of the size limits; deployments override them through config. */
export const DEFAULT_LIMITS = {
  /** Longest message body, in UTF-16 code units (what `String.length` counts). */
  maxBodyChars: 4000,
  /** Largest WebSocket text frame accepted, in bytes of UTF-8. */
  maxFrameBytes: 16_384,
  /** Longest client message id. */
  maxClientMsgIdChars: 64,
  /** Largest page of history. */
  maxHistoryLimit: 200,
  /** Page size when `limit` is not given. */
  defaultHistoryLimit: 50,
} as const;

/** The limits one parser call enforces. */
export interface FrameLimits {
  maxBodyChars: number;
}
