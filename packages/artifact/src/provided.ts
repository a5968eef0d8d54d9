/**
 * The platform's packages that a release does not carry: the runtime that runs it provides them.
 * One copy in each process matters: the runtime checks a handler's thrown errors with
 * `instanceof` against its own error classes, so a service must throw those, not a bundled twin.
 */
export const PROVIDED_MODULES = ['@squadron/sdk', '@squadron/protocol'] as const;
export type ProvidedModule = (typeof PROVIDED_MODULES)[number];

/** Where the runtime puts them, for a release's stand-in modules to read. */
const KEY = Symbol.for('squadron.provided-modules');

/** Called by the runtime before it imports a release. */
export function provideModules(modules: Record<ProvidedModule, object>): void {
  (globalThis as Record<symbol, unknown>)[KEY] = modules;
}

/**
 * The source of the stand-in a release is built with in place of `specifier`: each named export
 * read from the runtime's copy. A name the platform does not export fails the build, not the start.
 */
export function standInSource(specifier: ProvidedModule, names: readonly string[]): string {
  const lines = [
    `const provided = globalThis[Symbol.for('squadron.provided-modules')]?.[${JSON.stringify(specifier)}];`,
    `if (!provided) throw new Error(${JSON.stringify(`${specifier} is provided by the squadron runtime: run this release with the platform (squadron deploy), or run the folder with 'squadron run'`)});`,
    ...names.filter((n) => n !== 'default').map((n) => `export const ${n} = provided.${n};`),
  ];
  return lines.join('\n');
}
