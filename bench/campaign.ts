// npm run campaign -- --faults N --seed S [--kinds a,b,...] [--timeout-ms T] [--json]
//
// A randomized fault campaign on real processes (docs/campaign.md): three hosts on this
// machine (ycsm -> ycs -> demo database writing records to a shared iSCSI data LUN on its
// own nexus), fenced with SCSI-3 PR on tgtd; faults drawn from the seed (bench/campaign/
// faults.ts); after each, heal and wait for one agreed master whose database writes.
// A 100 ms poller counts dual primaries; at the end the storage checker reads the data
// LUN and the ack logs. Exit 0 when it passed, 1 when it failed (the seed and the replay
// command are printed), 2 for bad arguments. Needs root, tgtd and nft. Everything it
// started is cleaned up, also on a failure, SIGINT or SIGTERM.
import { parseArgs } from 'node:util';
import { FAULT_KINDS } from './campaign/faults.js';
import { reportText } from './campaign/report.js';
import { campaignFailed, cleanupCurrent, replayCommand, runCampaign, type CampaignOptions } from './campaign/run.js';

const HELP = `usage: npm run campaign -- --faults N --seed S [--kinds K1,K2,...] [--timeout-ms T] [--json]
  --faults N      number of faults to inject (positive integer)
  --seed S        seed of every random choice (non-negative integer); a failing run prints it
  --kinds LIST    only these fault kinds (default all): ${FAULT_KINDS.map((k) => k.name).join(', ')}
  --timeout-ms T  DISK_HB_KEEP_ALIVE and NETWORK_HB_TIMEOUT of the cluster (default 2000)
  --json          print the result as JSON instead of the report
`;

function usage(message: string): never {
  process.stderr.write(`E_USAGE: ${message}\n`);
  process.exit(2);
}

function options(): CampaignOptions & { json: boolean } {
  let values;
  try {
    ({ values } = parseArgs({ options: { faults: { type: 'string' }, seed: { type: 'string' }, kinds: { type: 'string' }, 'timeout-ms': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (values.help === true) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const int = (name: string, v: string | undefined, min: number): number => {
    if (v === undefined) usage(`--${name} is required (see --help)`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}, not ${JSON.stringify(v)}`);
    return n;
  };
  const kinds = values.kinds?.split(',');
  const unknown = kinds?.filter((k) => !FAULT_KINDS.some((f) => f.name === k)) ?? [];
  if (unknown.length > 0) usage(`unknown fault kind ${unknown.join(', ')}; known: ${FAULT_KINDS.map((k) => k.name).join(', ')}`);
  return {
    faults: int('faults', values.faults, 1),
    seed: int('seed', values.seed, 0),
    ...(kinds !== undefined ? { kinds } : {}),
    timeoutMs: values['timeout-ms'] === undefined ? 2000 : int('timeout-ms', values['timeout-ms'], 500),
    json: values.json === true,
  };
}

let replay = '';

async function main(): Promise<void> {
  const o = options();
  replay = `seed ${o.seed}; replay with: ${replayCommand(o)}`;
  if (process.getuid?.() !== 0) usage('the campaign needs root (tgtd, nft)');
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up (seed ${o.seed})\n`);
      void cleanupCurrent().finally(() => process.exit(130));
    });
  }
  const result = await runCampaign(o);
  process.stdout.write(o.json ? `${JSON.stringify({ ...result, failed: campaignFailed(result) }, null, 2)}\n` : `${reportText(result, o)}\n`);
  process.exitCode = campaignFailed(result) ? 1 : 0;
}

main().catch(async (err: unknown) => {
  await cleanupCurrent();
  process.stderr.write(`E_CAMPAIGN: ${err instanceof Error ? err.message : String(err)} (${replay})\n`);
  process.exitCode = 1;
});
