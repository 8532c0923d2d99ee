// STYLE.md §18 (issue 13): a module's store is private to its module, and routes never import routes.
// Every file under src/ is read and its import specifiers resolved, so the rule cannot regress silently.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface SourceFile {
  /** Repository-relative, forward slashes: `src/domain/users/users.ts`. */
  path: string;
  text: string;
}

function sourceFiles(dir = join(ROOT, 'src')): SourceFile[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    if (!/\.(ts|js|mjs|cjs)$/.test(e.name)) return [];
    return [{ path: relative(ROOT, full).split(sep).join('/'), text: readFileSync(full, 'utf8') }];
  });
}

/** Every module specifier of a file: static imports and re-exports (type-only too), side-effect and dynamic imports. */
function importSpecifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) found.push(m[1]!);
  return found;
}

/** The repository-relative path a relative specifier names, `.js` as written (undefined for packages and node: builtins). */
function resolveSpecifier(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return posix.normalize(posix.join(posix.dirname(from), spec));
}

const STORE = /-store\.(js|ts)$/;
const domainFolder = (path: string) => /^src\/domain\/([^/]+)\//.exec(path)?.[1];
const isRoute = (path: string) => /^src\/http\/routes\/[^/]+$/.test(path);
const stripExt = (path: string) => path.replace(/\.(js|ts|mjs|cjs)$/, '');

/** One line per broken rule: `importer → imported: why`. */
function layeringViolations(files: SourceFile[]): string[] {
  const out: string[] = [];
  for (const file of files) {
    for (const spec of importSpecifiers(file.text)) {
      const target = resolveSpecifier(file.path, spec);
      if (!target) continue;
      const line = `${file.path} → ${target}`;
      if (STORE.test(target)) {
        const owner = domainFolder(target);
        if (/^src\/(http|cli)\//.test(file.path)) out.push(`${line}: src/http and src/cli never import a store`);
        else if (owner !== undefined && domainFolder(file.path) !== owner) {
          out.push(`${line}: the store of domain/${owner} is private to domain/${owner}; call its functions`);
        }
      }
      if (isRoute(file.path) && isRoute(target) && stripExt(target) !== stripExt(file.path)) {
        out.push(`${line}: a route never imports another route`);
      }
    }
  }
  return out;
}

describe('layering (STYLE.md §18)', () => {
  const files = sourceFiles();

  it('reads the tree and sees its imports (the scan itself works)', () => {
    expect(files.length).toBeGreaterThan(50);
    const users = files.find((f) => f.path === 'src/domain/users/users.ts')!;
    expect(importSpecifiers(users.text)).toContain('./user-store.js');
    // A module reaching its own store through a path that leaves and re-enters the folder is still its own.
    expect(layeringViolations([{ path: 'src/domain/users/users.ts', text: "import * as s from '../users/user-store.js';" }])).toEqual([]);
  });

  it('flags each kind of breach in a planted file', () => {
    const planted: SourceFile[] = [
      { path: 'src/domain/accounts/a.ts', text: "import { revokeUserTokens } from '../tokens/refresh-token-store.js';" },
      {
        path: 'src/domain/oidc/b.ts',
        text: "import type { X } from '../users/user-store.js';\nexport { y } from '../sessions/session-store.js';",
      },
      { path: 'src/domain/upstream/c.ts', text: "const m = await import('../users/user-store.js');" },
      { path: 'src/http/routes/login.ts', text: "import { z } from './oidc-token.js';\nimport '../../domain/apps/app-store.js';" },
      { path: 'src/cli/commands/users.ts', text: "import {\n  findUserById,\n} from '../../domain/users/user-store.js';" },
      { path: 'src/jobs.ts', text: "import * as h from './domain/housekeeping/housekeeping-store.js';" },
    ];
    expect(layeringViolations(planted)).toEqual([
      'src/domain/accounts/a.ts → src/domain/tokens/refresh-token-store.js: the store of domain/tokens is private to domain/tokens; call its functions',
      'src/domain/oidc/b.ts → src/domain/users/user-store.js: the store of domain/users is private to domain/users; call its functions',
      'src/domain/oidc/b.ts → src/domain/sessions/session-store.js: the store of domain/sessions is private to domain/sessions; call its functions',
      'src/domain/upstream/c.ts → src/domain/users/user-store.js: the store of domain/users is private to domain/users; call its functions',
      'src/http/routes/login.ts → src/http/routes/oidc-token.js: a route never imports another route',
      'src/http/routes/login.ts → src/domain/apps/app-store.js: src/http and src/cli never import a store',
      'src/cli/commands/users.ts → src/domain/users/user-store.js: src/http and src/cli never import a store',
      'src/jobs.ts → src/domain/housekeeping/housekeeping-store.js: the store of domain/housekeeping is private to domain/housekeeping; call its functions',
    ]);
  });

  it('no module imports another domain folder’s store, src/http and src/cli import no store, no route imports a route', () => {
    expect(layeringViolations(files)).toEqual([]);
  });
});

describe('one liveness rule for access tokens (DESIGN.md §7.14)', () => {
  const files = sourceFiles();
  const calling = (re: RegExp) =>
    files
      .filter((f) => re.test(f.text))
      .map((f) => f.path)
      .sort();

  it('a user access token is verified only through liveness.ts, or by introspection, which checks its liveness itself', () => {
    // verifyAccessToken checks the signature and claims only: every endpoint reaches it through verifyLiveAccessToken.
    expect(calling(/\bverifyAccessToken\(/)).toEqual(['src/domain/tokens/access-tokens.ts', 'src/domain/tokens/liveness.ts']);
    expect(calling(/await verifyOurJwt\([^)]*'at\+jwt'/)).toEqual([
      'src/domain/oidc/introspection.ts',
      'src/domain/tokens/access-tokens.ts',
    ]);
    expect(files.find((f) => f.path === 'src/domain/oidc/introspection.ts')!.text).toContain('accessTokenRefusal(');
  });
});
