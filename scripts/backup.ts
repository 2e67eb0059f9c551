import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../config';
import { BACKUPS_FOLDER, BackupRefused, describeBackup, newBackupDir, takeBackup } from '../stack/backup';
import { runScript } from '../stack/children';

const USAGE = `usage: npm run backup [-- --to DIR]

Copies the running (or stopped) local stack's Temporal database, consistently while the dev server writes,
and its dev payload keys, into a new folder: DIR, or DATA_DIR/${BACKUPS_FOLDER}/<time>. Restore it with
npm run restore -- DIR while the stack is stopped (docs/OPERATIONS.md).`;

/** `npm run backup`: one backup of the embedded stack; says what it wrote, or why it wrote nothing. */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { to: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfigOrExit('backup');
  if (config.temporal.address) {
    console.error(
      `[backup] TEMPORAL_ADDRESS is set: that server's database is not the local stack's; back it up as docs/OPERATIONS.md says`,
    );
    return 1;
  }
  const to = path.resolve(values.to ?? newBackupDir(path.join(config.dataDir, BACKUPS_FOLDER)));
  try {
    const result = await takeBackup(config.dataDir, to);
    for (const line of describeBackup(result)) console.log(`[backup] ${line}`);
    return 0;
  } catch (err) {
    if (!(err instanceof BackupRefused)) throw err;
    console.error(`[backup] ${err.message}`);
    return 1;
  }
}

runScript(main, { name: 'backup' });
