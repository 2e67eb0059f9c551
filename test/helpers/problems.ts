import type { Response } from 'supertest';

/** An answer as supertest gives it, or as the generated client does (`{ error, response }`). */
type Answer = Response | { error?: unknown; response: globalThis.Response };

/** An API answer that is a problem document: its status, its content type, every field it must carry, and its title when given. */
export function expectProblem(answer: Answer, status: number, title?: string): void {
  const { code, contentType, body } =
    'response' in answer
      ? { code: answer.response.status, contentType: answer.response.headers.get('content-type'), body: answer.error }
      : { code: answer.status, contentType: answer.headers['content-type'], body: answer.body as unknown };
  expect(code).toBe(status);
  expect(contentType).toMatch(/^application\/problem\+json/);
  expect(body).toMatchObject({
    type: expect.any(String),
    title: title ?? expect.any(String),
    status,
    detail: expect.any(String),
    errors: expect.any(Array),
  });
}
