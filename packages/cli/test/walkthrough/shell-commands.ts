import type { FencedBlock } from './markdown-blocks.ts';

/**
 * The rules by which the README test reads a ```sh block, documented in README.md ("The README
 * runs as written"): each command runs in one shell, in order, and must exit 0, except that
 *  - a line whose comment says `not run by the README test: WHY` is not run (npm itself, the
 *    platform the test has started for it);
 *  - a command whose comment starts with an error code (`# BAD_REQUEST: unknown track 't99'`) is
 *    shown failing: it must exit non-zero and print that text;
 *  - a command ending in `&` runs in the background, and the next one starts once it has said it
 *    is ready (`subscribed to …`, `… ready …`), as a reader would wait for it.
 */
export const SKIP_MARKER = 'not run by the README test';

export interface WalkthroughCommand {
  file: string;
  /** The line of the block's opening fence. */
  block: number;
  line: number;
  /** The command as written, comment left off, continuation lines joined. */
  command: string;
  comment: string;
  mode: 'foreground' | 'background' | 'skipped';
  /** For a command shown failing: the text its output must hold. */
  fails: string | null;
}

/** Where a `#` outside quotes starts a comment (at the start of a word, as in the shell); -1 if none. */
export function commentStart(line: string): number {
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
    } else if (c === '\\') {
      i++;
    } else if (quote === '"') {
      if (c === '"') quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return i;
    }
  }
  return -1;
}

/** The commands of a ```sh block, in order. */
export function blockCommands(block: FencedBlock): WalkthroughCommand[] {
  const commands: WalkthroughCommand[] = [];
  for (let i = 0; i < block.lines.length; i++) {
    const first = block.lines[i]!;
    let text = first.text;
    // A line ending in a backslash goes on on the next one.
    while (/\\\s*$/.test(text) && i + 1 < block.lines.length) text = `${text.replace(/\s*\\\s*$/, '')} ${block.lines[++i]!.text.trim()}`;
    const hash = commentStart(text);
    const command = (hash === -1 ? text : text.slice(0, hash)).trim();
    const comment = hash === -1 ? '' : text.slice(hash + 1).trim();
    if (command === '') continue;
    const where = `${block.file}:${first.line}`;
    const background = /(^|[^&])&$/.test(command);
    if (background && /[|;]|&&/.test(command.slice(0, -1))) {
      throw new Error(`${where}: a command run in the background (&) must be one simple command, so that \`$!\` is its process: ${command}`);
    }
    const code = /^[A-Z][A-Z0-9_]+: /.exec(comment);
    commands.push({
      file: block.file, block: block.line, line: first.line,
      command: background ? command.slice(0, -1).trim() : command,
      comment,
      mode: comment.includes(SKIP_MARKER) ? 'skipped' : background ? 'background' : 'foreground',
      fails: code ? comment : null,
    });
  }
  return commands;
}
