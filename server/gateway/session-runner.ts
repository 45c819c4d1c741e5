import { initialSessionState, stepSession, type SessionAction, type SessionEvent, type SessionResult, type SessionState } from '../../shared/bootstrap/session.ts';
import type { BootstrapPlan } from '../../shared/bootstrap/plan.ts';
import type { CoapEndpoint, CoapPeer } from '../coap/endpoint.ts';
import { CoapResetError, CoapTimeoutError, CoapTransferError } from '../coap/errors.ts';

/**
 * Runs one bootstrap session: feeds the pure session machine with what the client answers and
 * sends what it asks for. The machine decides; this only does I/O. It is the same for a
 * client-initiated session (started after the 2.04 to its Bootstrap-Request) and a
 * server-initiated one (started unprompted): the machine opens with Discover, Delete or Write.
 */
export class SessionRunner {
  readonly endpoint: string;
  readonly sessionId: string;
  readonly startedAt: Date;
  private state: SessionState = initialSessionState();
  private readonly abort = new AbortController();
  private finished = false;
  private answered = false;
  private resolveDone!: (result: SessionResult) => void;
  readonly done: Promise<SessionResult>;

  private readonly coap: CoapEndpoint;
  private readonly peer: CoapPeer;
  private readonly requestTimeoutMs: number;

  constructor(coap: CoapEndpoint, peer: CoapPeer, options: { endpoint: string; sessionId: string; startedAt: Date; requestTimeoutMs: number }) {
    this.coap = coap;
    this.peer = peer;
    this.endpoint = options.endpoint;
    this.sessionId = options.sessionId;
    this.startedAt = options.startedAt;
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  start(plan: BootstrapPlan, preferredContentFormat: number | undefined): void {
    this.feed({ type: 'start', plan, ...(preferredContentFormat !== undefined && { preferredContentFormat }) });
  }

  /** A newer Bootstrap-Request from the same endpoint supersedes this session. */
  cancel(reason: string): void {
    this.abort.abort();
    this.feed({ type: 'cancel', reason });
  }

  /** Whether the client has answered anything yet: a session it never answered can be tried again. */
  get clientAnswered(): boolean {
    return this.answered;
  }

  /** Ends the session with a result the machine cannot know (the transport has no way to the client). */
  abandon(result: SessionResult): void {
    if (this.finished) return;
    this.finished = true;
    this.abort.abort();
    this.resolveDone(result);
  }

  private feed(event: SessionEvent): void {
    if (this.finished) return;
    const { state, actions } = stepSession(this.state, event);
    this.state = state;
    for (const action of actions) this.perform(action);
  }

  private perform(action: SessionAction): void {
    if (action.type === 'end') {
      this.finished = true;
      this.abort.abort();
      this.resolveDone(action.result);
      return;
    }
    const { request } = action;
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.requestTimeoutMs)]);
    this.coap
      .request(
        this.peer,
        {
          method: request.method,
          path: request.path,
          ...(request.contentFormat !== undefined && { contentFormat: request.contentFormat }),
          ...(request.accept !== undefined && { accept: request.accept }),
          ...(request.payload !== undefined && { payload: request.payload }),
        },
        { signal },
      )
      .then(
        (response) => {
          this.answered = true;
          this.feed({
            type: 'response',
            requestId: request.id,
            code: response.code,
            payload: response.payload,
            ...(response.contentFormat !== undefined && { contentFormat: response.contentFormat }),
          });
        },
        (error: unknown) => {
          if (this.abort.signal.aborted) return;
          // An abort from the per-request timer and an exhausted retransmission both mean the
          // client went quiet; anything else is a local fault, still recorded as a timeout step.
          if (error instanceof CoapResetError || error instanceof CoapTransferError) {
            this.answered = true;
            this.feed({ type: 'failed', requestId: request.id, reason: error instanceof CoapResetError ? 'the client answered with Reset' : error.message });
            return;
          }
          const quiet = error instanceof CoapTimeoutError || (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError'));
          if (!quiet) {
            this.feed({ type: 'cancel', reason: `gateway error: ${error instanceof Error ? error.message : String(error)}` });
            return;
          }
          this.feed({ type: 'timeout', requestId: request.id });
        },
      );
  }
}
