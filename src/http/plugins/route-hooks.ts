// A route's hooks option as a list: Fastify takes one function, an array of them, or nothing.
export function hookList<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}
