import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

/**
 * A tiny AWS Secrets Manager stand-in for tests: speaks the AWS JSON 1.1 protocol for
 * `secretsmanager.GetSecretValue` on 127.0.0.1 (random port), so the real
 * `@aws-sdk/client-secrets-manager` can be pointed at it with an endpoint override.
 *
 * Errors follow the AWS JSON protocol: HTTP 400, header `x-amzn-ErrorType` and body
 * `{"__type": "<Name>", "message": "..."}`. The SDK's JSON-RPC error parser reads `__type`
 * (then `code`, then the header), keeps the part after `#` / before `:`, and turns it into
 * the modelled exception (ResourceNotFoundException) or, for names the service model does
 * not list (AccessDeniedException), a SecretsManagerServiceException with that `name`.
 */

export interface FakeSecretsManagerOptions {
  /** Secret name → SecretString. A secret can be addressed by its name or its fake ARN. */
  secrets: Record<string, string>;
  /** Secret ids (names or ARNs) that answer AccessDeniedException. */
  denied?: string[];
  /** Secret name → SecretBinary (for the "binary secrets are not supported" path). */
  binary?: Record<string, Uint8Array>;
}

export interface RecordedRequest {
  /** The `X-Amz-Target` header, e.g. `secretsmanager.GetSecretValue`. */
  target: string | undefined;
  /** `SecretId` from the JSON body (undefined when absent or the body was not JSON). */
  secretId: string | undefined;
  /** The `Authorization` header: SigV4 requests start with `AWS4-HMAC-SHA256`. */
  authorization?: string;
  /** The `Content-Type` header (`application/x-amz-json-1.1` for this protocol). */
  contentType: string | undefined;
}

export interface FakeSecretsManager {
  /** e.g. `http://127.0.0.1:54321`, for SECRETS_MANAGER_ENDPOINT. */
  endpoint: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const JSON_11 = 'application/x-amz-json-1.1';

export function fakeSecretArn(name: string): string {
  return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`;
}

export async function startFakeSecretsManager(options: FakeSecretsManagerOptions): Promise<FakeSecretsManager> {
  const requests: RecordedRequest[] = [];
  const denied = new Set(options.denied ?? []);

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'InternalServiceError', String(err));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const target = header(req, 'x-amz-target');
    let input: unknown;
    try {
      input = body.length > 0 ? JSON.parse(body) : {};
    } catch {
      input = undefined;
    }
    const secretId =
      input && typeof input === 'object' && typeof (input as { SecretId?: unknown }).SecretId === 'string'
        ? (input as { SecretId: string }).SecretId
        : undefined;
    const authorization = header(req, 'authorization');
    requests.push({
      target,
      secretId,
      ...(authorization !== undefined ? { authorization } : {}),
      contentType: header(req, 'content-type'),
    });

    if (req.method !== 'POST' || (req.url ?? '/') !== '/') {
      return sendError(res, 404, 'UnknownOperationException', 'only POST / is served');
    }
    if (target !== 'secretsmanager.GetSecretValue') {
      return sendError(res, 400, 'UnknownOperationException', `unsupported target ${target ?? '(none)'}`);
    }
    if (input === undefined) {
      return sendError(res, 400, 'SerializationException', 'request body is not valid JSON');
    }
    if (!authorization?.startsWith('AWS4-HMAC-SHA256')) {
      return sendError(res, 400, 'MissingAuthenticationTokenException', 'request is not signed');
    }
    if (secretId === undefined) {
      return sendError(res, 400, 'InvalidParameterException', 'SecretId is required');
    }
    const name = resolveName(secretId);
    if (denied.has(secretId) || (name !== undefined && denied.has(name))) {
      return sendError(
        res,
        400,
        'AccessDeniedException',
        `User: arn:aws:iam::${ACCOUNT}:user/test is not authorized to perform: secretsmanager:GetSecretValue`,
      );
    }
    if (name === undefined) {
      return sendError(res, 400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    }
    const out: Record<string, unknown> = {
      ARN: fakeSecretArn(name),
      Name: name,
      VersionId: randomUUID(),
      VersionStages: ['AWSCURRENT'],
      CreatedDate: Math.floor(Date.now() / 1000),
    };
    if (options.secrets[name] !== undefined) out.SecretString = options.secrets[name];
    else out.SecretBinary = Buffer.from(options.binary![name]!).toString('base64');
    send(res, 200, out);
  }

  function resolveName(secretId: string): string | undefined {
    const names = [...Object.keys(options.secrets), ...Object.keys(options.binary ?? {})];
    return names.find((n) => n === secretId || fakeSecretArn(n) === secretId);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': JSON_11,
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  send(res, status, { __type: type, message }, { 'x-amzn-ErrorType': type });
}
