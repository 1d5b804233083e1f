import { z } from 'zod';

type JsonSchema = Record<string, unknown>;
type Io = 'input' | 'output';
const PREFIX = '#/components/schemas/';

/**
 * The named request and response bodies of components.schemas. A schema is named by its
 * `.meta({ id })` — one shape several operations share is one component — or else after the
 * operation. Requests are converted as zod input (a defaulted field is optional), responses as
 * output; a schema that contains another registered one refers to it by `$ref`.
 */
export function createSchemaBook() {
  const registries = { input: z.registry<{ id: string }>(), output: z.registry<{ id: string }>() };
  const owners = { input: new Map<string, z.ZodType>(), output: new Map<string, z.ZodType>() };
  return {
    ref(schema: z.ZodType, io: Io, fallback: string): { $ref: string } {
      const name = registries[io].get(schema)?.id ?? z.globalRegistry.get(schema)?.id ?? fallback;
      const owner = owners[io].get(name);
      if (owner && owner !== schema) throw new Error(`OpenAPI: two different ${io} schemas are named ${name}`);
      if (!owner) {
        owners[io].set(name, schema);
        registries[io].add(schema, { id: name });
      }
      return { $ref: `${PREFIX}${name}` };
    },
    schemas(): Record<string, JsonSchema> {
      const out: Record<string, JsonSchema> = {};
      for (const io of ['input', 'output'] as const) {
        const converted = z.toJSONSchema(registries[io], { io, unrepresentable: 'any', metadata: registries[io], uri: (id) => `${PREFIX}${id}` });
        for (const [name, body] of Object.entries(converted.schemas)) {
          // zod's own bookkeeping: `$id` would be a URI with a fragment, `$schema` is implied by OpenAPI 3.1.
          const { $id: _id, $schema: _schema, ...schema } = body as JsonSchema;
          if (name in out && JSON.stringify(out[name]) !== JSON.stringify(schema)) throw new Error(`OpenAPI: ${name} differs as request and as response`);
          out[name] = schema;
        }
      }
      return out;
    },
  };
}
