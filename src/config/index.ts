// The per-host config file (JSON, docs/config.md): its types, validation and loading. A
// neutral home: the daemon, ycsm, ycsctl and the demo all read it from here.
export * from './types.js';
export { lookupGroupId } from './checks.js';
export * from './load.js';
export { etcdSecrets } from './etcd.js';
