import { UsageError } from '../output.ts';
import type { LogEntry } from './log-tail.ts';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Keys a line shows in its own place (time, level, message), or that its prefix says already. */
const SHOWN = new Set(['time', 'level', 'msg', 'pid', 'hostname', 'service', 'instance', 'site']);

/**
 * A line for a person: `INSTANCE | TIME LEVEL message key=value…`, the instance padded to
 * `width`. An error's stack follows on lines of its own; a line that is not JSON is shown as it is.
 */
export function textLines(entry: LogEntry, width: number): string[] {
  const prefix = `${entry.instance.padEnd(width)} | `;
  const json = entry.json;
  if (json === null) return [prefix + entry.text];
  const level = typeof json.level === 'number' ? (LEVELS[json.level] ?? String(json.level)) : typeof json.level === 'string' ? json.level.toUpperCase() : '';
  const fields: string[] = [];
  let stack: string[] = [];
  for (const [key, value] of Object.entries(json)) {
    if (SHOWN.has(key) || (key === 'name' && value === json.service)) continue;
    const err = value as { message?: unknown; stack?: unknown } | null;
    if (typeof err === 'object' && err !== null && typeof err.stack === 'string') {
      stack = err.stack.split('\n');
      fields.push(`${key}=${JSON.stringify(typeof err.message === 'string' ? err.message : stack[0])}`);
      stack = stack.slice(1);
      continue;
    }
    fields.push(`${key}=${typeof value === 'string' && /^[\w.:/@-]+$/.test(value) ? value : JSON.stringify(value)}`);
  }
  const message = typeof json.msg === 'string' ? json.msg : '';
  const head = [new Date(entry.time).toISOString(), level.padEnd(5), message, ...fields].filter((part) => part !== '').join(' ');
  return [prefix + head, ...stack.map((line) => prefix + line)];
}

/** A JSON line with the instance (and its site) added; a line that was not JSON becomes one, its text the message. */
export function jsonLine(entry: LogEntry): string {
  if (entry.json === null) return JSON.stringify({ time: entry.time, instance: entry.instance, site: entry.site, msg: entry.text, raw: true });
  return JSON.stringify({ ...entry.json, instance: entry.instance, site: entry.site });
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: `30s`, `10m`, `2h` or `1d`, in milliseconds. */
export function parseSince(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) throw new UsageError(`--since takes a number and a unit (s, m, h or d), e.g. 30s, 10m or 2h; got '${text}'`);
  return Number(match[1]) * UNITS[match[2]!]!;
}
