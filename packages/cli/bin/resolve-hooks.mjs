// Lets a service folder anywhere on disk import '@squadron/sdk' (and the other @squadron
// packages): when normal resolution fails, resolve from this installation instead.
const base = new URL('./squadron.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (!specifier.startsWith('@squadron/')) throw err;
    return nextResolve(specifier, { ...context, parentURL: base });
  }
}
