/** One block of an event stream: an event (id, type, data) or a comment (a heartbeat). */
export interface SseBlock {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/**
 * A Server-Sent Events client for tests: reads a stream's blocks as they come, as `EventSource` does, but
 * with the request's headers in the test's hands (`Authorization`, `Last-Event-ID`).
 */
export class SseReader {
  private buffer = '';
  private readonly blocks: SseBlock[] = [];
  private ended = false;
  private readonly decoder = new TextDecoder();
  /** A read still waiting when `next` timed out: the next call takes its chunk instead of losing it. */
  private pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']> | null = null;

  private constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly abort: AbortController,
  ) {}

  /** Opens `url`; the response alone when it is not a stream (a problem, say). */
  static async open(
    url: string,
    headers: Record<string, string>,
  ): Promise<{ response: Response; stream: SseReader | null }> {
    const abort = new AbortController();
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    if (!response.ok || !response.body) return { response, stream: null };
    return { response, stream: new SseReader(response.body.getReader(), abort) };
  }

  /** The next block, or null once the server ended the stream; fails after `timeoutMs` without one. */
  async next(timeoutMs = 10_000): Promise<SseBlock | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.blocks.length === 0 && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
      let timer: NodeJS.Timeout | undefined;
      this.pending ??= this.reader.read();
      const chunk = await Promise.race([
        this.pending,
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), left))),
      ]).finally(() => clearTimeout(timer));
      if (chunk === 'timeout') continue;
      this.pending = null;
      if (chunk.done) this.ended = true;
      else this.take(this.decoder.decode(chunk.value, { stream: true }));
    }
    return this.blocks.shift() ?? null;
  }

  /** The next event, skipping heartbeats. */
  async nextEvent(timeoutMs = 10_000): Promise<SseBlock | null> {
    for (;;) {
      const block = await this.next(timeoutMs);
      if (!block || block.comment === undefined) return block;
    }
  }

  close(): void {
    this.abort.abort();
  }

  private take(text: string): void {
    this.buffer += text;
    for (let end = this.buffer.indexOf('\n\n'); end >= 0; end = this.buffer.indexOf('\n\n')) {
      const block: SseBlock = {};
      for (const line of this.buffer.slice(0, end).split('\n')) {
        if (line.startsWith(':')) block.comment = line.slice(1).trim();
        const field = /^(id|event|data): ?(.*)$/.exec(line);
        if (field) block[field[1] as 'id' | 'event' | 'data'] = field[2];
      }
      this.buffer = this.buffer.slice(end + 2);
      this.blocks.push(block);
    }
  }
}
