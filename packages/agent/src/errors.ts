/** A misuse of the supervisor: an instance id started twice, or a start after `stopAll`. */
export class SupervisorError extends Error {
  override readonly name = 'SupervisorError';
}

/**
 * The agent could not register and retrying will not help (the control plane refused the request:
 * a bad token, an unknown site), it was stopped before it registered, or it was started twice.
 */
export class AgentError extends Error {
  override readonly name = 'AgentError';
  constructor(
    /** `REFUSED`: the control plane said no (see the message); `STOPPED`; `STARTED`: started twice. */
    readonly code: 'REFUSED' | 'STOPPED' | 'STARTED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
