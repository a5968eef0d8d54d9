import type { FastifyInstance, FastifyReply } from 'fastify';
import { StorageError } from '../provisioner.ts';
import type { FieldError } from './kv-errors.ts';
import { MAX_VALUE_BYTES } from './limits.ts';
import { errorBodyOf, statusOf, type KvErrorBody, type KvWireOnlyCode } from './wire-errors.ts';

interface AjvError {
  instancePath: string;
  message?: string;
  params: { missingProperty?: string; additionalProperty?: string };
}

/** Schema failures, each named by its JSON pointer into the body (or `params:`, `querystring:`). */
function fieldsOf(validation: AjvError[], context: string | undefined): FieldError[] {
  const where = context && context !== 'body' ? `${context}:` : '';
  // The key is the route's wildcard (`*`): name it as callers know it.
  const named = (p: string) => (where === 'params:' && p === '/*' ? '/key' : p);
  return validation.map((v) => {
    if (v.params.missingProperty) return { path: `${where}${named(`${v.instancePath}/${v.params.missingProperty}`)}`, message: 'is required' };
    if (v.params.additionalProperty) return { path: `${where}${v.instancePath}/${v.params.additionalProperty}`, message: 'is not a known field' };
    return { path: `${where}${named(v.instancePath || '/')}`, message: v.message ?? 'is invalid' };
  });
}

function send(reply: FastifyReply, code: Parameters<typeof statusOf>[0], body: KvErrorBody): void {
  void reply.status(statusOf(code)).send(body);
}

function wire(code: KvWireOnlyCode | 'BAD_REQUEST' | 'NOT_FOUND', message: string, fields?: FieldError[]): KvErrorBody {
  return { error: { code, message, retryable: false, ...(fields ? { fields } : {}) } };
}

/**
 * Every failure answers `{ error: { code, message, retryable, ... } }`: storage errors by their
 * code, schema failures as BAD_REQUEST naming every field, other client errors as BAD_REQUEST
 * (never a 5xx for bad input), anything unexpected as INTERNAL, logged.
 */
export function installErrorReplies(app: FastifyInstance): void {
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: AjvError[]; validationContext?: string }, _req, reply) => {
    if (err instanceof StorageError) return send(reply, err.code, errorBodyOf(err));
    if (err.validation) {
      const fields = fieldsOf(err.validation, err.validationContext);
      return send(reply, 'BAD_REQUEST', wire('BAD_REQUEST', `invalid input: ${fields.map((f) => `${f.path} ${f.message}`).join('; ')}`, fields));
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      app.log.error({ err }, 'kv request failed');
      return send(reply, 'INTERNAL', wire('INTERNAL', 'internal error; see the kv server\'s log'));
    }
    if (status === 413) return send(reply, 'PAYLOAD_TOO_LARGE', wire('PAYLOAD_TOO_LARGE', `the body is too large: a value may hold at most ${MAX_VALUE_BYTES} bytes of JSON`));
    const message = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? "the body must be JSON, sent with 'content-type: application/json'" : err.message;
    send(reply, 'BAD_REQUEST', wire('BAD_REQUEST', message));
  });
  app.setNotFoundHandler((req, reply) => send(reply, 'NOT_FOUND', wire('NOT_FOUND', `no route ${req.method} ${req.url}`)));
}

/** For Fastify's `frameworkErrors`: failures before routing (a malformed URL) get the same body. */
export function frameworkErrorReply(err: Error, reply: FastifyReply): void {
  send(reply, 'BAD_REQUEST', wire('BAD_REQUEST', err.message));
}
