import { randomInt } from 'node:crypto';

/**
 * A loopback address (all of 127/8 is loopback) that no other server of the run listens on, as a rule: a
 * port closed on it to be refused stays refused, though the kernel may give its number to another server
 * on 127.0.0.1.
 */
export function loopbackAddressOfItsOwn(): string {
  return `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}
