// The leader record of etcd mode on a real etcd cluster (docs/etcd-mode.md): a key under
// the configured prefix, bound to the holder's etcd lease and created in a transaction
// that succeeds only if the key does not exist. The key's create revision is the epoch,
// so the fencing token keeps growing across terms. Every call has its own deadline; a
// call that finds its member down is tried once more on another member (a dead member is
// skipped for a while), and every bound below counts from the FIRST send, so a retry can
// only make the master stop earlier, never later.
//
// Timing rule (the one that keeps two masters apart): etcd expires a lease no earlier
// than TTL after it received the last keepalive it acknowledged, which is after that
// keepalive was sent. So a holder may act as master until
//   send time of the last acknowledged keepalive + TTL * (1 - rho) - margin
// on its own clock (rho: the clock-rate drift bound of src/core/timeouts.ts). A leader
// change inside etcd only extends leases (the new leader restarts their countdown).
import { ConsecutiveBreaker, circuitBreaker, handleWhen, retry } from 'cockatiel';
import { Etcd3, isRecoverableError, type IOptions, type Lease } from 'etcd3';
import { YcsError, toYcsError } from '../errors.js';

export interface LeaderStoreOptions {
  endpoints: string[];
  /** Every key of this cluster lives under it, e.g. "/ycs/prod-a". */
  prefix: string;
  /** Deadline of each etcd call. */
  callTimeoutMs: number;
  tls?: { caFile?: Buffer; certFile?: Buffer; keyFile?: Buffer };
  auth?: { username: string; password: string };
  /** Own monotonic clock (performance.now in the daemon; a fake in tests). */
  now: () => number;
}

export interface LeaderRecord {
  hostId: number;
  /** The key's create revision: this term's epoch. */
  epoch: number;
  leaseId: string;
}

export type CampaignResult =
  | { kind: 'won'; record: LeaderRecord; validUntilMs: number }
  | { kind: 'held'; record: LeaderRecord | null };

function etcdError(what: string, err: unknown): YcsError {
  const e = toYcsError(err);
  return new YcsError('E_ETCD', `${what}: ${e.message}`);
}

export class EtcdLeaderStore {
  private readonly client: Etcd3;
  private readonly leaderKey: string;
  private lease: Lease | undefined;
  private leaseTtlMs = 0;

  constructor(private readonly opts: LeaderStoreOptions) {
    if (opts.endpoints.length === 0) throw new YcsError('E_CONFIG', 'etcd mode needs at least one endpoint');
    if (!opts.prefix.startsWith('/') || opts.prefix.endsWith('/')) {
      throw new YcsError('E_CONFIG', `etcd prefix must start with / and not end with one, got ${JSON.stringify(opts.prefix)}`);
    }
    const options: IOptions = {
      hosts: opts.endpoints,
      dialTimeout: opts.callTimeoutMs,
      // A member that refuses a call is skipped for a while; the call goes once more to
      // another member. The caller's bounds count from before the first attempt.
      faultHandling: {
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 5_000, breaker: new ConsecutiveBreaker(1) }),
        global: retry(handleWhen(isRecoverableError), { maxAttempts: 2 }),
      },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + opts.callTimeoutMs }),
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...(opts.tls?.caFile ? { credentials: { rootCertificate: opts.tls.caFile, ...(opts.tls.keyFile ? { privateKey: opts.tls.keyFile } : {}), ...(opts.tls.certFile ? { certChain: opts.tls.certFile } : {}) } } : {}),
    };
    this.client = new Etcd3(options);
    this.leaderKey = `${opts.prefix}/leader`;
  }

  /**
   * Grants a lease of `ttlMs` (whole seconds at etcd, rounded up) and tries to create the
   * leader key bound to it. Won: the record and how long this host may act as master.
   * Held: the current holder (null if it vanished between the compare and the read).
   */
  async campaign(hostId: number, ttlMs: number, rho: number, marginMs: number): Promise<CampaignResult> {
    const ttlSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
    const sentAtMs = this.opts.now();
    let lease: Lease;
    let leaseId: string;
    try {
      lease = this.client.lease(ttlSeconds, { autoKeepAlive: false });
      leaseId = await lease.grant();
    } catch (err) {
      throw etcdError(`granting a ${ttlSeconds} s lease`, err);
    }
    let result;
    try {
      result = await this.client
        .if(this.leaderKey, 'Create', '==', 0)
        .then(this.client.put(this.leaderKey).value(JSON.stringify({ hostId })).lease(leaseId))
        .else(this.client.get(this.leaderKey))
        .commit();
    } catch (err) {
      await lease.revoke().catch(() => undefined);
      throw etcdError('the leader transaction', err);
    }
    if (!result.succeeded) {
      await lease.revoke().catch(() => undefined);
      return { kind: 'held', record: await this.readLeader() };
    }
    this.lease = lease;
    this.leaseTtlMs = ttlSeconds * 1000;
    const epoch = Number(result.header.revision);
    return { kind: 'won', record: { hostId, epoch, leaseId }, validUntilMs: this.safeEnd(sentAtMs, rho, marginMs) };
  }

  /**
   * One keepalive of the held lease, with its deadline. Returns the new own-clock end of
   * the master role (from this keepalive's send time), or throws E_ETCD (the caller keeps
   * the previous end and must stop by it). A TTL of 0 means etcd already dropped the lease.
   */
  async keepAlive(rho: number, marginMs: number): Promise<number> {
    const lease = this.lease;
    if (lease === undefined) throw new YcsError('E_ETCD', 'no lease is held');
    const sentAtMs = this.opts.now();
    let ttl = Number.NaN;
    let lastError: unknown;
    // The keepalive is a stream call, outside the client's retry policy: a dead member is
    // passed over here, one attempt per endpoint (the pool hands out the next member).
    for (let attempt = 0; attempt < this.opts.endpoints.length && Number.isNaN(ttl); attempt++) {
      try {
        ttl = Number((await lease.keepaliveOnce({ deadline: Date.now() + this.opts.callTimeoutMs })).TTL);
      } catch (err) {
        lastError = err;
      }
    }
    if (Number.isNaN(ttl)) throw etcdError('lease keepalive', lastError);
    if (!(ttl > 0)) throw new YcsError('E_ETCD', 'the lease has expired at etcd');
    return this.safeEnd(sentAtMs, rho, marginMs, ttl * 1000);
  }

  /** Gives the master role up at once: revoking the lease deletes the leader key. */
  async resign(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (lease === undefined) return;
    try {
      await lease.revoke();
    } catch (err) {
      throw etcdError('revoking the lease', err);
    }
  }

  /** The current leader record, or null when there is none. */
  async readLeader(): Promise<LeaderRecord | null> {
    let kv;
    try {
      kv = (await this.client.get(this.leaderKey).exec()).kvs[0];
    } catch (err) {
      throw etcdError('reading the leader key', err);
    }
    if (kv === undefined) return null;
    let hostId = 0;
    try {
      hostId = Number((JSON.parse(kv.value.toString('utf8')) as { hostId?: unknown }).hostId) || 0;
    } catch {
      hostId = 0; // not ours: shown as host 0, never trusted as a holder id
    }
    return { hostId, epoch: Number(kv.create_revision), leaseId: kv.lease };
  }

  close(): void {
    this.client.close();
  }

  private safeEnd(sentAtMs: number, rho: number, marginMs: number, ttlMs = this.leaseTtlMs): number {
    return sentAtMs + ttlMs * (1 - rho) - marginMs;
  }
}
