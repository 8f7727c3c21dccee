import fc from 'fast-check';
import { z } from 'zod';

/**
 * Request generation from an OpenAPI 3 document for property-based fuzzing: the document is
 * parsed with Zod (only the parts used here), and every operation gets fast-check arbitraries of
 * whole requests, either valid-looking (following the schemas) or carrying one fault (wrong types,
 * missing or unknown fields, huge values, malformed ids, non-JSON bodies, odd content types...).
 */

// ------------------------------------------------------------------ the document

export interface JsonSchema {
  $ref?: string;
  /** One type, or several (JSON Schema 2020-12 / OpenAPI 3.1 style, e.g. ["string", "null"]). */
  type?: string | string[];
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  nullable?: boolean;
}

const jsonSchemaSchema: z.ZodType<JsonSchema> = z.lazy(() =>
  z.looseObject({
    $ref: z.string().optional(),
    type: z.union([z.string(), z.array(z.string())]).optional(),
    enum: z.array(z.unknown()).optional(),
    format: z.string().optional(),
    pattern: z.string().optional(),
    minLength: z.number().optional(),
    maxLength: z.number().optional(),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    items: jsonSchemaSchema.optional(),
    minItems: z.number().optional(),
    maxItems: z.number().optional(),
    properties: z.record(z.string(), jsonSchemaSchema).optional(),
    required: z.array(z.string()).optional(),
    additionalProperties: z.union([z.boolean(), jsonSchemaSchema]).optional(),
    anyOf: z.array(jsonSchemaSchema).optional(),
    oneOf: z.array(jsonSchemaSchema).optional(),
    allOf: z.array(jsonSchemaSchema).optional(),
    nullable: z.boolean().optional(),
  }),
);

const parameterSchema = z.looseObject({
  name: z.string(),
  in: z.enum(['path', 'query', 'header', 'cookie']),
  required: z.boolean().optional(),
  schema: jsonSchemaSchema.optional(),
});
export type Parameter = z.infer<typeof parameterSchema>;

const operationSchema = z.looseObject({
  operationId: z.string().optional(),
  parameters: z.array(parameterSchema).optional(),
  requestBody: z
    .looseObject({
      required: z.boolean().optional(),
      content: z.record(z.string(), z.looseObject({ schema: jsonSchemaSchema.optional() })),
    })
    .optional(),
});

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

const documentSchema = z.looseObject({
  openapi: z.string().regex(/^3\./),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  components: z
    .looseObject({ schemas: z.record(z.string(), jsonSchemaSchema).optional() })
    .optional(),
});

export interface Operation {
  method: HttpMethod;
  /** The OpenAPI path template, e.g. `/api/v1/workflows/{id}`. */
  path: string;
  parameters: Parameter[];
  /** The JSON request body's schema, when the operation takes one. */
  body: JsonSchema | undefined;
  bodyRequired: boolean;
}

export interface OpenApi {
  operations: Operation[];
  schemas: Record<string, JsonSchema>;
}

function isHttpMethod(value: string): value is HttpMethod {
  return HTTP_METHODS.some((method) => method === value);
}

/** Parses the document (throws when it does not have the expected shape). */
export function parseOpenApi(json: unknown): OpenApi {
  const document = documentSchema.parse(json);
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [key, value] of Object.entries(item)) {
      if (!isHttpMethod(key)) continue;
      const operation = operationSchema.parse(value);
      const content = operation.requestBody?.content ?? {};
      const jsonContent = Object.entries(content).find(([type]) => type.includes('json'));
      operations.push({
        method: key,
        path,
        parameters: operation.parameters ?? [],
        body: jsonContent?.[1].schema,
        bodyRequired: operation.requestBody?.required ?? false,
      });
    }
  }
  return { operations, schemas: document.components?.schemas ?? {} };
}

export function operationName(operation: Operation): string {
  return `${operation.method.toUpperCase()} ${operation.path}`;
}

// ------------------------------------------------------------------ values

/** Strings that often break naive code: empty, whitespace, control, RTL, emoji, markup, SQL. */
export const TRICKY_STRINGS = [
  '',
  ' ',
  '\t\n',
  '\u0000',
  'null',
  'undefined',
  '0',
  '-1',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  '💩🚀👩‍👩‍👧',
  'Ω≈ç√∫˜µ≤≥÷',
  'مرحبا بالعالم',
  '\u202Eabc',
  '<script>alert(1)</script>',
  "'; DROP TABLE workflows; --",
  '%00',
  '../../etc/passwd',
  '${jndi:ldap://x}',
] as const;

const WRONG_SCALARS: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

/** Values of any JSON type other than the schema's (or anything, when it has no type). */
function wrongTypeFor(schema: JsonSchema): fc.Arbitrary<unknown> {
  const type = schema.type;
  return WRONG_SCALARS.filter((value) => {
    if (value === null) return schema.nullable !== true;
    switch (type) {
      case 'string':
        return typeof value !== 'string';
      case 'integer':
      case 'number':
        return typeof value !== 'number';
      case 'boolean':
        return typeof value !== 'boolean';
      case 'array':
        return !Array.isArray(value);
      case 'object':
        return typeof value !== 'object' || Array.isArray(value);
      default:
        return true;
    }
  });
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Builds valid-looking and invalid values for the schemas of one document. */
export class SchemaValues {
  constructor(private readonly schemas: Record<string, JsonSchema>) {}

  /** Follows `$ref`s and turns a list of types into `nullable` or `anyOf`. */
  resolve(schema: JsonSchema): JsonSchema {
    let current = schema;
    for (let hops = 0; current.$ref !== undefined; hops += 1) {
      const name = current.$ref.replace(/^#\/components\/schemas\//, '');
      const target = this.schemas[name];
      if (target === undefined || hops > 20) throw new Error(`unresolvable $ref ${current.$ref}`);
      current = { ...target, nullable: target.nullable === true || current.nullable === true };
    }
    if (!Array.isArray(current.type)) return current;
    const types = current.type.filter((type) => type !== 'null');
    const nullable = current.nullable === true || types.length < current.type.length;
    if (types.length === 1) return { ...current, type: types[0], nullable };
    const { type: _types, ...rest } = current;
    return { ...rest, nullable, anyOf: types.map((type) => ({ ...rest, type })) };
  }

  /** Values that follow the schema (types, formats, patterns, bounds, required fields). */
  valid(input: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
    const schema = this.resolve(input);
    const base = this.validBase(schema, depth);
    return schema.nullable === true
      ? fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: base })
      : base;
  }

  private validBase(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
    if (schema.enum !== undefined && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
    const alternatives = schema.anyOf ?? schema.oneOf;
    if (alternatives !== undefined && alternatives.length > 0) {
      // Deep inside recursive schemas (free-form JSON), only scalars: the values stay small.
      const usable =
        depth >= 3
          ? alternatives.filter((alt) => {
              const type = this.resolve(alt).type;
              return type !== 'array' && type !== 'object';
            })
          : alternatives;
      const chosen = usable.length > 0 ? usable : alternatives.slice(0, 1);
      return fc.oneof(...chosen.map((alt) => this.valid(alt, depth + 1)));
    }
    if (schema.allOf !== undefined && schema.allOf.length > 0) {
      return this.valid(this.mergeAll(schema.allOf), depth + 1);
    }
    switch (schema.type) {
      case 'string':
        return validString(schema);
      case 'integer':
        return validInteger(schema);
      case 'number':
        return fc.double({
          min: schema.minimum ?? -1e9,
          max: schema.maximum ?? 1e9,
          noNaN: true,
          noDefaultInfinity: true,
        });
      case 'boolean':
        return fc.boolean();
      case 'array': {
        const minLength = schema.minItems ?? 0;
        const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? 4, 4));
        return fc.array(this.valid(schema.items ?? {}, depth + 1), { minLength, maxLength });
      }
      case 'object':
        return this.validObject(schema, depth);
      default:
        return depth >= 3
          ? fc.oneof(fc.string(), fc.integer(), fc.boolean())
          : fc.jsonValue({ maxDepth: 2 });
    }
  }

  private validObject(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
    const properties = schema.properties ?? {};
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [key, property] of Object.entries(properties)) {
      model[key] = this.valid(property, depth + 1);
    }
    const requiredKeys = (schema.required ?? []).filter((key) => key in properties);
    const fixed = fc.record(model, { requiredKeys });
    const extra = schema.additionalProperties;
    if (typeof extra !== 'object' || depth >= 3) return fixed;
    const free = fc.dictionary(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
      this.valid(extra, depth + 1),
      { maxKeys: 3 },
    );
    return fc.tuple(free, fixed).map(([a, b]) => ({ ...a, ...b }));
  }

  private mergeAll(parts: readonly JsonSchema[]): JsonSchema {
    return parts
      .map((part) => this.resolve(part))
      .reduce<JsonSchema>(
        (merged, part) => ({
          ...merged,
          ...part,
          properties: { ...merged.properties, ...part.properties },
          required: [...(merged.required ?? []), ...(part.required ?? [])],
        }),
        {},
      );
  }

  /** Values that break the schema: wrong types, out of bounds, not matching, huge. */
  invalid(input: JsonSchema): fc.Arbitrary<unknown> {
    const schema = this.resolve(input);
    const options: Array<fc.Arbitrary<unknown>> = [wrongTypeFor(schema), hugeString()];
    if (schema.type === 'string') {
      if (schema.maxLength !== undefined) {
        options.push(fc.constant('x'.repeat(schema.maxLength + 1)));
      }
      if (schema.minLength !== undefined && schema.minLength > 0) {
        options.push(fc.constant(''.padEnd(schema.minLength - 1, 'y')));
      }
      if (schema.pattern !== undefined || schema.format === 'uuid') {
        options.push(fc.constantFrom(...TRICKY_STRINGS), malformedId());
      }
    }
    if (schema.type === 'integer' || schema.type === 'number') {
      if (schema.maximum !== undefined) options.push(fc.constant(schema.maximum + 1));
      if (schema.minimum !== undefined) options.push(fc.constant(schema.minimum - 1));
      options.push(fc.constantFrom(0.5, -0.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2));
    }
    if (schema.type === 'array') {
      options.push(
        fc.constant([]),
        fc.array(wrongTypeFor(this.resolve(schema.items ?? {})), { minLength: 1, maxLength: 3 }),
      );
      if (schema.maxItems !== undefined) {
        options.push(
          fc.array(this.valid(schema.items ?? {}, 3), {
            minLength: schema.maxItems + 1,
            maxLength: schema.maxItems + 2,
          }),
        );
      }
    }
    if (schema.enum !== undefined) options.push(fc.string({ unit: 'grapheme', maxLength: 12 }));
    return fc.oneof(...options);
  }
}

function validString(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = schema.maxLength ?? 10_000;
  const fits = (value: string) => value.length >= minLength && value.length <= maxLength;
  if (schema.format === 'uuid') return fc.uuid({ version: [4, 7] });
  if (schema.pattern !== undefined) {
    return fc.stringMatching(new RegExp(schema.pattern)).filter(fits);
  }
  const options: Array<fc.Arbitrary<string>> = [
    fc.string({
      unit: 'grapheme',
      minLength,
      maxLength: Math.max(minLength, Math.min(maxLength, 40)),
    }),
    fc.string({
      unit: 'binary',
      minLength,
      maxLength: Math.max(minLength, Math.min(maxLength, 40)),
    }),
  ];
  const tricky = TRICKY_STRINGS.filter(fits);
  if (tricky.length > 0) options.push(fc.constantFrom(...tricky));
  // Near the upper bound, where off-by-one errors live.
  if (schema.maxLength !== undefined && schema.maxLength <= 100_000) {
    options.push(fc.constant('é'.repeat(Math.max(minLength, schema.maxLength))));
  }
  return fc.oneof(...options);
}

function validInteger(schema: JsonSchema): fc.Arbitrary<number> {
  const min = schema.minimum ?? -1_000_000;
  const max = schema.maximum ?? 1_000_000;
  const inner = fc.integer({ min: Math.max(min, INT32_MIN), max: Math.min(max, INT32_MAX) });
  return fc.oneof(inner, fc.constantFrom(min, max));
}

/** Strings far over any sensible limit (a body with one is over the 1 MiB body limit). */
export function hugeString(): fc.Arbitrary<string> {
  return fc
    .constantFrom(10_000, 70_000, 1_100_000)
    .chain((size) => fc.constantFrom('a', 'é', '💩').map((unit) => unit.repeat(size)));
}

/** Ids that are not UUIDs, or almost: wrong length, wrong characters, braces, version 0... */
export function malformedId(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.uuid().map((id) => id.slice(0, -1)),
    fc.uuid().map((id) => `${id}0`),
    fc.uuid().map((id) => id.replace(/-/g, '')),
    fc.uuid().map((id) => `{${id}}`),
    fc.uuid().map((id) => id.replace(/[0-9a-f]$/, 'g')),
    fc.uuid().map((id) => id.toUpperCase()),
    fc.constant('00000000-0000-0000-0000-00000000000'),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
    fc.integer().map(String),
  );
}

// ------------------------------------------------------------------ requests

export interface FuzzRequest {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  /** What fault the request carries ("valid" for none), for the failure report. */
  fault: string;
}

export interface FuzzContext {
  values: SchemaValues;
  /** Known-good values of a path parameter (ids of existing rows) for an operation. */
  knownPathValues: (operation: Operation, parameter: string) => readonly string[];
  /** Replaces the generator of a parameter's valid values (e.g. to keep `?wait` short). */
  validOverride?: (operation: Operation, parameter: Parameter) => fc.Arbitrary<string> | undefined;
  /**
   * Headers every request of an operation carries, whatever the fault (e.g. `Accept:
   * application/json` for the events endpoint, whose text/event-stream variant is not fuzzed).
   */
  fixedHeaders?: (operation: Operation) => Record<string, string>;
}

/** Header values as they can arrive over HTTP (visible ASCII, tab, space and obs-text). */
const headerText = (maxLength: number) =>
  fc.string({
    unit: fc.oneof(
      fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
      fc.integer({ min: 0xa0, max: 0xff }).map((code) => String.fromCharCode(code)),
    ),
    maxLength,
  });

const ODD_CONTENT_TYPES = [
  'text/plain',
  'text/plain; charset=utf-8',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/octet-stream',
  'application/problem+json',
  'application/vnd.api+json',
  'application/json; charset=iso-8859-1',
  'application/json; charset=utf-16',
  'application/json;;',
  'image/png',
  '*/*',
  'foo',
  ';',
] as const;

/** Raw query strings and path segments with broken percent-encoding or odd structure. */
const RAW_QUERY_STRINGS = [
  '%',
  '%E0%A4%A',
  '%ZZ',
  'a=%FF%FE',
  '&&&',
  '=',
  'limit',
  'limit=1&limit=2',
  '__proto__[x]=1',
  'constructor[prototype][x]=1',
  'a[b][c][d][e][f]=1',
] as const;
const RAW_PATH_SEGMENTS = [
  '%',
  '%E0%A4%A',
  '%00',
  '%2F',
  '..',
  '.',
  '%20',
  '%C0%AF',
  ';x=1',
] as const;

interface Parts {
  path: Record<string, string>;
  query: Array<[string, string]>;
  rawQuery?: string;
  headers: Record<string, string>;
  payload?: string;
  contentType?: string;
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return String(value);
  return JSON.stringify(value);
}

function buildRequest(
  context: FuzzContext,
  operation: Operation,
  parts: Parts,
  fault: string,
): FuzzRequest {
  let url = operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => parts.path[name] ?? '');
  const query = new URLSearchParams(parts.query).toString();
  const search = [query, parts.rawQuery ?? ''].filter((part) => part !== '').join('&');
  if (search !== '') url += `?${search}`;
  const headers = { ...parts.headers };
  if (parts.contentType !== undefined) headers['content-type'] = parts.contentType;
  Object.assign(headers, context.fixedHeaders?.(operation) ?? {});
  const request: FuzzRequest = { method: operation.method, url, headers, fault };
  if (parts.payload !== undefined) request.payload = parts.payload;
  return request;
}

/** A valid-looking value of one parameter, as the string that goes on the wire. */
function validParameter(context: FuzzContext, operation: Operation, parameter: Parameter) {
  const override = context.validOverride?.(operation, parameter);
  if (override !== undefined) return override;
  const schema = parameter.schema ?? { type: 'string' };
  const generated = context.values.valid(schema, 3).map(stringify);
  if (parameter.in !== 'path') return generated;
  const known = context.knownPathValues(operation, parameter.name);
  const encoded = generated.map(encodeURIComponent);
  return known.length > 0
    ? fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(...known) },
        { weight: 3, arbitrary: encoded },
      )
    : encoded;
}

function validParts(context: FuzzContext, operation: Operation): fc.Arbitrary<Parts> {
  const path: Record<string, fc.Arbitrary<string>> = {};
  const query: Array<fc.Arbitrary<[string, string] | undefined>> = [];
  const headers: Array<fc.Arbitrary<[string, string] | undefined>> = [];
  for (const parameter of operation.parameters) {
    const value = validParameter(context, operation, parameter);
    if (parameter.in === 'path') {
      path[parameter.name] = value;
      continue;
    }
    const entry = value.map((v): [string, string] => [parameter.name, v]);
    const maybe = parameter.required === true ? entry : fc.option(entry, { nil: undefined });
    if (parameter.in === 'query') query.push(maybe);
    if (parameter.in === 'header') {
      // Only what HTTP can carry in a header.
      headers.push(maybe.filter((e) => e === undefined || /^[\t\x20-\x7e\xa0-\xff]*$/.test(e[1])));
    }
  }
  const body =
    operation.body === undefined
      ? fc.constant(undefined)
      : context.values.valid(operation.body).map((value) => JSON.stringify(value));
  return fc
    .record({
      path: fc.record(path),
      query: fc.tuple(...query),
      headers: fc.tuple(...headers),
      accept: fc.constantFrom(
        'application/json',
        '*/*',
        'application/json, text/plain, */*',
        undefined,
      ),
      body,
    })
    .map(
      ({
        path: pathValues,
        query: queryEntries,
        headers: headerEntries,
        accept,
        body: payload,
      }) => {
        const headerRecord: Record<string, string> = {};
        for (const entry of headerEntries)
          if (entry !== undefined) headerRecord[entry[0]] = entry[1];
        if (accept !== undefined) headerRecord.accept = accept;
        const parts: Parts = {
          path: pathValues,
          query: queryEntries.filter((e): e is [string, string] => e !== undefined),
          headers: headerRecord,
        };
        if (payload !== undefined) {
          parts.payload = payload;
          parts.contentType = 'application/json';
        }
        return parts;
      },
    );
}

/** Requests that follow the operation's schemas (they may still hit unknown ids: 404). */
export function validRequest(
  context: FuzzContext,
  operation: Operation,
): fc.Arbitrary<FuzzRequest> {
  return validParts(context, operation).map((parts) =>
    buildRequest(context, operation, parts, 'valid'),
  );
}

type Fault = (parts: Parts) => fc.Arbitrary<{ parts: Parts; fault: string }>;

function faultsFor(context: FuzzContext, operation: Operation): Fault[] {
  const values = context.values;
  const faults: Fault[] = [];
  const pathParameters = operation.parameters.filter((p) => p.in === 'path');
  const queryParameters = operation.parameters.filter((p) => p.in === 'query');
  const headerParameters = operation.parameters.filter((p) => p.in === 'header');

  for (const parameter of pathParameters) {
    faults.push((parts) =>
      fc
        .oneof(
          values.invalid(parameter.schema ?? {}).map((v) => encodeURIComponent(stringify(v))),
          malformedId().map(encodeURIComponent),
          fc.constantFrom(...RAW_PATH_SEGMENTS),
          fc.string({ unit: 'grapheme', maxLength: 30 }).map(encodeURIComponent),
        )
        .map((value) => ({
          parts: { ...parts, path: { ...parts.path, [parameter.name]: value } },
          fault: `path ${parameter.name}=${value.slice(0, 200)}`,
        })),
    );
  }
  for (const parameter of queryParameters) {
    faults.push((parts) =>
      fc
        .oneof(
          values.invalid(parameter.schema ?? {}).map(stringify),
          fc.string({ unit: 'grapheme', maxLength: 30 }),
        )
        .map((value) => ({
          parts: {
            ...parts,
            query: [
              ...parts.query.filter(([name]) => name !== parameter.name),
              [parameter.name, value],
            ],
          },
          fault: `query ${parameter.name}=${value.slice(0, 200)}`,
        })),
    );
  }
  // Unknown query parameters and broken query strings.
  faults.push((parts) =>
    fc
      .oneof(
        fc
          .tuple(
            fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
            fc.string({ maxLength: 12 }),
          )
          .map(([name, value]) => ({
            ...parts,
            query: [...parts.query, [name, value] as [string, string]],
          })),
        fc.constantFrom(...RAW_QUERY_STRINGS).map((rawQuery) => ({ ...parts, rawQuery })),
      )
      .map((next) => ({
        parts: next,
        fault: `query ${next.rawQuery ?? JSON.stringify(next.query)}`,
      })),
  );
  for (const parameter of headerParameters) {
    faults.push((parts) =>
      fc
        .oneof(
          headerText(300),
          fc.constant(''),
          fc.constant(' '.repeat(10)),
          fc.constant('x'.repeat(5000)),
        )
        .map((value) => ({
          parts: { ...parts, headers: { ...parts.headers, [parameter.name.toLowerCase()]: value } },
          fault: `header ${parameter.name}=${value.slice(0, 200)}`,
        })),
    );
  }
  // Random credentials and odd Accept headers.
  faults.push((parts) =>
    fc
      .oneof(
        headerText(80).map((token) => ['authorization', `Bearer ${token}`] as const),
        headerText(80).map((value) => ['authorization', value] as const),
        fc
          .constantFrom(
            'text/html',
            'application/xml',
            'image/*',
            '',
            ';;;',
            'application/json;q=0',
          )
          .map((value) => ['accept', value] as const),
      )
      .map(([name, value]) => ({
        parts: { ...parts, headers: { ...parts.headers, [name]: value } },
        fault: `header ${name}=${value.slice(0, 200)}`,
      })),
  );
  faults.push((parts) => bodyFaults(values, operation, parts));
  return faults;
}

/** Bodies that break the contract: JSON of the wrong shape, non-JSON, odd media types, none. */
function bodyFaults(values: SchemaValues, operation: Operation, parts: Parts) {
  const withBody = (
    payload: string | undefined,
    contentType: string | undefined,
    fault: string,
  ) => {
    const next: Parts = { ...parts };
    delete next.payload;
    delete next.contentType;
    if (payload !== undefined) next.payload = payload;
    if (contentType !== undefined) next.contentType = contentType;
    return { parts: next, fault };
  };
  const options: Array<fc.Arbitrary<{ parts: Parts; fault: string }>> = [
    fc
      .jsonValue({ maxDepth: 3 })
      .map((value) => withBody(JSON.stringify(value), 'application/json', 'random JSON body')),
    fc
      .oneof(
        fc.string({ unit: 'grapheme', maxLength: 60 }),
        fc.constantFrom(
          '{',
          '{"request":',
          '[1,2',
          'nul',
          '{"a":1}}',
          '\u0000',
          '',
          ' ',
          '{"__proto__":{"x":1}}',
        ),
      )
      .map((text) => withBody(text, 'application/json', `malformed JSON ${JSON.stringify(text)}`)),
    fc
      .tuple(fc.constantFrom(...ODD_CONTENT_TYPES), fc.string({ unit: 'grapheme', maxLength: 60 }))
      .map(([type, text]) => withBody(text, type, `body with content-type ${type}`)),
    fc.constant(withBody(undefined, undefined, 'no body')),
    fc.constant(withBody('', 'application/json', 'empty JSON body')),
    hugeString().map((text) =>
      withBody(
        JSON.stringify({ request: text }),
        'application/json',
        `huge body (${text.length} characters)`,
      ),
    ),
  ];
  const body = operation.body === undefined ? undefined : values.resolve(operation.body);
  if (body !== undefined && parts.payload !== undefined) {
    const original = objectOf(parts.payload);
    if (original !== undefined) {
      const required = body.required ?? [];
      const properties = Object.keys(body.properties ?? {});
      if (required.length > 0) {
        options.push(
          fc.constantFrom(...required).map((key) => {
            const copy = { ...original };
            delete copy[key];
            return withBody(JSON.stringify(copy), 'application/json', `missing required ${key}`);
          }),
        );
      }
      options.push(
        fc
          .tuple(
            fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
            fc.jsonValue({ maxDepth: 1 }),
          )
          .filter(([key]) => !properties.includes(key))
          .map(([key, value]) =>
            withBody(
              JSON.stringify({ ...original, [key]: value }),
              'application/json',
              `unknown field ${key}`,
            ),
          ),
      );
      if (properties.length > 0) {
        options.push(
          fc
            .constantFrom(...properties)
            .chain((key) =>
              values.invalid(body.properties?.[key] ?? {}).map((value) => ({ key, value })),
            )
            .map(({ key, value }) =>
              withBody(
                JSON.stringify({ ...original, [key]: value }),
                'application/json',
                `invalid ${key}=${stringify(value).slice(0, 100)}`,
              ),
            ),
        );
      }
    }
  }
  return fc.oneof(...options);
}

function objectOf(payload: string): Record<string, unknown> | undefined {
  const parsed = z.record(z.string(), z.unknown()).safeParse(JSON.parse(payload));
  return parsed.success ? parsed.data : undefined;
}

/** Requests with one fault each (path, query, header, credentials or body). */
export function invalidRequest(
  context: FuzzContext,
  operation: Operation,
): fc.Arbitrary<FuzzRequest> {
  const faults = faultsFor(context, operation);
  return validParts(context, operation)
    .chain((parts) => fc.oneof(...faults.map((fault) => fault(parts))))
    .map(({ parts, fault }) => buildRequest(context, operation, parts, fault));
}

// ------------------------------------------------------------------ responses

const problemBodySchema = z.looseObject({
  type: z.string().min(1),
  title: z.string().min(1),
  status: z.number().int(),
  detail: z.string(),
});

export interface FuzzResponse {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/** Never a 5xx; every 4xx is problem+json with type, title, status (= HTTP status), detail. */
export function responseViolation(response: FuzzResponse): string | undefined {
  if (response.statusCode >= 500) return `answered ${response.statusCode}`;
  if (response.statusCode < 400) return undefined;
  const contentType = String(response.headers['content-type'] ?? '');
  if (!contentType.startsWith('application/problem+json')) {
    return `answered ${response.statusCode} with content-type "${contentType}"`;
  }
  let json: unknown;
  try {
    json = JSON.parse(response.body);
  } catch {
    return `answered ${response.statusCode} with a body that is not JSON`;
  }
  const problem = problemBodySchema.safeParse(json);
  if (!problem.success) return `answered ${response.statusCode} with a body that is not a problem`;
  if (problem.data.status !== response.statusCode) {
    return `answered ${response.statusCode} with a problem of status ${problem.data.status}`;
  }
  return undefined;
}

/** A compact, readable description of a request and its response, for failure reports. */
export function describeExchange(request: FuzzRequest, response: FuzzResponse): string {
  const payload =
    request.payload === undefined
      ? '(no body)'
      : request.payload.length > 300
        ? `${request.payload.slice(0, 300)}... (${request.payload.length} characters)`
        : request.payload;
  return [
    `${request.method.toUpperCase()} ${request.url.slice(0, 300)}`,
    `fault: ${request.fault}`,
    `headers: ${JSON.stringify(request.headers).slice(0, 300)}`,
    `body: ${payload}`,
    `-> ${response.statusCode} ${String(response.headers['content-type'] ?? '')}`,
    response.body.slice(0, 500),
  ].join('\n');
}
