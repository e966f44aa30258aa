// The lease store of etcd mode on a real etcd cluster (docs/etcd-mode.md). It carries out
// the engine's `store` calls and answers each with one result; it decides nothing and
// keeps no lease of its own (the engine names the lease in every call).
//
// Keys under the configured prefix:
//   <prefix>/leader        {"hostId":N}, bound to the holder's lease, created only if absent;
//                          its create revision is the epoch
//   <prefix>/last-master   {"hostId":N}, written with the leader record in the same
//                          transaction: the previous holder, whom the next master fences
//   <prefix>/hosts/<id>    each host's published record (role, epoch, resources)
//   <prefix>/epoch-base    optional, set by the operator: added to every revision, so a
//                          cluster moving from disk mode keeps its epochs growing
//
// Every call has its own deadline. A unary call that finds its member down is tried once
// more on another member (a dead member is skipped for a while). A keepalive is a stream
// call, outside the client's policy, and the pool would pick its member at random each
// time (a dead one again, a third of the time with three members): so it goes through one
// client per endpoint, tried in turn from the one that answered last. The engine times its
// term from before the first send, so a retry can only make the master stop earlier.
import { ConsecutiveBreaker, circuitBreaker, handleType, handleWhen, retry } from 'cockatiel';
import { Etcd3, GRPCUnavailableError, isRecoverableError, type IOptions } from 'etcd3';
import type { HostRecord, LeaderRecord, Role, StoreCall, StoreResult } from '../core/types.js';
import { YcsError, toYcsError } from '../errors.js';

export interface EtcdStoreOptions {
  endpoints: string[];
  /** Every key of this cluster lives under it, e.g. "/ycs/prod-a". */
  prefix: string;
  /** Deadline of each etcd call. */
  callTimeoutMs: number;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
}

const ROLES: readonly Role[] = ['starting', 'standby', 'master', 'evicted', 'leaving'];

export function checkPrefix(prefix: string): string | null {
  if (!/^\/[A-Za-z0-9_./-]*[A-Za-z0-9_.-]$/.test(prefix) || prefix.includes('//')) {
    return `etcd prefix must start with /, not end with one and hold only letters, digits and _ . - /, got ${JSON.stringify(prefix)}`;
  }
  return null;
}

export class EtcdStore {
  private readonly client: Etcd3;
  /** One client per endpoint for keepalives, and the index of the one that answered last. */
  private readonly keepaliveClients: Etcd3[];
  private keepaliveNext = 0;
  private readonly keys: { leader: string; last: string; hosts: string; base: string };

  constructor(private readonly opts: EtcdStoreOptions) {
    if (opts.endpoints.length === 0) throw new YcsError('E_CONFIG', 'etcd mode needs at least one endpoint');
    const bad = checkPrefix(opts.prefix);
    if (bad !== null) throw new YcsError('E_CONFIG', bad);
    const options: IOptions = {
      hosts: opts.endpoints,
      dialTimeout: opts.callTimeoutMs,
      faultHandling: {
        // Only a member that refuses connections is skipped (for a second): a deadline
        // passing during an election is no news about the member, and skipping every
        // member at once would leave the master without keepalives after the election.
        host: () => circuitBreaker(handleType(GRPCUnavailableError), { halfOpenAfter: 1_000, breaker: new ConsecutiveBreaker(1) }),
        global: retry(handleWhen(isRecoverableError), { maxAttempts: 2 }),
      },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + opts.callTimeoutMs }),
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...(opts.tls?.ca ? { credentials: { rootCertificate: opts.tls.ca, ...(opts.tls.key ? { privateKey: opts.tls.key } : {}), ...(opts.tls.cert ? { certChain: opts.tls.cert } : {}) } } : {}),
    };
    this.client = new Etcd3(options);
    this.keepaliveClients = opts.endpoints.map((host) => new Etcd3({ ...options, hosts: [host] }));
    this.keys = { leader: `${opts.prefix}/leader`, last: `${opts.prefix}/last-master`, hosts: `${opts.prefix}/hosts/`, base: `${opts.prefix}/epoch-base` };
  }

  /** Carries out one call; never throws (a failure is an answer with ok: false). */
  async execute(call: StoreCall): Promise<StoreResult> {
    try {
      switch (call.op) {
        case 'campaign':
          return await this.campaign(call.hostId, call.ttlMs);
        case 'keepalive':
          return { op: 'keepalive', ok: true, ttlMs: await this.keepalive(call.lease) };
        case 'resign':
          await this.client.leaseClient.leaseRevoke({ ID: call.lease });
          return { op: 'resign', ok: true };
        case 'read':
          return await this.read();
        case 'publish':
          await this.client.put(`${this.keys.hosts}${call.record.hostId}`).value(JSON.stringify(call.record)).exec();
          return { op: 'publish', ok: true };
      }
    } catch (err) {
      return { op: call.op, ok: false, error: `E_ETCD: ${call.op}: ${toYcsError(err).message}` };
    }
  }

  /** A lease of ttlMs (whole seconds), and the leader record bound to it if none exists. */
  private async campaign(hostId: number, ttlMs: number): Promise<StoreResult> {
    const granted = await this.client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(ttlMs / 1000)), ID: 0 });
    const lease = String(granted.ID);
    let result;
    try {
      const value = JSON.stringify({ hostId });
      result = await this.client
        .if(this.keys.leader, 'Create', '==', 0)
        .then(this.client.get(this.keys.last), this.client.get(this.keys.base), this.client.put(this.keys.leader).value(value).lease(lease), this.client.put(this.keys.last).value(value))
        .else(this.client.get(this.keys.leader), this.client.get(this.keys.base))
        .commit();
    } catch (err) {
      // The outcome is unknown: revoking the lease removes the record if it was created.
      await this.client.leaseClient.leaseRevoke({ ID: lease }).catch(() => undefined);
      throw err;
    }
    const kv = result.responses[0]?.response_range?.kvs[0];
    const base = epochBaseOf(result.responses[1]?.response_range?.kvs[0]?.value);
    if (!result.succeeded) {
      await this.client.leaseClient.leaseRevoke({ ID: lease }).catch(() => undefined);
      return { op: 'campaign', ok: true, won: false, holder: kv === undefined ? null : leaderOf(kv, base) };
    }
    const previous = kv === undefined ? 0 : hostIdOf(kv.value);
    return { op: 'campaign', ok: true, won: true, epoch: base + Number(result.header.revision), lease, ttlMs: Number(granted.TTL) * 1000, previous };
  }

  /** One keepalive, tried once on each member; the TTL etcd answered in ms (0: the lease is gone). */
  private async keepalive(lease: string): Promise<number> {
    let lastError: unknown;
    const count = this.keepaliveClients.length;
    for (let attempt = 0; attempt < count; attempt++) {
      const index = (this.keepaliveNext + attempt) % count;
      try {
        const ttlMs = await this.keepaliveOnce(this.keepaliveClients[index]!, lease);
        this.keepaliveNext = index;
        return ttlMs;
      } catch (err) {
        lastError = err;
      }
    }
    this.keepaliveNext = (this.keepaliveNext + 1) % count;
    throw lastError;
  }

  private async keepaliveOnce(client: Etcd3, lease: string): Promise<number> {
    const stream = await client.leaseClient.leaseKeepAlive({ deadline: Date.now() + this.opts.callTimeoutMs });
    try {
      const res = await new Promise<{ TTL: string }>((resolve, reject) => {
        stream.on('data', resolve);
        stream.on('error', reject);
        stream.write({ ID: lease });
      });
      return Math.max(0, Number(res.TTL)) * 1000;
    } finally {
      stream.end();
    }
  }

  private async read(): Promise<StoreResult> {
    const [leader, base, hosts] = await Promise.all([
      this.client.get(this.keys.leader).exec(),
      this.client.get(this.keys.base).exec(),
      this.client.getAll().prefix(this.keys.hosts).exec(),
    ]);
    const kv = leader.kvs[0];
    const records = hosts.kvs.map((h) => hostRecordOf(h.value)).filter((r): r is HostRecord => r !== null);
    return { op: 'read', ok: true, holder: kv === undefined ? null : leaderOf(kv, epochBaseOf(base.kvs[0]?.value)), hosts: records };
  }

  close(): void {
    this.client.close();
    for (const client of this.keepaliveClients) client.close();
  }
}

function leaderOf(kv: { value: Buffer; create_revision: string; lease: string }, base: number): LeaderRecord {
  return { hostId: hostIdOf(kv.value), epoch: base + Number(kv.create_revision), lease: kv.lease };
}

/** The operator's epoch base (a decimal integer); 0 when absent or malformed. */
function epochBaseOf(value: Buffer | undefined): number {
  const n = value === undefined ? 0 : Number(value.toString('utf8').trim());
  return Number.isSafeInteger(n) && n > 0 && n < 2 ** 48 ? n : 0;
}

/** The host id of a {"hostId":N} value; 0 for anything this cluster did not write. */
function hostIdOf(value: Buffer): number {
  try {
    const id = (JSON.parse(value.toString('utf8')) as { hostId?: unknown }).hostId;
    return typeof id === 'number' && Number.isInteger(id) && id >= 1 && id <= 255 ? id : 0;
  } catch {
    return 0;
  }
}

/** A published host record, or null when it is malformed (never trusted, never fatal). */
export function hostRecordOf(value: Buffer): HostRecord | null {
  let r: Partial<HostRecord>;
  try {
    r = JSON.parse(value.toString('utf8')) as Partial<HostRecord>;
  } catch {
    return null;
  }
  const int = (v: unknown, lo: number, hi: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
  const states = ['unknown', 'offline', 'starting', 'standby', 'primary', 'failed'];
  if (!int(r.hostId, 1, 255) || !int(r.incarnation, 0, Number.MAX_SAFE_INTEGER) || !int(r.epoch, 0, Number.MAX_SAFE_INTEGER) || !int(r.masterId, 0, 255)) return null;
  if (typeof r.role !== 'string' || !ROLES.includes(r.role) || !Array.isArray(r.resources) || r.resources.length > 16) return null;
  if (!r.resources.every((s) => typeof s === 'string' && states.includes(s))) return null;
  const awaiting = r.awaitingHb2;
  if (awaiting !== undefined && (!Array.isArray(awaiting) || !awaiting.every((i) => int(i, 0, r.resources!.length - 1)))) return null;
  return r as HostRecord;
}
