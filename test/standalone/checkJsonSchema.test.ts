import { describe, expect, it } from 'vitest';
import { checkJsonSchema } from '../../src/actors/ModelActor/checkJsonSchema.js';
import { resolveGenerationParams } from '../../src/actors/ModelActor/resolveGenerationParams.js';
import { ModelErrorCode, UnsupportedSchemaError } from '../../src/index.js';

/** The error `checkJsonSchema(schema)` throws, or a failure if it accepts the schema. */
function refusal(schema: object): UnsupportedSchemaError {
  try {
    checkJsonSchema(schema);
  } catch (error) {
    if (error instanceof UnsupportedSchemaError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(schema)}`);
}

const person = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer' } },
  required: ['name', 'age'],
};

describe('checkJsonSchema: keywords the grammar enforces pass', () => {
  it.each([
    ['basic types', { type: 'number' }],
    ['integer', { type: 'integer' }],
    ['boolean', { type: 'boolean' }],
    ['null', { type: 'null' }],
    ['a list of basic types', { type: ['string', 'null'] }],
    ['string lengths', { type: 'string', minLength: 1, maxLength: 20 }],
    ['an empty schema (any value; the grammar writes null)', {}],
    ['annotations only', { description: 'anything' }],
    ['formats with a grammar', { type: 'string', format: 'date-time' }],
    ['date', { type: 'string', format: 'date' }],
    ['time', { type: 'string', format: 'time' }],
    ['const', { const: 'fixed' }],
    ['const with its type', { type: 'string', const: 'fixed' }],
    ['enum', { enum: ['a', 1, true, null] }],
    ['enum with its types', { type: ['string', 'integer'], enum: ['a', 2] }],
    ['object', person],
    ['additionalProperties false', { ...person, additionalProperties: false }],
    ['additionalProperties true', { type: 'object', additionalProperties: true, minProperties: 1, maxProperties: 3 }],
    ['additionalProperties schema', { type: 'object', additionalProperties: { type: 'number' } }],
    ['min/maxProperties', { ...person, minProperties: 2, maxProperties: 2 }],
    ['array', { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 3 }],
    ['prefixItems', { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], maxItems: 2 }],
    ['oneOf', { oneOf: [{ type: 'string' }, { type: 'number' }] }],
    ['anyOf', { anyOf: [{ type: 'string' }, { type: 'null' }] }],
    [
      '$defs and $ref',
      { $defs: { id: { type: 'integer' } }, type: 'object', properties: { a: { $ref: '#/$defs/id' } } },
    ],
    ['a $ref to an outer $defs from inside', { $defs: { s: { type: 'string' } }, type: 'array', items: { $ref: '#/$defs/s' } }],
  ])('%s', (_name, schema) => {
    expect(() => checkJsonSchema(schema)).not.toThrow();
  });

  it('annotations pass anywhere', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'https://example.com/person',
      $comment: 'internal',
      title: 'Person',
      description: 'A person',
      examples: [{ name: 'Ada', age: 36 }],
      default: { name: '', age: 0 },
      type: 'object',
      properties: {
        name: { type: 'string', title: 'Name', description: 'given name', deprecated: false, readOnly: true },
        age: { type: 'integer', default: 0, examples: [1, 2], writeOnly: false },
      },
    };
    expect(() => checkJsonSchema(schema)).not.toThrow();
  });

  it('returns the schema to compile: anyOf becomes oneOf, at every depth, the input untouched', () => {
    const schema = { type: 'object', properties: { v: { anyOf: [{ type: 'string' }, { type: 'null' }] } } };
    const copy = JSON.parse(JSON.stringify(schema));
    expect(checkJsonSchema(schema)).toEqual({
      type: 'object',
      properties: { v: { oneOf: [{ type: 'string' }, { type: 'null' }] } },
    });
    expect(schema).toEqual(copy);
  });
});

describe('checkJsonSchema: every unsupported keyword is refused with its pointer', () => {
  it.each([
    ['minimum', { type: 'number', minimum: 0 }, '/minimum'],
    ['maximum', { type: 'number', maximum: 10 }, '/maximum'],
    ['exclusiveMinimum', { type: 'number', exclusiveMinimum: 0 }, '/exclusiveMinimum'],
    ['exclusiveMaximum', { type: 'integer', exclusiveMaximum: 9 }, '/exclusiveMaximum'],
    ['multipleOf', { type: 'integer', multipleOf: 2 }, '/multipleOf'],
    ['pattern', { type: 'string', pattern: '^[a-z]+$' }, '/pattern'],
    ['format without a grammar', { type: 'string', format: 'email' }, '/format'],
    ['minLength next to format', { type: 'string', format: 'date', minLength: 3 }, '/minLength'],
    ['patternProperties', { type: 'object', patternProperties: { '^x': { type: 'string' } } }, '/patternProperties'],
    ['propertyNames', { type: 'object', propertyNames: { maxLength: 3 } }, '/propertyNames'],
    ['dependentRequired', { type: 'object', dependentRequired: { a: ['b'] } }, '/dependentRequired'],
    ['dependentSchemas', { type: 'object', dependentSchemas: { a: { type: 'object' } } }, '/dependentSchemas'],
    ['unevaluatedProperties', { type: 'object', unevaluatedProperties: false }, '/unevaluatedProperties'],
    ['uniqueItems', { type: 'array', items: { type: 'number' }, uniqueItems: true }, '/uniqueItems'],
    ['contains', { type: 'array', contains: { type: 'number' } }, '/contains'],
    ['minContains', { type: 'array', minContains: 1 }, '/minContains'],
    ['unevaluatedItems', { type: 'array', unevaluatedItems: false }, '/unevaluatedItems'],
    ['not', { type: 'string', not: { const: 'x' } }, '/not'],
    ['if', { type: 'string', if: { const: 'a' }, then: { minLength: 1 } }, '/if'],
    ['allOf', { allOf: [{ type: 'string' }] }, '/allOf'],
    ['allOf next to a type', { type: 'string', allOf: [{ maxLength: 2 }] }, '/allOf'],
    ['definitions', { definitions: { a: { type: 'string' } }, type: 'string' }, '/definitions'],
    ['nullable (OpenAPI)', { type: 'string', nullable: true }, '/nullable'],
    ['a misspelt keyword', { type: 'string', maxLenght: 3 }, '/maxLenght'],
    ['properties without a type (the grammar writes null)', { properties: { a: { type: 'string' } } }, '/properties'],
    ['object in a list of types', { type: ['object', 'null'] }, '/type'],
    ['an unknown type', { type: 'decimal' }, '/type'],
    ['a type next to oneOf (ignored by the grammar)', { type: 'string', oneOf: [{ const: 'a' }] }, '/type'],
    ['keywords next to $ref', { $defs: { a: { type: 'string' } }, $ref: '#/$defs/a', maxLength: 3 }, '/maxLength'],
    ['a $ref outside $defs', { $ref: '#/definitions/a' }, '/$ref'],
    ['a $ref to a missing definition', { $defs: {}, $ref: '#/$defs/missing' }, '/$ref'],
    ['a type that const does not have', { type: 'integer', const: 'a' }, '/type'],
    ['an object const', { const: { a: 1 } }, '/const'],
    ['an array in enum', { enum: ['a', [1]] }, '/enum/1'],
    ['required naming no property', { ...person, required: ['name', 'email'] }, '/required/1'],
    ['maxProperties below the properties written', { ...person, maxProperties: 1 }, '/maxProperties'],
    ['minProperties that cannot be written', { ...person, minProperties: 3 }, '/minProperties'],
    ['maxItems below prefixItems', { type: 'array', prefixItems: [{ type: 'string' }, { type: 'string' }], maxItems: 1 }, '/maxItems'],
    ['maxItems below minItems', { type: 'array', minItems: 3, maxItems: 2 }, '/maxItems'],
    ['a fractional minItems', { type: 'array', minItems: 1.5 }, '/minItems'],
    ['maxLength below minLength', { type: 'string', minLength: 3, maxLength: 2 }, '/maxLength'],
    ['tuple items (draft 7)', { type: 'array', items: [{ type: 'string' }] }, '/items'],
    ['an empty oneOf', { oneOf: [] }, '/oneOf'],
    ['anyOf next to oneOf', { oneOf: [{ type: 'string' }], anyOf: [{ type: 'null' }] }, '/anyOf'],
  ])('%s', (_name, schema, pointer) => {
    const error = refusal(schema);
    expect(error.code).toBe(ModelErrorCode.UnsupportedSchema);
    expect(error.code).toBe('UNSUPPORTED_SCHEMA');
    expect(error.kind).toBe('invalid');
    expect(error.pointer).toBe(pointer);
    expect(error.message).toContain(pointer);
  });

  it('names the keyword and its pointer in nested schemas', () => {
    const nested = {
      type: 'object',
      properties: {
        name: { type: 'string' },
        age: { type: 'integer', minimum: 0 },
      },
    };
    const error = refusal(nested);
    expect(error.keyword).toBe('minimum');
    expect(error.pointer).toBe('/properties/age/minimum');
    expect(error.message).toBe(
      'unsupported JSON schema keyword minimum at /properties/age/minimum: the grammar does not enforce it',
    );
  });

  it.each([
    ['items', { type: 'array', items: { type: 'string', pattern: 'x' } }, '/items/pattern'],
    ['prefixItems', { type: 'array', prefixItems: [{ type: 'number' }, { type: 'number', maximum: 1 }] }, '/prefixItems/1/maximum'],
    ['oneOf', { oneOf: [{ type: 'string' }, { type: 'number', multipleOf: 3 }] }, '/oneOf/1/multipleOf'],
    ['anyOf', { anyOf: [{ type: 'string', pattern: 'x' }, { type: 'null' }] }, '/anyOf/0/pattern'],
    ['$defs', { $defs: { n: { type: 'number', minimum: 1 } }, $ref: '#/$defs/n' }, '/$defs/n/minimum'],
    ['additionalProperties', { type: 'object', additionalProperties: { type: 'string', format: 'uri' } }, '/additionalProperties/format'],
    [
      'deep',
      { type: 'object', properties: { a: { type: 'array', items: { type: 'object', properties: { b: { type: 'integer', maximum: 5 } } } } } },
      '/properties/a/items/properties/b/maximum',
    ],
    ['a property name with / and ~', { type: 'object', properties: { 'a/b~c': { type: 'number', minimum: 0 } } }, '/properties/a~1b~0c/minimum'],
    ['a boolean subschema', { type: 'object', properties: { a: true } }, '/properties/a'],
  ])('inside %s', (_name, schema, pointer) => {
    expect(refusal(schema).pointer).toBe(pointer);
  });

  it('resolveGenerationParams refuses it before anything else runs, for defaults too', () => {
    const bad = { type: 'object', properties: { age: { type: 'integer', minimum: 0 } } };
    expect(() => resolveGenerationParams(undefined, { jsonSchema: bad })).toThrow(UnsupportedSchemaError);
    expect(() => resolveGenerationParams({ jsonSchema: bad }, {})).toThrow(/\/properties\/age\/minimum/);
    expect(resolveGenerationParams(undefined, { jsonSchema: person }).jsonSchema).toEqual(person);
  });
});
