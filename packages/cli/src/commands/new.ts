import type { Command } from 'commander';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { normalizeService } from '@squadron/sdk';
import { action, printJson, UsageError } from '../output.ts';

interface NewFlags { dir?: string; json?: boolean }

/** Loads TypeScript and this installation's '@squadron/*' for the folder's test, wherever it is. */
const REGISTER = new URL('../../bin/register.mjs', import.meta.url).href;

/** The files of a new service folder, by name: each works as it is, deployed or tested. */
function serviceFiles(name: string, dir: string): Record<string, string> {
  const reply = `{ text: \`hello \${req?.name ?? 'world'}\`, from: '${name}', site: ctx.site }`;
  return {
    'package.json': `${JSON.stringify({
      name, version: '0.1.0', private: true, type: 'module',
      scripts: { test: `node --import ${REGISTER} --test index.test.ts` },
    }, null, 2)}\n`,
    'index.ts': `import { defineService } from '@squadron/sdk';

export default defineService({
  name: '${name}',
  methods: {
    hello: async (req: { name?: string } | null, ctx) => (${reply}),
  },
});
`,
    'index.test.ts': `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeService, type Context } from '@squadron/sdk';
import service from './index.ts';

// Runs the hello handler as an instance would: found by name in the service's own definition.
test('hello greets by name', async () => {
  const hello = normalizeService(service).methods.get('hello')!.handler;
  assert.deepEqual(await hello({ name: 'ada' }, { site: 'sto' } as Context), { text: 'hello ada', from: '${name}', site: 'sto' });
});
`,
    'README.md': `# ${name}

A Squadron service: its definition is \`index.ts\`.

- Test it: \`npm test\` (runs \`index.test.ts\` with this machine's Squadron installation).
- Create it once, owned by your squad: \`squadron services create ${name} --squad SQUAD\`.
- Deploy it: \`squadron deploy ${name} --path ${dir} --sites SITE\` (\`squadron sites\` lists them).
- Call it: \`squadron call ${name} hello '{"name":"ada"}'\`.
`,
  };
}

/** Refuse a folder that holds anything, or a path that is not a folder. */
function checkFolder(path: string, shown: string): void {
  let entries: string[];
  try {
    if (!statSync(path).isDirectory()) throw new UsageError(`${shown} exists and is not a folder: choose another with --dir`);
    entries = readdirSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (entries.length > 0) throw new UsageError(`folder ${shown} exists and is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): choose another with --dir, or empty it`);
}

/** `new`: a service folder to start from, that tests and deploys as it is. */
export function registerNew(program: Command): void {
  program
    .command('new')
    .description('write a new service folder (package.json, index.ts with a hello method, its test, a README) that deploys as it is')
    .argument('<name>', 'the service\'s name: lower-case letters, digits and dashes, starting with a letter')
    .option('--dir <dir>', 'the folder to write (default: ./NAME); it must not exist, or be empty')
    .option('--json', 'print JSON')
    .action(action(async (name: string, flags: NewFlags) => {
      try {
        normalizeService({ name });
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const shown = flags.dir ?? `./${name}`;
      const dir = resolve(shown);
      checkFolder(dir, shown);
      mkdirSync(dir, { recursive: true });
      const files = serviceFiles(name, shown);
      for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text, { flag: 'wx' });
      if (flags.json) return printJson({ service: name, dir, files: Object.keys(files) });
      process.stdout.write(`service ${name} written to ${shown}: ${Object.keys(files).join(', ')}. Next:\n`
        + `  (cd ${shown} && npm test)\n`
        + `  squadron services create ${name} --squad SQUAD\n`
        + `  squadron deploy ${name} --path ${shown} --sites SITE\n`
        + `  squadron call ${name} hello '{"name":"ada"}'\n`);
    }));
}
