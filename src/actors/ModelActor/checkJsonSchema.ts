import { UnsupportedSchemaError } from './modelErrors.js';

/**
 * @internal Checks a JSON schema against what node-llama-cpp's JSON-schema grammar enforces (both
 * engines compile the same GBNF), and returns the schema to compile. Every keyword is enforced by
 * the grammar, an annotation, or refused with `UNSUPPORTED_SCHEMA` naming it and its JSON pointer:
 * the grammar compiler ignores what it does not know (`minimum` let a model write `1.2E2859`,
 * `pattern` let it write free text), so an unchecked schema would be silently not enforced.
 *
 * The grammar compiler picks one form per schema object, in this order: `$ref`, `oneOf`, `const`,
 * `enum`, `type: object`, `type: array`, `type: string` (with or without `format`), then other
 * types. Keywords of another form next to the chosen one are ignored by it, so they are refused too.
 * `anyOf` is compiled as `oneOf` (the returned copy), which enforces it exactly: the value matches
 * at least one alternative. An empty schema (`{}`) allows anything; the grammar writes null.
 */
export function checkJsonSchema(schema: object): object {
  return checkNode(schema, '', {}, 'schema');
}

/** Keywords that do not constrain a value: fine to ignore anywhere. */
const ANNOTATIONS = new Set([
  'title',
  'description',
  'examples',
  'default',
  '$schema',
  '$id',
  '$comment',
  'deprecated',
  'readOnly',
  'writeOnly',
]);

/** Types the grammar has a terminal for in a plain `type` (or a list of them). */
const BASIC_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);

/** The formats node-llama-cpp has a grammar for. */
const FORMATS = new Set(['date-time', 'date', 'time']);

type Json = Record<string, unknown>;
type Defs = Record<string, unknown>;

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function at(pointer: string, key: string | number): string {
  return `${pointer}/${typeof key === 'number' ? key : escapePointer(key)}`;
}

function refuse(pointer: string, keyword: string, reason: string): never {
  throw new UnsupportedSchemaError(keyword, at(pointer, keyword), reason);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function isLiteral(value: unknown): value is string | number | boolean | null {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number';
}

/** Whether a literal is of the JSON schema type `type`. */
function literalHasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    default:
      return false;
  }
}

/**
 * Checks one schema object at `pointer` (`where` names it for a non-object) with the `$defs` in
 * scope; returns it, with `anyOf` renamed `oneOf` wherever it occurs.
 */
function checkNode(node: unknown, pointer: string, outerDefs: Defs, where: string): object {
  if (!isObject(node)) {
    const keyword = pointer === '' ? 'schema' : pointer.slice(pointer.lastIndexOf('/') + 1);
    throw new UnsupportedSchemaError(
      keyword,
      pointer,
      `${where} must be a schema object, got ${JSON.stringify(node)} (boolean schemas are not supported)`,
    );
  }
  const out: Json = { ...node };
  const defs = checkDefs(node, pointer, outerDefs, out);
  if (node.definitions !== undefined) refuse(pointer, 'definitions', 'use $defs (references are #/$defs/name)');

  /** Keywords this form enforces; any other keyword that is not an annotation is refused. */
  const allowed = new Set(['$defs', ...checkForm(node, pointer, defs, out)]);
  for (const keyword of Object.keys(node)) {
    if (allowed.has(keyword) || ANNOTATIONS.has(keyword)) continue;
    refuse(pointer, keyword, 'the grammar does not enforce it');
  }
  return out;
}

/** Checks a node's `$defs` into `out`; returns the definitions in scope for the node. */
function checkDefs(node: Json, pointer: string, outerDefs: Defs, out: Json): Defs {
  if (node.$defs === undefined) return outerDefs;
  if (!isObject(node.$defs)) refuse(pointer, '$defs', 'expected an object of schemas');
  const defs = { ...outerDefs, ...node.$defs };
  const checked: Defs = {};
  for (const [name, def] of Object.entries(node.$defs)) {
    checked[name] = checkNode(def, at(at(pointer, '$defs'), name), defs, 'a definition');
  }
  out.$defs = checked;
  return defs;
}

/**
 * Checks a node as the form the grammar compiler picks for it, writing checked subschemas into
 * `out`; returns the keywords that form enforces.
 */
function checkForm(node: Json, pointer: string, defs: Defs, out: Json): string[] {
  if (node.$ref !== undefined) return checkRefNode(node, pointer, defs);
  if (node.oneOf !== undefined || node.anyOf !== undefined) return checkUnionNode(node, pointer, defs, out);
  if (node.const !== undefined || node.enum !== undefined) return checkConstEnumNode(node, pointer);
  if (node.type === 'object') return checkObjectNode(node, pointer, defs, out);
  if (node.type === 'array') return checkArrayNode(node, pointer, defs, out);
  if (node.type === 'string') return checkStringNode(node, pointer);
  if (node.type !== undefined) return checkScalarNode(node, pointer);
  return checkUntypedNode(node, pointer);
}

function checkRefNode(node: Json, pointer: string, defs: Defs): string[] {
  const ref = node.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/$defs/')) {
    refuse(pointer, '$ref', `only references to #/$defs/name are supported, got ${JSON.stringify(ref)}`);
  }
  const name = ref.slice('#/$defs/'.length);
  if (!Object.hasOwn(defs, name)) refuse(pointer, '$ref', `${ref} names no definition in $defs`);
  return ['$ref'];
}

function checkUnionNode(node: Json, pointer: string, defs: Defs, out: Json): string[] {
  if (node.oneOf !== undefined && node.anyOf !== undefined) {
    refuse(pointer, 'anyOf', 'anyOf next to oneOf is not supported');
  }
  const keyword = node.oneOf !== undefined ? 'oneOf' : 'anyOf';
  const alternatives = node[keyword];
  if (!Array.isArray(alternatives) || alternatives.length === 0) {
    refuse(pointer, keyword, 'expected a non-empty array of schemas');
  }
  out.oneOf = alternatives.map((alternative, i) =>
    checkNode(alternative, at(at(pointer, keyword), i), defs, 'an alternative'),
  );
  delete out.anyOf;
  return [keyword];
}

function checkConstEnumNode(node: Json, pointer: string): string[] {
  const keyword = node.const !== undefined ? 'const' : 'enum';
  if (keyword === 'const' && node.enum !== undefined) refuse(pointer, 'enum', 'enum next to const is not supported');
  const values = keyword === 'const' ? [node.const] : node.enum;
  if (!Array.isArray(values) || values.length === 0) refuse(pointer, 'enum', 'expected a non-empty array');
  values.forEach((value, i) => {
    if (!isLiteral(value)) {
      const where = keyword === 'const' ? at(pointer, 'const') : at(at(pointer, 'enum'), i);
      throw new UnsupportedSchemaError(keyword, where, 'only string, number, boolean and null values are supported');
    }
  });
  // A type next to the values is enforced by them when every value has it.
  if (node.type === undefined) return [keyword];
  const types = Array.isArray(node.type) ? node.type : [node.type];
  const bad = values.find((value) => !types.some((type) => typeof type === 'string' && literalHasType(value, type)));
  if (bad !== undefined) refuse(pointer, 'type', `${JSON.stringify(bad)} is not of type ${JSON.stringify(node.type)}`);
  return [keyword, 'type'];
}

function checkObjectNode(node: Json, pointer: string, defs: Defs, out: Json): string[] {
  let count = 0;
  if (node.properties !== undefined) {
    if (!isObject(node.properties)) refuse(pointer, 'properties', 'expected an object of schemas');
    const properties: Json = {};
    for (const [name, property] of Object.entries(node.properties)) {
      properties[name] = checkNode(property, at(at(pointer, 'properties'), name), defs, 'a property');
      count += 1;
    }
    out.properties = properties;
  }
  // The grammar writes every property in `properties`, so `required` holds if it names only them.
  if (node.required !== undefined) {
    const required = node.required;
    if (!Array.isArray(required)) refuse(pointer, 'required', 'expected an array of property names');
    required.forEach((name, i) => {
      if (typeof name !== 'string' || !isObject(node.properties) || !Object.hasOwn(node.properties, name)) {
        const where = at(at(pointer, 'required'), i);
        throw new UnsupportedSchemaError('required', where, `${JSON.stringify(name)} is not in properties`);
      }
    });
  }
  const additional = node.additionalProperties;
  if (additional !== undefined && typeof additional !== 'boolean') {
    out.additionalProperties = checkNode(additional, at(pointer, 'additionalProperties'), defs, 'additionalProperties');
  }
  const open = additional !== undefined && additional !== false;
  const min = node.minProperties;
  const max = node.maxProperties;
  if (min !== undefined && !isCount(min)) refuse(pointer, 'minProperties', 'expected a non-negative integer');
  if (max !== undefined && !isCount(max)) refuse(pointer, 'maxProperties', 'expected a non-negative integer');
  if (max !== undefined && (max < count || (min !== undefined && max < min))) {
    refuse(pointer, 'maxProperties', `${max} is below the ${Math.max(count, min ?? 0)} properties the grammar writes`);
  }
  if (min !== undefined && min > count && !open) {
    refuse(pointer, 'minProperties', `${min} properties cannot be written without additionalProperties`);
  }
  return ['type', 'properties', 'required', 'additionalProperties', 'minProperties', 'maxProperties'];
}

function checkArrayNode(node: Json, pointer: string, defs: Defs, out: Json): string[] {
  if (node.items !== undefined) {
    if (!isObject(node.items)) refuse(pointer, 'items', 'expected a schema object (use prefixItems for tuples)');
    out.items = checkNode(node.items, at(pointer, 'items'), defs, 'items');
  }
  let prefix = 0;
  if (node.prefixItems !== undefined) {
    if (!Array.isArray(node.prefixItems)) refuse(pointer, 'prefixItems', 'expected an array of schemas');
    out.prefixItems = node.prefixItems.map((item, i) =>
      checkNode(item, at(at(pointer, 'prefixItems'), i), defs, 'a prefix item'),
    );
    prefix = node.prefixItems.length;
  }
  const min = node.minItems;
  const max = node.maxItems;
  if (min !== undefined && !isCount(min)) refuse(pointer, 'minItems', 'expected a non-negative integer');
  if (max !== undefined && !isCount(max)) refuse(pointer, 'maxItems', 'expected a non-negative integer');
  if (max !== undefined && (max < prefix || (min !== undefined && max < min))) {
    refuse(pointer, 'maxItems', `${max} is below the ${Math.max(prefix, min ?? 0)} items the grammar writes`);
  }
  return ['type', 'items', 'prefixItems', 'minItems', 'maxItems'];
}

function checkStringNode(node: Json, pointer: string): string[] {
  if (node.format !== undefined) {
    if (typeof node.format !== 'string' || !FORMATS.has(node.format)) {
      refuse(pointer, 'format', `${JSON.stringify(node.format)} has no grammar; supported: ${[...FORMATS].join(', ')}`);
    }
    return ['type', 'format'];
  }
  const min = node.minLength;
  const max = node.maxLength;
  if (min !== undefined && !isCount(min)) refuse(pointer, 'minLength', 'expected a non-negative integer');
  if (max !== undefined && !isCount(max)) refuse(pointer, 'maxLength', 'expected a non-negative integer');
  if (max !== undefined && min !== undefined && max < min) refuse(pointer, 'maxLength', `${max} is below minLength ${min}`);
  return ['type', 'minLength', 'maxLength'];
}

function checkScalarNode(node: Json, pointer: string): string[] {
  const types = Array.isArray(node.type) ? node.type : [node.type];
  if (types.length === 0) refuse(pointer, 'type', 'expected a type or a non-empty list of types');
  for (const type of types) {
    if (typeof type !== 'string' || !BASIC_TYPES.has(type)) {
      const hint = type === 'object' || type === 'array' ? ` (in a list of types; use anyOf for ${type})` : '';
      refuse(pointer, 'type', `${JSON.stringify(type)} is not supported${hint}`);
    }
  }
  return ['type'];
}

/**
 * With none of the above the grammar writes only null, whatever else the schema says: a
 * constraining keyword here would be ignored.
 */
function checkUntypedNode(node: Json, pointer: string): string[] {
  const form = 'a type, const, enum, oneOf, anyOf or $ref';
  const other = Object.keys(node).find((keyword) => keyword !== '$defs' && !ANNOTATIONS.has(keyword));
  if (other !== undefined) refuse(pointer, other, `not enforced without ${form} (the grammar would write null)`);
  // An empty schema (`{}`, annotations only) allows any value, and null is one: nothing is ignored.
  return [];
}
