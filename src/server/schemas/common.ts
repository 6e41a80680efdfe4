import Type, { type TProperties, type TSchema, type TUnsafe } from 'typebox';

/**
 * @internal Building blocks of the route schemas (TypeBox: each is a plain JSON Schema object, what
 * fastify's ajv validates and what `GET /openapi.json` lists). The schemas say what each API's
 * fields are (types, required fields, enums, the ranges the API fixes); what this server cannot do
 * with a valid value is refused by name in the routes (`UNSUPPORTED_PARAMETER`), not here. No
 * object schema forbids other fields: the routes ignore unknown fields, or refuse them by name.
 */

/** A value or null: the OpenAI APIs send null for "not set", and the routes read it as absent. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** An optional field that may also be null. */
export const Opt = <T extends TSchema>(schema: T) => Type.Optional(Nullable(schema));

/** A non-empty string: model ids, session ids, paths. */
export const NonEmpty = () => Type.String({ minLength: 1 });

/** A JSON schema object (a tool's parameters, a response format), checked by the ModelActor's grammar, not here. */
export const JsonSchemaObject = () => Type.Object({}, { title: 'a JSON schema object' });

/** Any JSON object (free-form options, metadata). */
export const AnyObject = () => Type.Object({});

/** A string, or an array of strings: `input` of the embedding routes, `stop`. */
export const StringOrStrings = () => Type.Union([Type.String(), Type.Array(Type.String())]);

/** A positive integer (`max_tokens`): the ModelActor checks the model's own upper limit. */
export const PositiveInteger = () => Type.Integer({ minimum: 1 });

/** A path parameter: one id segment. */
export const IdParams = Type.Object({ id: Type.String() });

/**
 * Objects tagged by their `type`, one of several (content parts of several kinds): the tag is
 * checked first, against every tag (`content[0].type must be text or image_url, got "audio"`),
 * then the fields of the one it names (`if`/`then`), so an error names the field of that kind
 * (`content[0].image_url.url is required`), never a field of another kind.
 */
export const TaggedUnion = (variants: Readonly<Record<string, TProperties>>): TUnsafe<unknown> => {
  const entries = Object.entries(variants);
  return Type.Unsafe<unknown>({
    allOf: [
      Type.Object({ type: Type.Enum(entries.map(([tag]) => tag)) }),
      ...entries.map(([tag, fields]) => ({ if: { type: 'object', properties: { type: { const: tag } } }, then: Type.Object(fields) })),
    ],
  });
};
