import type { FastifySchema, FastifySchemaValidationError, FastifyServerOptions } from 'fastify';
import { InvalidArgumentError } from '../../messaging/errors.js';

/**
 * @internal A route's declared schema: fastify validates `body`, `querystring` and `params` with
 * ajv before the handler runs; `summary` (and `description`) go into `GET /openapi.json`.
 */
export interface RouteSchema extends FastifySchema {
  summary: string;
  description?: string;
}

/** @internal A group of route schemas, each typed as a {@link RouteSchema} (so a summary-only one is a fastify schema too). */
export const routeSchemas = <K extends string>(schemas: Record<K, RouteSchema>): Record<K, RouteSchema> => schemas;

/**
 * @internal The options of fastify's ajv: validate, never rewrite. Fastify's defaults coerce types
 * (`"5"` would pass as 5, an object as a one-item array), fill in defaults and strip properties;
 * a request is read as it was sent, so all three are off. `verbose` puts the offending value and
 * its schema on each error, which the messages quote.
 */
export const AJV_OPTIONS = {
  customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false, verbose: true, allErrors: false },
} as const;

/**
 * A request that does not match its route's declared schema: `INVALID_ARGUMENT` (400), its message
 * naming the field (`messages[0].content`) and the value sent; `param` is the field's path, which
 * the OpenAI error body carries as its `param`.
 */
export class RequestValidationError extends InvalidArgumentError {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

/** An ajv error as fastify hands it over with `verbose` on. */
interface AjvError extends FastifySchemaValidationError {
  data?: unknown;
  schema?: unknown;
  parentSchema?: unknown;
  propertyName?: string;
}

/** Which part of the request failed: `body`, `querystring`, `params` or `headers`. */
type SchemaErrorDataVar = Parameters<NonNullable<FastifyServerOptions['schemaErrorFormatter']>>[1];
type Schema = Record<string, unknown>;
const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

/** How a value is quoted in a message: JSON, cut at 80 characters. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** `a`, `a or b`, `a, b or c`. */
function alternatives(items: readonly string[]): string {
  const unique = [...new Set(items)];
  if (unique.length <= 1) return unique[0] ?? 'valid';
  return `${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}`;
}

/** An enum or const value as a message lists it: strings bare (`float or base64`), the rest as JSON. */
const listed = (value: unknown) => (typeof value === 'string' && value !== '' ? value : show(value));

function numberText(type: string, s: Schema): string {
  const a = type === 'integer' ? 'an integer' : 'a number';
  const { minimum: min, maximum: max, exclusiveMinimum: above, exclusiveMaximum: below } = s;
  if (type === 'integer' && min === 1 && max === undefined) return 'a positive integer';
  if (min !== undefined && max !== undefined) return `${a} from ${String(min)} to ${String(max)}`;
  const bounds = [
    min === undefined ? '' : `>= ${String(min)}`,
    above === undefined ? '' : `> ${String(above)}`,
    max === undefined ? '' : `<= ${String(max)}`,
    below === undefined ? '' : `< ${String(below)}`,
  ].filter((bound) => bound !== '');
  return bounds.length > 0 ? `${a} ${bounds.join(' and ')}` : a;
}

function stringText(s: Schema): string {
  const { minLength: min, maxLength: max } = s;
  if (min === 1 && max === undefined) return 'a non-empty string';
  if (min !== undefined && max !== undefined) return `a string of ${String(min)} to ${String(max)} characters`;
  if (max !== undefined) return `a string of at most ${String(max)} characters`;
  if (min !== undefined) return `a string of at least ${String(min)} characters`;
  if (typeof s.pattern === 'string') return `a string matching /${s.pattern}/`;
  return 'a string';
}

/** What an array holds, when it is simple enough to say in a word (`strings`, `objects`). */
function itemsText(items: unknown): string | undefined {
  if (!isSchema(items) || typeof items.type !== 'string' || items.title !== undefined) return undefined;
  if (items.type === 'string') return items.minLength === 1 ? 'non-empty strings' : 'strings';
  return { number: 'numbers', integer: 'integers', object: 'objects', boolean: 'booleans' }[items.type];
}

function arrayText(s: Schema): string {
  const { minItems: min, maxItems: max } = s;
  const of = itemsText(s.items);
  const base = min === 1 && max === undefined ? 'a non-empty array' : 'an array';
  const size = max === undefined ? (typeof min === 'number' && min > 1 ? ` of at least ${min} items` : '') : ` of at most ${String(max)} items`;
  return `${base}${of === undefined ? '' : ` of ${of}`}${size}`;
}

const ARTICLE: Readonly<Record<string, string>> = { boolean: 'a boolean', object: 'an object', null: 'null' };

function typeText(type: string, s: Schema): string {
  if (type === 'integer' || type === 'number') return numberText(type, s);
  if (type === 'string') return stringText(s);
  if (type === 'array') return arrayText(s);
  return ARTICLE[type] ?? 'valid';
}

/**
 * @internal What a schema accepts, in words: `an integer from 1 to 8`, `a string, an array of
 * objects or null`, `system, user or assistant`. A schema's `title` is used as it is (the words
 * for a pattern: `a token id`).
 */
export function describeSchema(schema: unknown): string {
  return alternatives(alternativesOf(schema));
}

/** The values a schema accepts, one phrase each; unions and enums are flattened into one list. */
function alternativesOf(schema: unknown): string[] {
  if (!isSchema(schema)) return ['valid'];
  if (typeof schema.title === 'string') return [schema.title];
  if ('const' in schema) return [listed(schema.const)];
  if (Array.isArray(schema.enum)) return schema.enum.map(listed);
  const union = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(union)) return union.flatMap(alternativesOf);
  if (Array.isArray(schema.allOf) && schema.type === undefined) return alternativesOf(schema.allOf[0]);
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.map((type) => typeText(String(type), schema));
}

/** A JSON pointer (`/messages/0/content`) as the field it names (`messages[0].content`). */
function fieldPath(pointer: string, dataVar: SchemaErrorDataVar, extra?: string): string {
  const segments = pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (extra !== undefined) segments.push(extra);
  let path = dataVar === 'body' ? '' : dataVar === 'querystring' ? 'query' : dataVar;
  for (const segment of segments) {
    if (/^\d+$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) path += path === '' ? segment : `.${segment}`;
    else path += `[${JSON.stringify(segment)}]`;
  }
  return path;
}

const WHOLE: Readonly<Record<SchemaErrorDataVar, string>> = { body: 'the request body', querystring: 'the query string', params: 'the path', headers: 'the headers' };

/** Keywords that only say which alternative did not fit: a failed constraint beside them says more. */
const VAGUE = new Set(['type', 'const', 'enum', 'anyOf', 'oneOf', 'if', 'then', 'else', 'not', 'false schema']);

function depth(error: AjvError): number {
  const levels = error.instancePath === '' ? 0 : error.instancePath.split('/').length - 1;
  return levels + (error.keyword === 'required' ? 1 : 0);
}

function rank(error: AjvError): number {
  if (!VAGUE.has(error.keyword)) return 2;
  return error.keyword === 'anyOf' || error.keyword === 'oneOf' ? 1 : 0;
}

/**
 * @internal The error worth reporting: the deepest (the most precise field); at one depth, a failed
 * constraint (`maximum`) before the union that summarises its alternatives, before a bare type
 * mismatch of one alternative. So `temperature: 3` reads `must be a number from 0 to 2`, and
 * `content: 5` reads `must be a string, an array of objects or null`.
 */
export function primaryError<E extends FastifySchemaValidationError>(errors: readonly E[]): E | undefined {
  let best: E | undefined;
  for (const error of errors) {
    if (!best) best = error;
    else {
      const [d, b] = [depth(error), depth(best)];
      if (d > b || (d === b && rank(error) > rank(best))) best = error;
    }
  }
  return best;
}

/** The message of one ajv error: the field, what it must be, and the value sent. */
function describeError(error: AjvError, dataVar: SchemaErrorDataVar): RequestValidationError {
  const { keyword, params } = error;
  if (keyword === 'required') {
    const field = fieldPath(error.instancePath, dataVar, String(params.missingProperty));
    return new RequestValidationError(`${field} is required`, field);
  }
  const path = fieldPath(error.instancePath, dataVar);
  const subject = path === '' ? WHOLE[dataVar] : path;
  const key = error.propertyName ?? (keyword === 'propertyNames' ? params.propertyName : undefined);
  if (key !== undefined) {
    const names = keyword === 'propertyNames' ? error.schema : error.parentSchema;
    return new RequestValidationError(`${subject} has a key ${show(key)} that is not ${describeSchema(names)}`, path);
  }
  if (keyword === 'additionalProperties') {
    const field = fieldPath(error.instancePath, dataVar, String(params.additionalProperty));
    return new RequestValidationError(`${field} is not a field of ${subject}`, field);
  }
  if (keyword === 'maxProperties' || keyword === 'minProperties') {
    const count = isSchema(error.data) ? Object.keys(error.data).length : 0;
    const bound = keyword === 'maxProperties' ? 'at most' : 'at least';
    return new RequestValidationError(`${subject} may have ${bound} ${String(params.limit)} keys, got ${count}`, path);
  }
  const got = error.data === null && path === '' ? '' : `, got ${show(error.data)}`;
  if (path === '' && keyword === 'type') return new RequestValidationError(`${subject} must be a JSON object${got}`, path);
  const expected = keyword === 'not' || keyword === 'if' ? undefined : describeSchema(error.parentSchema);
  const what = expected === undefined || expected === 'valid' ? (error.message ?? 'is invalid') : `must be ${expected}`;
  return new RequestValidationError(`${subject} ${what}${got}`, path);
}

/**
 * @internal fastify's `schemaErrorFormatter`: ajv's errors for one part of the request (body,
 * querystring, params) as one {@link RequestValidationError}, which every route's error handler
 * answers in its API's shape (OpenAI, Anthropic, Ollama) like any other typed error.
 */
export function schemaErrorFormatter(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): Error {
  const error = primaryError(errors);
  if (!error) return new RequestValidationError(`${WHOLE[dataVar]} is invalid`, '');
  return describeError(error, dataVar);
}
