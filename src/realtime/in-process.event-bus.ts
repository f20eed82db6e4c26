import { BaseEventBus } from './event-bus';

/**
 * The embedded database serves one process, so announcing is waking this process's hub after
 * the commit; nothing crosses a process boundary.
 */
export class InProcessEventBus extends BaseEventBus {
  readonly kind = 'in-process' as const;
}
