import cors from 'cors';
import { Router, type RequestHandler } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { PayloadDecryptionError } from '../codec';
import { jsonBody } from './json-body';
import { CodecPayloads } from './http-schemas';
import { problem } from './problem';

const CODEC_BODY_LIMIT = '4mb';

function fromJson({ payloads }: CodecPayloads): Payload[] {
  return payloads.map(({ metadata, data }) => ({
    metadata: Object.fromEntries(
      Object.entries(metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
    ),
    data: Buffer.from(data ?? '', 'base64'),
  }));
}

function toJson(payloads: Payload[]): CodecPayloads {
  return {
    payloads: payloads.map(({ metadata, data }) => ({
      metadata: Object.fromEntries(
        Object.entries(metadata ?? {}).map(([key, value]) => [key, Buffer.from(value ?? []).toString('base64')]),
      ),
      data: Buffer.from(data ?? []).toString('base64'),
    })),
  };
}

/**
 * POST /codec/encode and /codec/decode, the endpoints the Temporal Web UI (and `temporal` CLI) call to
 * show decoded payloads. Browsers preflight without credentials, so CORS answers before `auth` runs.
 */
export function codecRouter(options: {
  codec: PayloadCodec;
  corsOrigins: readonly string[];
  auth: RequestHandler | null;
}): Router {
  const router = Router();
  const corsForUi = cors({
    origin: [...options.corsOrigins],
    methods: ['POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'x-namespace', 'authorization'],
    credentials: true,
    maxAge: 600,
  });
  for (const operation of ['encode', 'decode'] as const) {
    const path = `/codec/${operation}`;
    router.options(path, corsForUi);
    router.post(
      path,
      corsForUi,
      ...(options.auth ? [options.auth] : []),
      ...jsonBody(CODEC_BODY_LIMIT),
      async (req, res) => {
        const body = CodecPayloads.safeParse(req.body ?? {});
        if (!body.success)
          return problem(res, 400, 'Invalid request', 'the body is not in the codec-server format', body.error);
        try {
          const payloads = await options.codec[operation](fromJson(body.data));
          res.json(toJson(payloads));
        } catch (err) {
          if (!(err instanceof PayloadDecryptionError)) throw err;
          problem(res, 400, 'Payload cannot be decoded', err.message);
        }
      },
    );
  }
  return router;
}
