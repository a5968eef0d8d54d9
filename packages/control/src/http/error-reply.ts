import type { FastifyInstance, FastifyReply } from 'fastify';
import { SquadronError } from '@squadron/protocol';
import type { ErrorBody } from '@squadron/client';
import { InvalidInputError } from '../control-errors.ts';

/** The one place where error codes become HTTP statuses. */
export function statusOf(code: string): number {
  switch (code) {
    case 'BAD_REQUEST': return 400;
    case 'UNAUTHENTICATED': return 401;
    case 'FORBIDDEN': case 'QUOTA_EXCEEDED': return 403;
    case 'NOT_FOUND': return 404;
    case 'CONFLICT': case 'NO_CAPACITY': return 409;
    case 'PAYLOAD_TOO_LARGE': return 413;
    case 'TIMEOUT': return 504;
    case 'UNAVAILABLE': case 'CONNECTION_LOST': return 503;
    default: return 500;
  }
}

interface AjvError {
  instancePath: string;
  message?: string;
  params: { missingProperty?: string; additionalProperty?: string };
}

/** Schema failures, each named by its JSON pointer into the body (or query, or params). */
function fieldsOf(validation: AjvError[], context: string | undefined): Array<{ path: string; message: string }> {
  const where = context && context !== 'body' ? `${context}:` : '';
  return validation.map((v) => {
    if (v.params.missingProperty) return { path: `${where}${v.instancePath}/${v.params.missingProperty}`, message: 'is required' };
    if (v.params.additionalProperty) return { path: `${where}${v.instancePath}/${v.params.additionalProperty}`, message: 'is not a known field' };
    return { path: `${where}${v.instancePath || '/'}`, message: v.message ?? 'is invalid' };
  });
}

function send(reply: FastifyReply, status: number, body: ErrorBody): void {
  void reply.status(status).send(body);
}

/**
 * Every failure answers `{ error: { code, message, fields? } }`: domain errors by their code,
 * schema failures as BAD_REQUEST naming each field, anything unexpected as INTERNAL (logged).
 */
export function installErrorReplies(app: FastifyInstance): void {
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: AjvError[]; validationContext?: string }, _req, reply) => {
    if (err instanceof InvalidInputError) return send(reply, 400, { error: { code: err.code, message: err.message, fields: err.fields } });
    if (err instanceof SquadronError) return send(reply, statusOf(err.code), { error: { code: err.code, message: err.message } });
    if (err.validation) {
      const fields = fieldsOf(err.validation, err.validationContext);
      return send(reply, 400, { error: { code: 'BAD_REQUEST', message: `invalid input: ${fields.map((f) => `${f.path} ${f.message}`).join('; ')}`, fields } });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      app.log.error({ err }, 'request failed');
      return send(reply, 500, { error: { code: 'INTERNAL', message: 'internal error; see the control plane log' } });
    }
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 404 ? 'NOT_FOUND' : status === 401 ? 'UNAUTHENTICATED' : 'BAD_REQUEST';
    // The status follows from the code (docs/errors.md): Fastify's other 4xx, such as 415 for a
    // content type it has no parser for, are BAD_REQUEST and answer 400.
    const message = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? "the body must be JSON, sent with 'content-type: application/json'" : err.message;
    send(reply, statusOf(code), { error: { code, message } });
  });
  app.setNotFoundHandler((req, reply) => send(reply, 404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` } }));
}

/** For Fastify's `frameworkErrors`: failures before routing get the same body. */
export function frameworkErrorReply(err: Error, reply: FastifyReply): void {
  send(reply, 400, { error: { code: 'BAD_REQUEST', message: err.message } });
}
