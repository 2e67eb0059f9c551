import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

// A clone must stand on its own: its contract and design are in docs/, and nothing in it may send a reader
// (or a build) to a file outside it.
const ROOT = path.join(__dirname, '..');
const TEXT = /\.(ts|js|mjs|json|ya?ml|md|sh)$|(^|\/)(Dockerfile|run|\.\w+ignore|\.nvmrc)$/;
/** The files a clone has: tracked or about to be (not ignored), as they are on disk now. */
const inCloneFiles = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
  cwd: ROOT,
  encoding: 'utf8',
})
  .split('\n')
  .filter((file) => file && existsSync(path.join(ROOT, file)));
/** Their text files, recorded histories aside: what is read for paths, links and citations. */
const tracked = inCloneFiles.filter((file) => TEXT.test(file) && !file.startsWith('test/histories/'));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
/** Every file and folder of a clone, whatever its kind: what a link may reach (a file ignored here is not there). */
const inClone = new Set(
  inCloneFiles.flatMap((file) => file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'))),
);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
const headingsOf = (file: string) => [...read(file).matchAll(/^#+ (.+)$/gm)].map(([, heading]) => heading!.trim());

test('no file names a path outside the repository', () => {
  const outside = tracked.flatMap((file) =>
    [...read(file).matchAll(/\.\.\/shared\b|\/work\/|\bAPI\.md §|API-NOTES\.md/g)].map(
      ([found]) => `${file}: ${found}`,
    ),
  );
  expect(tracked.length).toBeGreaterThan(100);
  expect(outside).toEqual([]);
});

test('every relative Markdown link reaches a file of the repository, and its heading', () => {
  const broken: string[] = [];
  for (const file of tracked.filter((name) => name.endsWith('.md'))) {
    for (const [, target] of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [relative, anchor] = target!.split('#');
      const linked = path.normalize(relative ? path.join(path.dirname(file), relative) : file).replace(/\/$/, '');
      if (!inClone.has(linked)) broken.push(`${file}: ${target} (no such file in a clone)`);
      else if (anchor && !headingsOf(linked).some((heading) => anchorOf(heading) === anchor)) {
        broken.push(`${file}: ${target} (no such heading)`);
      }
    }
  }
  expect(broken).toEqual([]);
});

test('the command table of docs/DEVELOPING.md names every npm script, and only those', () => {
  const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);
  const guide = read('docs/DEVELOPING.md');
  const table = guide.slice(
    guide.indexOf('## Every command'),
    guide.indexOf('\n## ', guide.indexOf('## Every command') + 1),
  );
  // `npm start`, `npm test`, and `npm run <script>` alone or with its arguments.
  const named = [...table.matchAll(/`npm (?:run )?([\w:-]+)[` ]/g)].map(([, script]) => script!);
  expect([...new Set(named)].sort()).toEqual([...scripts].sort());
});

test('every section of docs/ that the code cites by its heading exists', () => {
  const cited = tracked.flatMap((file) =>
    [...read(file).matchAll(/docs\/([A-Z]+\.md)[,(\s]+"([^"]+)"/g)].map(([, doc, heading]) => ({ file, doc, heading })),
  );
  expect(cited.length).toBeGreaterThan(10);
  const missing = cited.filter(({ doc, heading }) => !headingsOf(`docs/${doc}`).includes(heading!));
  expect(missing).toEqual([]);
});
