/**
 * Codes of the NATS transport's errors (a connect that times out is the kernel's `TIMEOUT`). Stable:
 * never renamed once published.
 */
export const NatsErrorCode = {
  /** No exporter listens on the service subject. */
  NoResponders: 'NO_RESPONDERS',
  /** The NATS connection was closed (or draining) when a connect was tried. */
  ConnectionClosed: 'NATS_CONNECTION_CLOSED',
  /** The connect failed otherwise: a refused subscription, an answer that is not one. */
  ConnectFailed: 'NATS_CONNECT_FAILED',
} as const;
export type NatsErrorCode = (typeof NatsErrorCode)[keyof typeof NatsErrorCode];
