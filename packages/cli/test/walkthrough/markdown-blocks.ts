import { readFileSync } from 'node:fs';

/** One fenced block of a Markdown file, with where it starts. */
export interface FencedBlock {
  file: string;
  /** The line of its opening fence, from 1. */
  line: number;
  /** The fence's language: `sh`, `ts`, `text`; '' when it names none. */
  lang: string;
  /** Its lines, each with its own line number in the file. */
  lines: Array<{ line: number; text: string }>;
}

/** Languages that hold shell commands: only `sh` is run, so the others are refused. */
const SHELL_ALIASES = new Set(['bash', 'console', 'shell', 'shell-session', 'zsh', 'shellsession']);

/** Every fenced block of a Markdown file, in order (``` or ~~~ fences, at most 3 spaces in). */
export function fencedBlocks(file: string, label = file): FencedBlock[] {
  const text = readFileSync(file, 'utf8').split('\n');
  const blocks: FencedBlock[] = [];
  let open: { fence: string; block: FencedBlock } | null = null;
  text.forEach((raw, i) => {
    if (open) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(raw);
      if (close && close[1]!.startsWith(open.fence)) {
        blocks.push(open.block);
        open = null;
      } else {
        open.block.lines.push({ line: i + 1, text: raw });
      }
      return;
    }
    const start = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(raw);
    if (start) open = { fence: start[1]!, block: { file: label, line: i + 1, lang: start[2]!.toLowerCase(), lines: [] } };
  });
  if (open) throw new Error(`${label}:${(open as { block: FencedBlock }).block.line}: a fenced block that never closes`);
  return blocks;
}

/**
 * What breaks the convention that makes the README runnable: commands go in ```sh blocks (run by
 * the README test), output and diagrams in ```text; a block with no language, or another shell's
 * name, would be skipped without anyone noticing.
 */
export function conventionProblems(blocks: FencedBlock[]): string[] {
  const problems: string[] = [];
  for (const b of blocks) {
    if (b.lang === '') problems.push(`${b.file}:${b.line}: a fenced block without a language: \`\`\`sh for commands (run by the README test), \`\`\`text for output`);
    else if (SHELL_ALIASES.has(b.lang)) problems.push(`${b.file}:${b.line}: \`\`\`${b.lang}: commands go in \`\`\`sh blocks, which the README test runs; output in \`\`\`text`);
  }
  return problems;
}
