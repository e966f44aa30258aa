// The store shell of etcd mode: carries out the engine's `store` outputs on the etcd
// cluster (src/etcd/store.ts) and answers each with exactly one `store-done`. It decides
// nothing: when to campaign, renew, resign or read, and what an answer means, are the
// engine's (src/core/store-engine.ts). Calls run concurrently; the engine matches answers
// by request id and times every term from the step that issued the call.
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Input, Output } from '../core/types.js';
import { etcdSecrets, type EtcdConfig } from '../config/index.js';
import { EtcdStore } from '../etcd/store.js';
import { readFloor } from './disk-shell.js';

export type StoreOutput = Extract<Output, { kind: 'store' }>;

export class StoreShell {
  private readonly store: EtcdStore;
  private closed = false;
  private failures = 0;

  constructor(
    config: EtcdConfig,
    private readonly feed: (input: Input) => void,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {
    // Two tries of a call fit in the engine's deadline; it forgets a call after twice that.
    this.store = new EtcdStore({ endpoints: config.endpoints, prefix: config.prefix, callTimeoutMs: Math.floor(config.store.callDeadlineMs / 2), ...etcdSecrets(config) });
  }

  execute(o: StoreOutput): void {
    void this.store.execute(o.call).then((result) => {
      if (this.closed) return;
      if (!result.ok) {
        this.failures += 1;
        if (this.failures === 1 || this.failures % 20 === 0) this.log.warn({ op: o.call.op, failures: this.failures }, result.error);
      } else if (this.failures > 0) {
        this.log.info({ failedCalls: this.failures }, 'etcd answers again');
        this.failures = 0;
      }
      this.feed({ kind: 'store-done', nowMs: this.now(), requestId: o.requestId, result });
    });
  }

  close(): void {
    this.closed = true;
    this.store.close();
  }
}

/**
 * The PR key namespace of an etcd-mode cluster (no voting disk holds a cluster uuid):
 * derived from the cluster name and prefix, the same on every host.
 */
export function storeClusterUuid(cluster: string, prefix: string): string {
  const h = createHash('sha256').update(`ycs-etcd:${cluster}:${prefix}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Without voting disks the incarnation lives only in the run directory. */
export function nextLocalIncarnation(floorPath: string): number {
  const incarnation = readFloor(floorPath) + 1;
  mkdirSync(dirname(floorPath), { recursive: true });
  writeFileSync(`${floorPath}.tmp`, `${incarnation}\n`);
  renameSync(`${floorPath}.tmp`, floorPath);
  return incarnation;
}
