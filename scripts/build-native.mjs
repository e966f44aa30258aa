// Builds the native addon with node-gyp. Headers come from the system's Node
// (/usr/include/node) when present, because this machine cannot download them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nodeGyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const args = [nodeGyp, existsSync(join(root, 'build', 'Makefile')) ? 'build' : 'rebuild', '--jobs', '2'];
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) {
  args.push('--nodedir=/usr');
}
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
