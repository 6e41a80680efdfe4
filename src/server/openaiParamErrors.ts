import { ActorError, ErrorKind } from '../messaging/errors.js';

/** Codes of the OpenAI completion routes' own refusals. Never renamed once published. */
export const OpenAiParamErrorCode = {
  UnsupportedParameter: 'UNSUPPORTED_PARAMETER',
} as const;
export type OpenAiParamErrorCode = (typeof OpenAiParamErrorCode)[keyof typeof OpenAiParamErrorCode];

/**
 * An OpenAI request parameter (or a value of one) this server cannot honour, refused rather than
 * ignored: a client that asked for it would otherwise get an answer that silently lacks it. 400.
 */
export class UnsupportedParameterError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly parameter: string,
    reason: string,
  ) {
    super(OpenAiParamErrorCode.UnsupportedParameter, `${parameter} is not supported: ${reason}`);
  }
}
