import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../config';
import { BackupRefused, portInUse, restoreBackup } from '../stack/backup';
import { runScript } from '../stack/children';

const USAGE = `usage: npm run restore -- DIR

Puts the backup in DIR (one npm run backup wrote) in place of the local stack's Temporal database and dev
payload keys in DATA_DIR. The stack must be stopped; what the restore replaces moves to
DATA_DIR/replaced-<time>. Orders accepted after the backup are unknown to the restored server: see
docs/OPERATIONS.md for what to do about their payments.`;

/** `npm run restore -- DIR`: refuses under a running stack, or a folder that is not a complete backup. */
async function main(): Promise<number> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { help: { type: 'boolean' } } });
  if (values.help || positionals.length !== 1) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const from = path.resolve(positionals[0]!);
  const config = loadConfigOrExit('restore');
  const busy = await portInUse([config.temporal.devServerPort, config.apiPort]);
  if (busy !== null) {
    console.error(`[restore] the local stack is running (port ${busy} answers): stop npm start, then restore`);
    return 1;
  }
  try {
    const { manifest, replacedDir } = await restoreBackup(from, config.dataDir);
    console.log(`[restore] restored the backup taken at ${manifest.createdAt} into ${path.resolve(config.dataDir)}`);
    if (replacedDir) console.log(`[restore] what it replaced is in ${replacedDir}`);
    if (manifest.keys === 'ENCRYPTION_KEYS')
      console.log(
        '[restore] its payload keys were not in the backup: start with the ENCRYPTION_KEYS it was taken under',
      );
    return 0;
  } catch (err) {
    if (!(err instanceof BackupRefused)) throw err;
    console.error(`[restore] ${err.message}`);
    return 1;
  }
}

runScript(main, { name: 'restore' });
