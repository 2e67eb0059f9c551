import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_ORDER_SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { devServerDynamicConfigArgs, isOtelVariable } from './dev-server-process';
import { ensureTemporalCli } from './temporal-cli';

type DevServerOptions = Omit<
  Extract<NonNullable<Parameters<typeof TestWorkflowEnvironment.createLocal>[0]>['server'], object>,
  'executable'
>;

/**
 * A dev server through the SDK's own test environment, on the provisioned CLI, on loopback, with the order
 * search attributes registered and our servers' dynamic config; `options` add the rest. The SDK starts it with this process's environment:
 * for that moment without our OTEL_* variables (see withoutOtelVariables in dev-server-process.ts).
 */
export async function startDevServerEnvironment(
  options: DevServerOptions = {},
  say?: (line: string) => void,
): Promise<TestWorkflowEnvironment> {
  const cli = await ensureTemporalCli(say);
  const otel = Object.keys(process.env).filter(isOtelVariable);
  const saved = otel.map((key) => [key, process.env[key]] as const);
  for (const key of otel) delete process.env[key];
  try {
    return await TestWorkflowEnvironment.createLocal({
      server: {
        ...(cli ? { executable: { type: 'existing-path' as const, path: cli } } : {}),
        ip: '127.0.0.1',
        searchAttributes: ALL_ORDER_SEARCH_ATTRIBUTES,
        log: { format: 'pretty', level: 'error' },
        ...options,
        extraArgs: [...devServerDynamicConfigArgs(), ...(options.extraArgs ?? [])],
      },
    });
  } finally {
    for (const [key, value] of saved) process.env[key] = value;
  }
}

/** A throwaway, in-memory dev server: for the jest run and for history capture. */
export function startEphemeralServer(say?: (line: string) => void): Promise<TestWorkflowEnvironment> {
  return startDevServerEnvironment({}, say);
}
