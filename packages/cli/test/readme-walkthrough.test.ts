import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SQUADRON_BIN, startSquadron, type LiveCommand } from '@squadron/testkit';
import { conventionProblems, fencedBlocks, type FencedBlock } from './walkthrough/markdown-blocks.ts';
import { blockCommands, commentStart, type WalkthroughCommand } from './walkthrough/shell-commands.ts';
import { ShellSession } from './walkthrough/shell-session.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The documents whose ```sh blocks run, in this order, on one platform. */
const DOCS = ['README.md', 'examples/README.md'];
/** What a background command prints once it is ready: `squadron subscribe`, `squadron run`. */
const READY = /subscribed to |\bready\b/;
/** One command's time, at most; a deploy or a storage create waits for its rollout. */
const COMMAND_TIMEOUT_MS = 90_000;
/**
 * The whole walkthrough's time, at most. Each of its ~70 squadron commands costs about 0.9 s of
 * CPU to start; on two cores it took 3.5 minutes beside other work (load 5 to 13), 11 at a load
 * of 50. scripts/test.mjs gives this file 900 s, the platform's start included: a command still
 * running when this is spent fails, named, before the runner's own timeout would end the file
 * without saying where it was (and leave its platform running).
 */
const WALKTHROUGH_MS = 690_000;

const docBlocks = (): FencedBlock[] => DOCS.flatMap((doc) => fencedBlocks(join(ROOT, doc), doc));
const walkthrough = (): WalkthroughCommand[] => docBlocks().filter((b) => b.lang === 'sh').flatMap(blockCommands);

/** A failure that says where in the README, which command, and what it printed. */
function failure(c: WalkthroughCommand, said: string, output: string, session?: ShellSession): Error {
  const background = session?.backgroundOutput() ?? '';
  return new Error(`${c.file}:${c.line} (the \`\`\`sh block at line ${c.block}): \`${c.command}\` ${said}\n`
    + `--- it printed ---\n${output.trimEnd() || '(nothing)'}\n`
    + (background ? `--- the background commands printed ---\n${background.trimEnd()}\n` : ''));
}

describe('the README test\'s rules', () => {
  it('keeps every shell command in a ```sh block, and output in ```text', () => {
    assert.deepEqual(conventionProblems(docBlocks()), []);
  });

  it('reads a block as the README says: comments, skipped lines, expected failures, background commands', () => {
    const lines = [
      '# a comment line',
      `npx squadron call catalog search '{"q":"#1 hit"}'   # a "#" inside quotes is the command's`,
      'npm start       # not run by the README test: it starts its own platform',
      "npx squadron call playlists get '{\"id\":\"p9\"}'   # BAD_REQUEST: unknown playlist 'p9'",
      'npx squadron subscribe user.created --count 1 &   # in the background',
      'npx squadron deploy jingles \\',
      '  --path ./jingles --sites sto',
    ];
    const block: FencedBlock = { file: 'doc.md', line: 1, lang: 'sh', lines: lines.map((text, i) => ({ line: i + 2, text })) };
    assert.deepEqual(blockCommands(block).map((c) => [c.line, c.mode, c.command, c.fails]), [
      [3, 'foreground', `npx squadron call catalog search '{"q":"#1 hit"}'`, null],
      [4, 'skipped', 'npm start', null],
      [5, 'foreground', `npx squadron call playlists get '{"id":"p9"}'`, "BAD_REQUEST: unknown playlist 'p9'"],
      [6, 'background', 'npx squadron subscribe user.created --count 1', null],
      [7, 'foreground', 'npx squadron deploy jingles --path ./jingles --sites sto', null],
    ]);
    const tricky = `echo "it's" 'a "#" here' a#b # there`;
    assert.equal(commentStart(tricky), tricky.indexOf('# there'));
    assert.throws(() => blockCommands({ ...block, lines: [{ line: 2, text: 'a | b &' }] }), /one simple command/);
  });
});

/**
 * Every ```sh block of README.md, then of examples/README.md, run in order in one shell against
 * a fresh `squadron up --demo` (what `npm start` runs), as a reader at the repository root would:
 * `squadron` and `npx squadron` are this repository's CLI. The shell works in a scratch copy of
 * the repository root (links to its files), so that what the commands make (service folders)
 * stays out of the checkout, with a login file of its own.
 */
describe('the README runs as written', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'squadron-readme-'));
  const dataDir = join(scratch, 'data');
  const home = join(scratch, 'repo');
  const bin = join(scratch, 'bin');
  let up: LiveCommand | undefined;
  let session: ShellSession | undefined;

  before(async () => {
    // Squads' OS users read the service folders made in the scratch copy; storage servers run as
    // their own user and reach the data directory.
    chmodSync(scratch, 0o755);
    mkdirSync(dataDir, { mode: 0o711 });
    mkdirSync(home);
    for (const entry of readdirSync(ROOT)) {
      if (entry !== '.git' && entry !== '.squadron') symlinkSync(join(ROOT, entry), join(home, entry));
    }
    mkdirSync(bin);
    const cli = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(SQUADRON_BIN)} "$@"`;
    writeFileSync(join(bin, 'squadron'), `#!/bin/sh\n${cli}\n`, { mode: 0o755 });
    // npx would find the same CLI in node_modules/.bin, more slowly; nothing else may go through it.
    writeFileSync(join(bin, 'npx'), `#!/bin/sh\nif [ "$1" = squadron ]; then shift; ${cli}; fi\n`
      + 'echo "the README test runs npx squadron only, not npx $1" >&2\nexit 127\n', { mode: 0o755 });
    mkdirSync(join(scratch, 'out'));

    up = startSquadron(['up', '--demo', '--port', '0'], { SQUADRON_DATA_DIR: dataDir, SQUADRON_LOG_LEVEL: 'warn' });
    await up.waitFor(/squadron ready/, 140_000);

    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SQUADRON_')));
    session = ShellSession.start(home, {
      ...env,
      PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      SQUADRON_DATA_DIR: dataDir,
      XDG_CONFIG_HOME: join(scratch, 'config'),
    }, join(scratch, 'out'));
  }, { timeout: 150_000 });

  after(async () => {
    await session?.close();
    await up?.stop('SIGTERM');
    rmSync(scratch, { recursive: true, force: true });
  });

  /** Run one command as its README says; throw a failure that names it. */
  const runCommand = async (c: WalkthroughCommand, deadline: number, took: Array<[number, string]>, t: TestContext) => {
    if (c.mode === 'skipped') {
      t.diagnostic(`not run: ${c.file}:${c.line} ${c.command} (${c.comment})`);
      return;
    }
    const started = performance.now();
    const left = deadline - started;
    if (left <= 0) throw failure(c, `was not reached: the walkthrough took more than its ${WALKTHROUGH_MS / 1000} s`, '', session);
    if (c.mode === 'background') {
      await session!.start(c.command, READY, Math.min(30_000, left)).catch((err: Error) => {
        throw failure(c, 'did not start in the background', err.message, session);
      });
    } else {
      const { code, output } = await session!.run(c.command, Math.min(COMMAND_TIMEOUT_MS, left)).catch((err: Error) => {
        throw failure(c, 'did not finish', err.message, session);
      });
      if (c.fails === null && code !== 0) throw failure(c, `exited ${code}, expected 0`, output, session);
      if (c.fails !== null && code === 0) throw failure(c, `exited 0; the README shows it failing with: ${c.fails}`, output, session);
      if (c.fails !== null && !output.includes(c.fails)) throw failure(c, `failed, but without the README's words: ${c.fails}`, output, session);
    }
    took.push([performance.now() - started, `${c.file}:${c.line} ${c.command}`]);
  };

  it('runs every command of README.md and examples/README.md in order', { timeout: WALKTHROUGH_MS + 30_000 }, async (t) => {
    const commands = walkthrough();
    assert.ok(commands.filter((c) => c.mode !== 'skipped').length >= 40, 'the README\'s blocks hold the walkthrough');
    const took: Array<[number, string]> = [];
    const t0 = performance.now();
    try {
      for (const c of commands) await runCommand(c, t0 + WALKTHROUGH_MS, took, t);
    } finally {
      const slowest = [...took].sort((a, b) => b[0] - a[0]).slice(0, 8).map(([ms, what]) => `${(ms / 1000).toFixed(1)} s ${what}`);
      t.diagnostic(`${took.length} commands in ${((performance.now() - t0) / 1000).toFixed(1)} s; slowest: ${slowest.join('; ')}`);
    }
  });
});
