import type { ChatImagePart } from '../actors/ModelActor/types.js';
import { RequestValidationError } from './schemas/validation.js';

/**
 * @internal Reading an image that came over HTTP into a {@link ChatImagePart}, the same way on
 * every route (OpenAI `image_url`, Anthropic `source`, Ollama `images`, Responses `input_image`).
 * A part made here carries `data` (+ `mimeType`) or `url`, never `path`: file paths are for
 * in-process callers only. Base64 must be valid (standard alphabet, padded) and non-empty; its size
 * needs no cap of its own, since the server's body limit (`bodyLimit`, 1 MiB by default) bounds the
 * encoded text and so the decoded bytes (three quarters of it). Each refusal is `INVALID_ARGUMENT`
 * (400) naming the field (`where`), as a schema error would.
 */

/** Base64 as the APIs send it: the standard alphabet in groups of four, padded with `=`. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** An image media type: `image/png`, `image/svg+xml`. */
const IMAGE_TYPE = /^image\/[A-Za-z0-9][A-Za-z0-9.+-]*$/;

/** `data:image/png;base64,...`, with optional `;name=value` parameters before `;base64`. */
const DATA_URL = /^data:([^;,]*)((?:;[^;,=]+=[^;,]*)*);base64,/i;

function quoted(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/**
 * @internal Base64 image bytes (`where` names the field holding them) with their media type, if
 * the API gives one (Ollama does not: the model reads the bytes' signature), as an image part.
 */
export function base64ImagePart(data: unknown, mimeType: string | undefined, where: string, typeField = where): ChatImagePart {
  if (typeof data !== 'string' || data.length === 0) throw new RequestValidationError(`${where} must be a non-empty base64 string, got ${quoted(data)}`, where);
  if (!BASE64.test(data)) throw new RequestValidationError(`${where} is not valid base64 (the standard alphabet A-Z a-z 0-9 + /, padded with =)`, where);
  if (mimeType !== undefined && !IMAGE_TYPE.test(mimeType)) {
    throw new RequestValidationError(`${typeField} must be an image media type (image/png, image/jpeg, ...), got ${quoted(mimeType)}`, typeField);
  }
  return { type: 'image', data, ...(mimeType === undefined ? {} : { mimeType: mimeType.toLowerCase() }) };
}

/**
 * @internal An image URL (`where` names it): a `data:image/...;base64,...` URL becomes
 * `{ type: 'image', data, mimeType }`, an `http://` or `https://` URL `{ type: 'image', url }`
 * (passed on as it is: a remote provider may fetch it, a local model never does); anything else
 * is refused.
 */
export function imageUrlPart(url: unknown, where: string): ChatImagePart {
  if (typeof url !== 'string') throw new RequestValidationError(`${where} must be a string: a data: or http(s) URL, got ${quoted(url)}`, where);
  const data = DATA_URL.exec(url);
  if (data) {
    const mimeType = data[1] ?? '';
    if (!IMAGE_TYPE.test(mimeType)) throw new RequestValidationError(`${where} must be a data URL of an image (data:image/png;base64,...), got ${quoted(url)}`, where);
    return base64ImagePart(url.slice(data[0].length), mimeType, where);
  }
  if (/^https?:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new RequestValidationError(`${where} is not a valid URL, got ${quoted(url)}`, where);
    }
    return { type: 'image', url: parsed.href };
  }
  throw new RequestValidationError(`${where} must be a data:image/...;base64 URL or an http(s) URL, got ${quoted(url)}`, where);
}
