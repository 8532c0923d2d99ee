// oidc-provider ships no type declarations; the tests use it as an untyped upstream OpenID provider.
declare module 'oidc-provider';
