import type { Response } from 'supertest';

/** An API answer that is a problem document (API.md): its status, its content type, every field it must carry, and its title when given. */
export function expectProblem(res: Response, status: number, title?: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: expect.any(String), title: title ?? expect.any(String), status, detail: expect.any(String), errors: expect.any(Array) });
}
