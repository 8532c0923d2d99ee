// Lint: typescript-eslint with type information (floating promises and misused promises are real bugs in
// a server), formatting left to Prettier (eslint-config-prettier turns the stylistic rules off).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'data/', 'coverage/', '.test-cache/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { globals: globals.node, parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, properties: false } }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-duplicate-imports': 'error',
      // Request bodies, JSON columns and test responses are `any` by nature; zod checks them at the edge.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Its autofix removed casts that tsc needs (pino Logger vs FastifyBaseLogger); the cast is documentation here.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // An async function without await is a fine way to return a promise (Fastify handlers, plugins).
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/unbound-method': 'off' } },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  // The hosted pages' one script runs in the browser, as a classic script (no modules, no build).
  { files: ['views/**/*.js'], languageOptions: { globals: globals.browser, sourceType: 'script' } },
  prettier,
);
