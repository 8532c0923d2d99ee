// An admin's reach as a list of app ids, for queries that filter by app (tokens, audit, stats): the
// apps named in the scope plus every app of its tenants, read now (an app moved to the tenant a
// second ago is in). undefined (a platform admin) stays undefined: no filter.
import type { Deps } from '../../deps.js';
import { listAppIdsOfTenants } from './app-scope-store.js';

export async function scopeAppIds(
  deps: Pick<Deps, 'db'>,
  scope: { tenantIds: readonly string[]; appIds: readonly string[] } | undefined,
): Promise<string[] | undefined> {
  if (scope === undefined) return undefined;
  return [...new Set([...scope.appIds, ...(await listAppIdsOfTenants(deps.db, scope.tenantIds))])];
}
