import http from 'node:http';
import { SystemPort } from './helpers/stack';
import { closeServer, listen } from '../stack/parts';

/**
 * The fault matrix's "refused" cells close a system's port while other stacks of the same run open
 * theirs on any free port: the kernel may hand the closed port number to one of them, and the saga's
 * next call would then reach a stranger's sandbox instead of being refused.
 */
test('a system that refuses connections keeps refusing when another server takes its port number', async () => {
  const system = await SystemPort.open((_request, response) => response.end('the system'));
  await system.refuse();
  const stranger = http.createServer((_request, response) => response.end('a stranger'));
  await listen(stranger, Number(new URL(system.url).port));
  try {
    await expect(fetch(system.url)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  } finally {
    await closeServer(stranger);
  }
  await system.accept();
  try {
    expect(await (await fetch(system.url)).text()).toBe('the system');
  } finally {
    await system.refuse();
  }
});
