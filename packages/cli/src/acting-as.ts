import { ControlClient, type WhoAmIBody } from '@squadron/client';
import { platformUrl } from './env.ts';
import { localAdminToken, resolveCredential, type ResolvedToken, type TokenSource } from './credentials.ts';

/** Who the CLI acts as on a platform, and where its token came from. */
export interface Acting {
  url: string;
  /** Null when the CLI has no token at all. */
  credential: ResolvedToken | null;
  /** Who the platform says the token is; null when it did not say (refused it, or unreachable). */
  who: WhoAmIBody | null;
}

/** `squad radio`, `the admin`, `agent sto-1`. */
export function principalName(who: WhoAmIBody): string {
  return who.kind === 'admin' ? 'the admin' : `${who.kind} ${who.name}`;
}

/** Where a token came from, in words, with its file. */
export function sourceText(source: TokenSource): string {
  switch (source.kind) {
    case 'env': return 'from SQUADRON_TOKEN';
    case 'login': return `from squadron login (saved in ${source.file})`;
    case 'admin-token': return `from the local admin token (${source.file})`;
  }
}

/** Resolve the CLI's token and ask the platform who it is; never throws. */
export async function actingAs(dataDirFlag?: string): Promise<Acting> {
  const url = platformUrl(dataDirFlag);
  const credential = resolveCredential(url, dataDirFlag);
  let who: WhoAmIBody | null = null;
  if (credential) {
    try {
      who = await new ControlClient({ url, token: credential.token, timeoutMs: 3000 }).whoami();
    } catch {
      /* a refused or unreachable token: said as "the token" below */
    }
  }
  return { url, credential, who };
}

/**
 * What a refusal adds so that the reader knows who was refused, and how to act as someone else,
 * e.g. `(acting as squad radio, from squadron login; run `squadron logout` to act as the local admin)`.
 */
export function refusalNote(acting: Acting, dataDirFlag?: string): string {
  const { credential, who } = acting;
  if (!credential) return '(acting with no token: set SQUADRON_TOKEN, or run `squadron login --token TOKEN`)';
  const as = who ? `acting as ${principalName(who)}` : 'acting with the token';
  switch (credential.source.kind) {
    case 'env':
      return `(${as}, from SQUADRON_TOKEN)`;
    case 'login':
      return `(${as}, from squadron login; run \`squadron logout\` to ${localAdminToken(dataDirFlag) ? 'act as the local admin' : 'forget it'})`;
    case 'admin-token':
      return `(${as}, from the local admin token)`;
  }
}
