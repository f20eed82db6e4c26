import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/**
 * A V8 CPU profile of this process over the benchmark's measured windows only (`--profile DIR`):
 * started when a step's measurement starts and written when it ends, so start-up, seeding and
 * opening connections do not crowd out what a delivery costs.
 */
export class WindowProfiler {
  private session: Session | undefined;

  async start(): Promise<void> {
    if (this.session) return;
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    this.session = session;
  }

  /** Stops and writes the profile to `file` (`.cpuprofile`, for profile-summary.js or a browser's dev tools). */
  async stop(file: string): Promise<string> {
    const session = this.session;
    if (!session) throw new Error('no profile is being taken');
    this.session = undefined;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(file, JSON.stringify(profile));
    return file;
  }
}
