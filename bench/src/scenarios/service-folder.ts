import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A service folder of the smallest kind, `root/name`: one method, `ping`. */
export function writeService(root: string, name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name, private: true, type: 'module' })}\n`);
  writeFileSync(join(dir, 'index.ts'), `import { defineService } from '@squadron/sdk';\nexport default defineService({ name: '${name}', methods: { ping: async () => 'pong' } });\n`);
  return dir;
}
