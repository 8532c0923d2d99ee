// The consent step of an /authorize sign-in (issue 16): a third-party app's pending request waits,
// sealed, on the consent page until the signed-in user allows or denies it. Allow remembers the
// scopes (consents.ts) and answers with the code; Deny answers the client with access_denied (RFC
// 6749 §4.1.2.1). Both need the browser's live SSO session: without one, the sign-in page comes first.
import type { Deps } from '../../deps.js';
import type { App } from '../apps/apps.js';
import type { RequestMeta } from '../audit/audit.js';
import { grantConsent } from '../consents/consents.js';
import { errorRedirect, issueCodeRedirect, type PendingAuthorization } from '../oidc/authorization.js';
import { parseScope } from '../oidc/scopes.js';
import { resumeSession } from '../sessions/sessions.js';
import type { SessionRow } from '../../storage/schema.js';
import type { User } from '../users/users.js';
import { openRequest } from './sign-in.js';

export interface ConsentRequest {
  redirectUri: string;
  authz: string;
}

export type ConsentPrompt =
  { kind: 'login' } | { kind: 'ask'; user: User; session: SessionRow; scopes: string[]; pending: PendingAuthorization };

/** What the consent page shows: the scopes asked for and who is signed in; `login` when no one is. */
export async function openConsent(
  deps: Pick<Deps, 'db' | 'clock' | 'secret'>,
  app: App,
  request: ConsentRequest,
  sessionCookie: string | undefined,
): Promise<ConsentPrompt> {
  const pending = openRequest(deps, app, request)!;
  const live = await resumeSession(deps, sessionCookie);
  if (!live) return { kind: 'login' };
  return { kind: 'ask', user: live.user, session: live.session, scopes: parseScope(pending.scope), pending };
}

/** The user's answer: the redirect to the client (a code, or access_denied), or `login` when the session is gone. */
export async function answerConsent(
  deps: Pick<Deps, 'db' | 'clock' | 'secret' | 'config'>,
  app: App,
  request: ConsentRequest,
  sessionCookie: string | undefined,
  decision: 'allow' | 'deny',
  meta: RequestMeta = {},
): Promise<{ kind: 'redirect'; url: string } | { kind: 'login' }> {
  const prompt = await openConsent(deps, app, request, sessionCookie);
  if (prompt.kind === 'login') return prompt;
  const { pending, user, session, scopes } = prompt;
  if (decision === 'deny') {
    return errorRedirect(deps, pending.redirectUri, 'access_denied', 'The user did not allow this request', pending.state) as {
      kind: 'redirect';
      url: string;
    };
  }
  const url = await deps.db.transaction().execute(async (trx) => {
    const d = { ...deps, db: trx };
    await grantConsent(d, { userId: user.id, appId: app.appId, scopes }, meta);
    return issueCodeRedirect(d, app, user, pending, { sessionId: session.id, authTime: session.auth_time, amr: session.amr });
  });
  return { kind: 'redirect', url };
}
