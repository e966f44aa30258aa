// ycsm under systemd (packaging/ycsm.service, Type=notify): READY=1 once ycs has joined
// (its role is standby or master), STATUS= whenever that role changes, WATCHDOG=1 at half
// of WatchdogSec while ycsm itself runs (a hung ycsm is killed and restarted by systemd),
// STOPPING=1 on a normal stop. Without $NOTIFY_SOCKET every call does nothing.
import { loadNative } from '../native.js';

interface SdNotifyNative {
  sdNotify(state: string): boolean;
}

export type Notify = (state: string) => void;

/** sd_notify through the addon; errors are reported, never thrown (systemd is optional). */
export function nativeNotify(onError: (err: Error) => void): Notify {
  return (state) => {
    try {
      loadNative<SdNotifyNative>().sdNotify(state);
    } catch (err) {
      onError(err as Error);
    }
  };
}

export class SystemdNotifier {
  private ready = false;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly hostLabel: string,
    private readonly notify: Notify,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** The watchdog period systemd asked for (WATCHDOG_USEC, for this pid), or null. */
  watchdogMs(): number | null {
    const usec = Number(this.env.WATCHDOG_USEC);
    const pid = this.env.WATCHDOG_PID;
    if (!Number.isFinite(usec) || usec <= 0 || (pid !== undefined && Number(pid) !== process.pid)) return null;
    return usec / 1000;
  }

  start(): void {
    this.notify(`STATUS=${this.hostLabel}: starting ycs`);
    const periodMs = this.watchdogMs();
    if (periodMs === null) return;
    this.watchdog = setInterval(() => this.notify('WATCHDOG=1'), Math.max(100, Math.floor(periodMs / 2)));
    this.watchdog.unref();
  }

  onRole(role: string): void {
    const joined = role === 'standby' || role === 'master';
    const status = `STATUS=${this.hostLabel}: ${role}`;
    if (joined && !this.ready) {
      this.ready = true;
      this.notify(`READY=1\n${status}`);
      return;
    }
    this.notify(status);
  }

  stopping(): void {
    this.notify(`STOPPING=1\nSTATUS=${this.hostLabel}: stopping`);
  }

  close(): void {
    clearInterval(this.watchdog);
  }
}
