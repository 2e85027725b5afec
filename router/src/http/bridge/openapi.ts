/**
 * The OpenAPI 3.1 document of a listener's bridge paths, served at `http.openapi` (default
 * `/openapi.json`). Bodies are the definitions of @switchboard/schemas' http-bridge.schema.json.
 * It names paths, methods, parameters and status codes; it holds no key, secret or token.
 */
import { readFileSync } from 'node:fs';
import { schemaUrl } from '@switchboard/schemas';
import { VERSION } from '../../version.js';
import type { BridgePath } from './config.js';

type Json = Record<string, unknown>;

let definitions: Json | undefined;

function bodySchemas(): Json {
  if (definitions === undefined) {
    const text = readFileSync(schemaUrl('http-bridge'), 'utf8').replaceAll('#/definitions/', '#/components/schemas/');
    definitions = (JSON.parse(text) as { definitions: Json }).definitions;
  }
  return definitions;
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });
const errorBody = (description: string): Json => json(ref('error'), description);

const SIGNED_PARAMETERS: Json[] = ['key', 'timestamp', 'seq', 'nonce', 'signature'].map((name) => ({
  name,
  in: 'query',
  required: true,
  schema: { type: 'string' },
  description: name === 'signature' ? 'base64url (with padding) of HMAC-SHA256(secret, key ‖ timestamp ‖ seq ‖ nonce ‖ body)' : `signed request: ${name}`,
}));

function refusals(path: BridgePath): Json {
  const out: Json = {
    '400': errorBody(
      'Malformed or refused request (content type, charset, Content-Length, JSON, missing key, signature fields, stale timestamp, require_ip, require_tls)',
    ),
    '405': errorBody('Method not allowed'),
    '413': errorBody('Body over post_body_limit'),
  };
  if (path.options.secret !== undefined || path.tokens.length > 0)
    out['401'] = errorBody('Unknown key, bad signature, replayed nonce, stale seq, or missing/unknown bearer token');
  return out;
}

function operation(path: BridgePath): Json {
  const security = path.tokens.length > 0 ? { security: [{ bearer: [] }, ...(path.options.secret !== undefined ? [{}] : [])] } : {};
  const parameters = path.options.secret !== undefined ? SIGNED_PARAMETERS : [];
  switch (path.type) {
    case 'publisher': {
      const wampErrors: Json = path.strict
        ? { '403': errorBody('wamp.error.not_authorized'), '500': errorBody('Other failure') }
        : { '500': errorBody('The router failed') };
      return {
        summary: `Publish to realm ${path.realm} as role ${path.role}`,
        ...security,
        parameters: [
          ...parameters,
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            schema: { type: 'string' },
            description: 'A repeat within the TTL gets the first answer again',
          },
        ],
        requestBody: { required: true, content: { 'application/json': { schema: { oneOf: [ref('publishRequest'), ref('publishBatch')] } } } },
        responses: {
          '200': json(
            { oneOf: [ref('publishResult'), ref('batchResult'), ...(path.strict ? [] : [ref('error')])] },
            path.strict ? "Published (or a batch's results)" : 'Published, a batch\'s results, or a WAMP error {"error": uri, …}',
          ),
          ...refusals(path),
          '422': errorBody('Idempotency-Key reused with another body'),
          ...wampErrors,
        },
      };
    }
    case 'caller': {
      const wampErrors: Json = path.strict
        ? {
            '403': errorBody('wamp.error.not_authorized'),
            '404': errorBody('wamp.error.no_such_procedure'),
            '502': errorBody('The callee answered with an error'),
            '503': errorBody('No callee available (canceled, unavailable)'),
            '504': errorBody('wamp.error.timeout'),
          }
        : { '500': errorBody('The router failed') };
      return {
        summary: `Call in realm ${path.realm} as role ${path.role}`,
        ...security,
        parameters,
        requestBody: { required: true, content: { 'application/json': { schema: ref('callRequest') } } },
        responses: {
          '200': json(
            path.strict ? ref('callResult') : { oneOf: [ref('callResult'), ref('error')] },
            path.strict ? 'The result' : 'The result, or a WAMP error {"error": uri, …}',
          ),
          ...refusals(path),
          ...wampErrors,
        },
      };
    }
    case 'webhook':
      return {
        summary: `Publish any body to ${path.webhook?.topic ?? ''} as {headers, body}`,
        ...security,
        requestBody: { required: false, content: { '*/*': { schema: { type: 'string' } } } },
        responses: {
          '202': { description: 'Published (success_response)', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...refusals(path),
          '500': { description: 'Not published (error_response)', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      };
    case 'sse':
      return {
        summary: `Server-Sent Events of a topic in realm ${path.realm} as role ${path.role}`,
        ...security,
        parameters: [
          ...parameters,
          { name: 'topic', in: 'query', required: true, schema: { type: 'string' } },
          { name: 'match', in: 'query', required: false, schema: { enum: ['exact', 'prefix', 'wildcard'] } },
          { name: 'get_retained', in: 'query', required: false, schema: { enum: ['true', 'false'] } },
          {
            name: 'events',
            in: 'query',
            required: false,
            schema: { enum: ['message'] },
            description: 'message: no event: line (EventSource.onmessage gets every event)',
          },
          { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' }, description: 'Resume after this publication' },
        ],
        responses: {
          '200': { description: 'An event stream; each data line is an sseData object', content: { 'text/event-stream': { schema: ref('sseData') } } },
          ...refusals(path),
          '403': errorBody('wamp.error.not_authorized'),
        },
      };
  }
}

export function openApiDocument(paths: readonly BridgePath[]): Json {
  const out: Json = {};
  for (const path of paths) {
    const op = operation(path);
    out[path.path] = path.type === 'sse' ? { get: op } : { post: op, put: op };
  }
  const components: Json = { schemas: bodySchemas() };
  if (paths.some((p) => p.tokens.length > 0)) components['securitySchemes'] = { bearer: { type: 'http', scheme: 'bearer' } };
  return {
    openapi: '3.1.0',
    info: { title: 'Switchboard HTTP bridge', version: VERSION, description: 'Publish, call and stream WAMP events over HTTP (Crossbar-compatible bodies).' },
    paths: out,
    components,
  };
}
