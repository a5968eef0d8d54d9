import { execFileSync } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { SquadUsers, squadUserName } from './squad-users.ts';

/** Resource limits of each instance's process (its squad's user, for processes). */
export interface InstanceLimits {
  /** RLIMIT_NOFILE: open files and sockets of one instance. */
  openFiles: number;
  /** RLIMIT_NPROC: processes and threads of the squad's OS user on this machine (a Node process has about ten threads). */
  processes: number;
}

/**
 * A quarter of the machine's pids (at least 1024): a squad's fork bomb cannot take them all, and a
 * squad's hundreds of instances on one host (each Node process about ten threads, which count)
 * fit. A fixed 1024 aborted the hundredth instance of one squad at start.
 */
function squadProcessLimit(): number {
  try {
    return Math.max(1024, Math.floor(Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) / 4));
  } catch {
    return 8192;
  }
}

export const DEFAULT_INSTANCE_LIMITS: InstanceLimits = Object.freeze({ openFiles: 4096, processes: squadProcessLimit() });

export interface SandboxOptions {
  /** Folders every instance may read: the squadron command, tsx and the SDK (default: derived from the runner's script). */
  runtimePaths?: readonly string[];
  /** Where each squad's scratch folder (its HOME, TMPDIR and working directory) goes; default a fresh private folder under the OS temp dir. */
  scratchRoot?: string;
  /** Run each squad's instances as an OS user of its own (default: when this process is root, the only way it can). */
  osUsers?: boolean;
  /** Node's permission model (`--experimental-permission`): reads limited to the release and the runtime, writes to the scratch folder (default on). */
  permissionModel?: boolean;
  limits?: Partial<InstanceLimits>;
}

/** How to start one instance's process. */
export interface SandboxedCommand {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Set where no setpriv is found: Node's spawn changes the user itself (without no-new-privs). */
  uid?: number;
  gid?: number;
}

/** Environment an instance keeps from the agent's: nothing secret (the agent's token stays with it). */
const INHERITED_ENV = /^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ|NODE_ENV|SQUADRON_LOG_LEVEL)$/;

/** The agent's environment, less what is not the instance's to see (the admin token, the agent's own settings). */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => INHERITED_ENV.test(e[0]) && e[1] !== undefined));
}

/**
 * The folders the runtime is read from, found from the squadron entry script: the workspace's
 * packages (the script's package's parent) and the nearest node_modules above it.
 */
export function runtimePathsOf(script: string): string[] {
  const packages = dirname(dirname(dirname(resolve(script))));
  const paths = [packages];
  for (let d = packages; d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) {
      paths.push(join(d, 'node_modules'));
      break;
    }
  }
  return paths;
}

function findTool(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    const file = join(d, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  return null;
}

/** A path and, when a symlink leads elsewhere, where it leads (the permission model checks the path it is given). */
function withRealPath(path: string): string[] {
  const abs = resolve(path);
  try {
    const real = realpathSync(abs);
    return real === abs ? [abs] : [abs, real];
  } catch {
    return [abs];
  }
}

/**
 * Runs each squad's instances apart from the platform and from other squads: as the squad's own
 * OS user (`squadron-<squad>`, made on first use; root only), with no new privileges (setpriv),
 * with limits on open files and processes (prlimit), under Node's permission model (reads of the
 * release and the runtime only, writes to the squad's scratch folder), and with an environment
 * that carries nothing of the agent's but what the instance is handed.
 */
export class InstanceSandbox {
  private readonly users = new SquadUsers();
  private readonly setpriv = findTool('setpriv');
  private readonly prlimit = findTool('prlimit');
  /** Where the machine lets this process make a mount namespace (root with util-linux's unshare): each instance's shared temp folders are read-only. */
  private readonly unshare: string | null;
  private readonly root: string;
  private readonly ownRoot: boolean;
  private readonly limits: InstanceLimits;
  readonly osUsers: boolean;
  readonly permissionModel: boolean;
  private readonly runtimePaths: string[];

  constructor(runnerScript: string, options: SandboxOptions = {}) {
    const isRoot = process.getuid?.() === 0;
    this.osUsers = options.osUsers ?? isRoot;
    this.permissionModel = options.permissionModel ?? true;
    this.limits = { ...DEFAULT_INSTANCE_LIMITS, ...options.limits };
    this.unshare = this.osUsers ? mountNamespaceTool() : null;
    this.runtimePaths = (options.runtimePaths ?? runtimePathsOf(runnerScript)).flatMap(withRealPath);
    this.ownRoot = options.scratchRoot === undefined;
    // Made by mkdtemp: private, and a name no squad can have made first in a shared /tmp.
    this.root = options.scratchRoot ?? mkdtempSync(join(tmpdir(), 'squadron-instances-'));
    mkdirSync(this.root, { recursive: true });
    // Squads' users enter it to reach their own folder; none can list it.
    chmodSync(this.root, this.osUsers ? 0o711 : 0o700);
  }

  /** A folder for the agent's copies of releases, below the scratch root that every squad's user may pass through. */
  get releaseRoot(): string {
    return join(this.root, 'releases');
  }

  /** What isolation this machine cannot give, in plain words, for the agent's log at start; empty when all is in force. */
  get lost(): string[] {
    const lost: string[] = [];
    if (!this.osUsers) {
      lost.push('every instance runs as the agent\'s own OS user (only root can run each squad as a user of its own): an instance\'s child processes can read what the agent\'s user can, and signal other squads\' instances');
    }
    if (!this.setpriv) lost.push('setpriv was not found: instances may gain privileges through setuid programs (install util-linux)');
    if (!this.prlimit) lost.push('prlimit was not found: instances have no limit on open files or processes (install util-linux)');
    if (this.osUsers && !this.unshare) lost.push('no mount namespace can be made here (unshare --mount): a child process of an instance can write into the machine\'s shared temp folders (/tmp, /var/tmp, /dev/shm)');
    if (!this.permissionModel) lost.push('Node\'s permission model is off: an instance reads whatever its OS user may');
    return lost;
  }

  /** Make the squad's OS user, if this sandbox uses them, without blocking the agent. */
  async prepare(squad: string): Promise<void> {
    if (this.osUsers) await this.users.prepare(squad);
  }

  /** The OS user a squad's instances run as; null when this sandbox runs them as the agent's own user. */
  ownerOf(squad: string): { uid: number; gid: number } | null {
    if (!this.osUsers) return null;
    const { uid, gid } = this.users.userOf(squad);
    return { uid, gid };
  }

  /** The squad's folder for anything its instances write (HOME, TMPDIR, tsx's cache), private to its user. */
  scratchOf(squad: string): string {
    const dir = join(this.root, squadUserName(squad));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (this.osUsers) {
      const user = this.users.userOf(squad);
      chownSync(dir, user.uid, user.gid);
    }
    return dir;
  }

  /** The command that runs `node NODE_ARGS` for an instance of `squad` whose release's files are in the folder `releasePath`. */
  command(squad: string, releasePath: string, nodeArgs: readonly string[]): SandboxedCommand {
    const scratch = this.scratchOf(squad);
    const user = this.osUsers ? this.users.userOf(squad) : null;
    const permission = this.permissionModel ? this.permissionFlags(releasePath, scratch) : [];
    let argv = [process.execPath, ...permission, ...nodeArgs];
    let asUser: { uid: number; gid: number } | null = user;
    if (this.setpriv) {
      argv = [this.setpriv, '--no-new-privs', ...(user ? ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups'] : []), '--', ...argv];
      asUser = null;
    }
    if (this.unshare) {
      // Still root here: the shared temp folders are made read-only in the instance's own mount
      // namespace (its scratch folder, which may lie below /tmp, stays writable), then setpriv drops to the squad's user.
      argv = [this.unshare, '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', PRIVATE_TEMP_SCRIPT, 'squadron-sandbox', scratch, ...argv];
    }
    if (this.prlimit) {
      // Processes count per user: only a squad's own user has a count that is the squad's alone.
      const nproc = user ? [`--nproc=${this.limits.processes}`] : [];
      argv = [this.prlimit, `--nofile=${this.limits.openFiles}`, ...nproc, '--', ...argv];
    }
    return {
      file: argv[0]!, args: argv.slice(1), cwd: scratch,
      env: { HOME: scratch, TMPDIR: scratch },
      ...(asUser ? { uid: asUser.uid, gid: asUser.gid } : {}),
    };
  }

  /** Removes the scratch folders this sandbox made. */
  close(): void {
    if (this.ownRoot) rmSync(this.root, { recursive: true, force: true });
  }

  private permissionFlags(releasePath: string, scratch: string): string[] {
    const reads = [...new Set([...this.runtimePaths, ...withRealPath(releasePath), scratch])];
    return [
      '--experimental-permission',
      // tsx compiles TypeScript in a loader thread, through esbuild's own process: both are needed.
      '--allow-worker', '--allow-child-process',
      ...reads.map((p) => `--allow-fs-read=${p}`),
      `--allow-fs-write=${scratch}`,
      '--disable-warning=ExperimentalWarning', '--disable-warning=SecurityWarning',
    ];
  }
}

/**
 * Run in a fresh mount namespace, as root, before the instance's command (`$@`): its scratch
 * folder (`$1`) is mounted on itself so that it stays writable, then /tmp, /var/tmp and /dev/shm,
 * which every user may write, are bound read-only over themselves.
 */
const PRIVATE_TEMP_SCRIPT = [
  'set -e',
  'scratch="$1"; shift',
  'mount --bind "$scratch" "$scratch"',
  'for d in /tmp /var/tmp /dev/shm; do',
  '  [ -d "$d" ] || continue',
  '  mount --rbind "$d" "$d"',
  '  mount -o remount,bind,ro "$d"',
  'done',
  'exec "$@"',
].join('\n');

/** util-linux's unshare, when this process may make a mount namespace with it (root, and a kernel and container that allow it). */
function mountNamespaceTool(): string | null {
  const unshare = findTool('unshare');
  if (!unshare) return null;
  try {
    execFileSync(unshare, ['--mount', '--propagation', 'private', '--', 'true'], { stdio: 'ignore', timeout: 5000 });
    return unshare;
  } catch {
    return null;
  }
}
