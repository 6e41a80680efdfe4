import type { ChatImagePart } from '../actors/ModelActor/types.js';
import type { Body } from './asObject.js';
import { base64ImagePart, imageUrlPart } from './imageParts.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';
import { RequestValidationError } from './schemas/validation.js';

const isObject = (value: unknown): value is Body => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * @internal An Anthropic `image` block (`at` names it, `messages[0].content[1]`) as an image part:
 * `source: {type: 'base64', media_type, data}` (an `image/...` type, valid base64) or
 * `source: {type: 'url', url}` (`http(s)://`, passed on as it is). A `file` source (the Files API)
 * is refused by name; anything else malformed is `INVALID_ARGUMENT` naming the field.
 */
export function anthropicImagePart(block: Body, at: string): ChatImagePart {
  const source = block.source;
  if (!isObject(source)) throw new RequestValidationError(`${at}.source is required in an image block: { type: 'base64', media_type, data } or { type: 'url', url }`, `${at}.source`);
  if (source.type === 'base64') {
    if (typeof source.media_type !== 'string') throw new RequestValidationError(`${at}.source.media_type is required with a base64 source`, `${at}.source.media_type`);
    return base64ImagePart(source.data, source.media_type, `${at}.source.data`, `${at}.source.media_type`);
  }
  if (source.type === 'url') {
    if (typeof source.url !== 'string' || !/^https?:\/\//i.test(source.url)) {
      throw new RequestValidationError(`${at}.source.url must be an http(s) URL, got ${JSON.stringify(source.url) ?? 'nothing'}`, `${at}.source.url`);
    }
    return imageUrlPart(source.url, `${at}.source.url`);
  }
  if (source.type === 'file') throw new UnsupportedParameterError(`${at}.source`, 'file sources (the Files API) are not implemented; send the image as base64 or a URL');
  throw new RequestValidationError(`${at}.source.type must be base64 or url, got ${JSON.stringify(source.type) ?? 'nothing'}`, `${at}.source.type`);
}
