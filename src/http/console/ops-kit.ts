// Shared by the Operations screens (ops.ts): the apps an admin may pick from, what they may do with
// one, and the Admin API's wire shapes these screens read.
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ConsoleApiError, consoleApi, must, type ConsoleMe } from './kit.js';

export interface AppSummary {
  id: string;
  name: string;
  tenant_id: string | null;
  builtin: string | null;
}

/** The apps the admin sees (the Admin API's list; its first 200, which is what a picker can show). */
export async function visibleApps(req: FastifyRequest): Promise<AppSummary[]> {
  const page = must(await consoleApi(req).get<{ apps: AppSummary[] }>('/apps', { limit: 200 }));
  return page.apps;
}

/**
 * The apps a per-app operations screen offers: not the built-in Console app (a refresh key there would
 * be a long-lived Admin JWT credential, and it sends no webhooks). Its URL still answers as the API does.
 */
export async function pickableApps(req: FastifyRequest): Promise<AppSummary[]> {
  return (await visibleApps(req)).filter((a) => a.builtin === null);
}

/** One app the admin sees, or the API's 404 (another tier's app is "nothing here"). */
export async function visibleApp(req: FastifyRequest, appId: string): Promise<AppSummary> {
  return must(await consoleApi(req).get<AppSummary>(`/apps/${appId}`));
}

/** Full control of the app (create keys and webhooks); managers list and revoke only. */
export function fullAccess(me: ConsoleMe, a: Pick<AppSummary, 'id' | 'tenant_id'>): boolean {
  return me.platform || (a.tenant_id !== null && me.tenantIds.includes(a.tenant_id)) || me.adminAppIds.includes(a.id);
}

export const AppIdParams = z.object({ app_id: z.uuid() });
export const NoBody = z.object({ _csrf: z.string().optional() });
export const CursorQuery = z.string().max(1000).optional();

/** "2026-12-08 00:51:07 UTC" (times are UTC; the <time> element carries the ISO value). */
export function utc(iso: string | null | undefined): string {
  if (!iso) return '';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** Throws a refusal the Console renders as its error page (the API's status and detail kept). */
export function refuse(status: number, detail: string): never {
  throw new ConsoleApiError(status, detail, {});
}
