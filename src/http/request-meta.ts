// What the domain may know about the request that caused it: the client's IP and user agent.
import type { FastifyRequest } from 'fastify';
import type { RequestMeta } from '../domain/audit/audit.js';

export function requestMeta(req: FastifyRequest): RequestMeta {
  const ua = req.headers['user-agent'];
  return { ip: req.ip, userAgent: typeof ua === 'string' ? ua : undefined };
}
