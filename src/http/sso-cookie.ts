// The SSO session cookie km_sso: HttpOnly, SameSite=Lax, Secure + __Host- prefix on https, 8 h. And
// the known-device cookie km_device (src/domain/users/known-devices.ts), same attributes, 1 year: it
// outlives sign-outs on purpose (it says only that this browser signed in to the account before).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { cookieName } from './plugins/web.js';

/** The attributes every Keymaster browser cookie shares (DESIGN.md §4.8). */
const cookieOptions = (config: Config) => ({ path: '/', httpOnly: true, sameSite: 'lax' as const, secure: config.secureCookies });

export function readSsoCookie(config: Config, req: FastifyRequest): string | undefined {
  return req.cookies[cookieName(config, 'km_sso')];
}

export function setSsoCookie(config: Config, reply: FastifyReply, value: string): void {
  reply.setCookie(cookieName(config, 'km_sso'), value, { ...cookieOptions(config), maxAge: config.ssoSessionTtlHours * 3600 });
}

const DEVICE_COOKIE_DAYS = 365;

export function readDeviceCookie(config: Config, req: FastifyRequest): string | undefined {
  return req.cookies[cookieName(config, 'km_device')];
}

export function setDeviceCookie(config: Config, reply: FastifyReply, value: string): void {
  reply.setCookie(cookieName(config, 'km_device'), value, { ...cookieOptions(config), maxAge: DEVICE_COOKIE_DAYS * 86400 });
}

export function clearSsoCookie(config: Config, reply: FastifyReply): void {
  reply.clearCookie(cookieName(config, 'km_sso'), cookieOptions(config));
}

/**
 * km_verify: binds an email verification link to the browser that asked for it (accounts.ts
 * verifyEmailInBrowser). Random, its SHA-256 kept with the token; as long-lived as the link.
 */
export function readVerifyCookie(config: Config, req: FastifyRequest): string | undefined {
  return req.cookies[cookieName(config, 'km_verify')];
}

export function setVerifyCookie(config: Config, reply: FastifyReply, value: string): void {
  reply.setCookie(cookieName(config, 'km_verify'), value, { ...cookieOptions(config), maxAge: config.verifyTokenTtlHours * 3600 });
}

export function clearVerifyCookie(config: Config, reply: FastifyReply): void {
  reply.clearCookie(cookieName(config, 'km_verify'), cookieOptions(config));
}

/**
 * km_device_request: binds the /device pages' sealed request to the browser that entered the user
 * code (device-grant.ts). Random, its SHA-256 in the sealed request; as long-lived as the request.
 */
export function readDeviceRequestCookie(config: Config, req: FastifyRequest): string | undefined {
  return req.cookies[cookieName(config, 'km_device_request')];
}

export function setDeviceRequestCookie(config: Config, reply: FastifyReply, value: string, maxAgeSeconds: number): void {
  reply.setCookie(cookieName(config, 'km_device_request'), value, { ...cookieOptions(config), maxAge: maxAgeSeconds });
}
