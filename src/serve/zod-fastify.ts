/**
 * zod 4 schemas as Fastify route schemas: validation and serialisation run zod, and the OpenAPI document gets
 * JSON Schema 2020-12 from zod's own `z.toJSONSchema` (OpenAPI 3.1's dialect), so one schema drives both the
 * checks and the contract. Route schemas may mix in plain JSON Schema objects (e.g. for multipart or raw image
 * bodies, which handlers parse themselves): those are documented as they are and not validated here.
 */
import type { FastifySchemaCompiler, FastifySerializerCompiler, FastifyTypeProvider } from 'fastify';
import { z } from 'zod';

/** Types request parts and replies from the zod schemas in a route's `schema`. */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}

/** An error from request validation: `issues` lists each failing path and why. */
export class RequestValidationError extends Error {
  override readonly name = 'RequestValidationError';
  readonly statusCode = 400;
  constructor(
    readonly part: string,
    readonly issues: readonly { path: string; message: string }[],
  ) {
    super(`invalid ${part}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

function isZod(schema: unknown): schema is z.ZodType {
  return schema instanceof z.ZodType;
}

/** Fastify validator compiler: zod schemas are parsed (coerced values replace the input), others pass. */
export const zodValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  if (!isZod(schema)) return (data: unknown) => ({ value: data });
  return (data: unknown) => {
    const result = schema.safeParse(data);
    if (result.success) return { value: result.data };
    const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    return { error: new RequestValidationError(httpPart ?? 'request', issues) };
  };
};

/**
 * Fastify serializer compiler: replies are checked against their zod schema before they leave (a reply that
 * breaks the contract is a server bug and answers 500), then stringified.
 */
export const zodSerializerCompiler: FastifySerializerCompiler<unknown> = ({ schema }) => {
  if (!isZod(schema)) return (data: unknown) => JSON.stringify(data);
  return (data: unknown) => JSON.stringify(schema.parse(data));
};

/** JSON Schema 2020-12 for a zod schema, as OpenAPI 3.1 embeds it (no `$schema` member). */
export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return json;
}

type SchemaPart = Record<string, unknown>;

function convert(value: unknown, io: 'input' | 'output'): unknown {
  if (isZod(value)) return toJsonSchema(value, io);
  if (value && typeof value === 'object' && 'content' in value) {
    const { content, ...rest } = value as { content: Record<string, { schema?: unknown }> };
    return {
      ...rest,
      content: Object.fromEntries(
        Object.entries(content).map(([type, media]) => [
          type,
          { ...media, schema: convert(media.schema, io) },
        ]),
      ),
    };
  }
  return value;
}

/**
 * `@fastify/swagger`'s `transform`: each route's zod schemas become JSON Schema (request parts as inputs,
 * responses as outputs).
 */
export function zodSwaggerTransform({ schema, url }: { schema: unknown; url: string }): {
  schema: SchemaPart;
  url: string;
} {
  if (!schema || typeof schema !== 'object') return { schema: {}, url };
  const out: SchemaPart = {};
  for (const [part, value] of Object.entries(schema as SchemaPart)) {
    if (part === 'response' && value && typeof value === 'object') {
      out.response = Object.fromEntries(
        Object.entries(value as SchemaPart).map(([code, s]) => [code, convert(s, 'output')]),
      );
    } else if (['body', 'querystring', 'params', 'headers'].includes(part)) {
      out[part] = convert(value, 'input');
    } else {
      out[part] = value;
    }
  }
  return { schema: out, url };
}
