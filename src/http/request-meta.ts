// What the domain may know about the request that caused it: the client's IP and user agent.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestMeta } from '../domain/audit/audit.js';

/** With `reply`: also when the reply has gone out (finish) or the connection closed, for work done after it. */
export function requestMeta(req: FastifyRequest, reply?: FastifyReply): RequestMeta {
  const ua = req.headers['user-agent'];
  return { ip: req.ip, userAgent: typeof ua === 'string' ? ua : undefined, ...(reply && { answered: answeredOf(reply) }) };
}

function answeredOf(reply: FastifyReply): Promise<void> {
  return new Promise((resolve) => {
    reply.raw.once('finish', resolve);
    reply.raw.once('close', resolve);
  });
}
