// Uploaded app logos (POST /admin/apps/{app_id}/logo): PNG, JPEG or SVG, at most 2 MB, recognised by
// their bytes, never by the name or the Content-Type the client sent. Stored as uploaded (no resizing:
// the hosted pages render it at a fixed height) and served from Keymaster's own origin at
// /logos/{app_id}, so a logo never makes the login page load anything from elsewhere.
import { createHash } from 'node:crypto';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { isUuid } from './apps.js';
import { findAppLogo, saveAppLogo } from './logo-store.js';

export const LOGO_MAX_BYTES = 2 * 1024 * 1024;

export type LogoType = 'image/png' | 'image/jpeg' | 'image/svg+xml';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** PNG: the signature, then an IHDR chunk of 13 bytes with a non-zero width and height (PNG §5.2, §11.2.2). */
function isPng(b: Buffer): boolean {
  if (b.length < 33 || !b.subarray(0, 8).equals(PNG_SIGNATURE)) return false;
  if (b.readUInt32BE(8) !== 13 || b.toString('latin1', 12, 16) !== 'IHDR') return false;
  return b.readUInt32BE(16) > 0 && b.readUInt32BE(20) > 0;
}

/** JPEG: SOI (FF D8) followed by a marker, and EOI (FF D9) at the end (trailing padding allowed). */
function isJpeg(b: Buffer): boolean {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8 || b[2] !== 0xff) return false;
  const tail = b.subarray(Math.max(0, b.length - 64));
  for (let i = tail.length - 2; i >= 0; i--) if (tail[i] === 0xff && tail[i + 1] === 0xd9) return true;
  return false;
}

/**
 * SVG: UTF-8 text whose root element is <svg> in the SVG namespace, after an optional XML declaration,
 * comments and a doctype without an internal subset (entity definitions are refused: "billion laughs"
 * would run in every visitor's browser). Script inside is harmless where we serve it (sandbox CSP).
 */
function isSvg(b: Buffer): boolean {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(b);
  if (text.includes('\uFFFD') || text.includes('\u0000')) return false;
  if (/<!ENTITY/i.test(text) || /<!DOCTYPE[^>]*\[/i.test(text)) return false;
  let rest = text.replace(/^\uFEFF/, '').trimStart();
  rest = rest.replace(/^<\?xml[^>]*\?>/, '').trimStart();
  for (;;) {
    const before = rest;
    rest = rest
      .replace(/^<!--[\s\S]*?-->/, '')
      .replace(/^<!DOCTYPE[^>]*>/i, '')
      .trimStart();
    if (rest === before) break;
  }
  const root = /^<svg(\s[^>]*)?>/.exec(rest);
  if (!root || !/\sxmlns\s*=\s*["']http:\/\/www\.w3\.org\/2000\/svg["']/.test(root[0])) return false;
  return /<\/svg>\s*$/.test(rest) || root[0].endsWith('/>');
}

/** The logo's type from its bytes, or undefined when it is none of PNG, JPEG, SVG. */
export function sniffLogo(bytes: Buffer): LogoType | undefined {
  if (isPng(bytes)) return 'image/png';
  if (isJpeg(bytes)) return 'image/jpeg';
  if (isSvg(bytes)) return 'image/svg+xml';
  return undefined;
}

/** Where a stored logo is served: Keymaster's own origin. */
export const logoUrl = (issuer: string, appId: string) => `${issuer.replace(/\/$/, '')}/logos/${appId}`;

/** Stores an uploaded logo for the app and points its logo_url at /logos/{app_id}. */
export async function setAppLogo(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'apps'>,
  appId: string,
  bytes: Buffer,
  meta: RequestMeta,
): Promise<{ contentType: LogoType; bytes: number; url: string }> {
  if (bytes.length > LOGO_MAX_BYTES) throw appError('logo_too_large');
  const contentType = sniffLogo(bytes);
  if (!contentType) throw appError('logo_not_image');
  const url = logoUrl(deps.config.issuer, appId);
  const saved = isUuid(appId) && (await saveAppLogo(deps.db, appId, { data: bytes, contentType, url, now: deps.clock.now() }));
  if (!saved) throw appError('app_not_found', { appId });
  deps.apps.invalidate(appId);
  await recordAuditEvent(deps, { event: 'app.logo_uploaded', appId, data: { contentType, bytes: bytes.length } }, meta);
  return { contentType, bytes: bytes.length, url };
}

/** A stored logo with its strong ETag (a hash of the bytes), or undefined. */
export async function getAppLogo(
  deps: Pick<Deps, 'db'>,
  appId: string,
): Promise<{ data: Buffer; contentType: string; etag: string } | undefined> {
  const logo = isUuid(appId) ? await findAppLogo(deps.db, appId) : undefined;
  if (!logo) return undefined;
  return { ...logo, etag: `"${createHash('sha256').update(logo.data).digest('base64url').slice(0, 32)}"` };
}
