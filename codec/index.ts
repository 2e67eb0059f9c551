import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec, type EncryptionKey } from './encryption-codec';

export { EncryptionCodec, PayloadDecryptionError, type EncryptionKey } from './encryption-codec';

/** The data converter every client and worker of the stack uses: JSON payloads, encrypted. */
export function encryptedDataConverter(keys: readonly EncryptionKey[]): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keys)] };
}
