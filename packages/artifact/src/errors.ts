import { ErrorCode, SquadronError } from '@squadron/protocol';

/** A folder that cannot become a release, or bytes that are not one: the message says what to change. */
export class ArtifactError extends SquadronError {
  override readonly name = 'ArtifactError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(ErrorCode.BAD_REQUEST, message, options);
  }
}
