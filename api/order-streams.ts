import type { Response } from 'express';
import { foldEvents } from '../domain/evolve';
import type { OrderEvent } from '../domain/schemas/order-events';
import { isTerminal, toOrderView, type OrderView } from '../domain/order-state';
import type { OrderStatus } from '../domain/statuses';
import { statusEventSeq, statusEventsOf, type StatusEvent } from '../domain/status-events';

/** Where an order stands as visibility knows it: its last written status, and whether its workflow still runs. */
export interface OrderProgress {
  status: OrderStatus;
  running: boolean;
}

/** What the streams read of Temporal: an order's event log (history), and which of a set of orders have moved. */
export interface OrderReader {
  events(orderId: string): Promise<OrderEvent[] | null>;
  /**
   * In one call, the orders of `known` whose status is no longer the one given (any status, for null), or
   * whose workflow has closed, with where they stand now.
   */
  progress(known: ReadonlyMap<string, OrderStatus | null>): Promise<Map<string, OrderProgress>>;
}

export interface OrderStreamSettings {
  /** How often the watched orders are checked for news: one visibility call per {@link PROGRESS_BATCH} orders. */
  pollMs: number;
  /** How often an idle stream gets a comment line, so proxies and browsers keep it open. */
  heartbeatMs: number;
  /** How many streams this process keeps open at once; more are refused (503) until some end. */
  max: number;
}

/**
 * A client that has not read this much of what was written to it has stopped reading: its stream is ended
 * (it resumes with `Last-Event-ID` when it reads again) instead of growing in the API's memory.
 */
export const STALLED_BYTES = 64 * 1024;

/** What {@link OrderStreams.open} did: no such order, too many streams open, or the stream is open. */
export type StreamOpening = 'not-found' | 'full' | 'open';

/** Orders per visibility call: a query of this many ids stays well inside the server's limits. */
const PROGRESS_BATCH = 100;

/** The SSE event of the order as it is now; status changes go out under their own types. */
const CURRENT_VIEW_EVENT = 'order';

interface Stream {
  res: Response;
  /** The number of the last domain event this stream has accounted for (its messages' ids). */
  seenSeq: number;
}

interface Watch {
  streams: Set<Stream>;
  /** The status visibility gave when the history was last read (null: read at the next poll); another means news. */
  status: OrderStatus | null;
  reading: boolean;
}

/**
 * The live order streams (`GET /orders/{id}/stream`, docs/API.md, "Following an order live") of one API
 * process. Each stream gets the order as it is at once, then each status change, with the number of the
 * domain event behind it as the SSE id, so a client that reconnects with `Last-Event-ID` gets what it
 * missed. Nothing is held in Temporal per stream: every watched order is checked with one visibility call
 * per hundred orders each `pollMs`, and an order's history is read only when it has news, once for all
 * its streams. News is a status other than the one last read, as the order's `OrderStatus` search
 * attribute says (written with every status change), or its workflow closed: visibility's `HistoryLength`
 * is written only when a workflow closes, so an order that stays open after its last status change (its
 * webhooks still being delivered) would tell nothing. A stream ends when its order reaches a terminal
 * status, or its workflow closes.
 */
export class OrderStreams {
  private readonly watched = new Map<string, Watch>();
  private pollTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  /** A poll still running when the next is due is not doubled (a slow server gets no more calls). */
  private polling = false;

  constructor(
    private readonly reader: OrderReader,
    private readonly settings: OrderStreamSettings,
  ) {}

  /**
   * Opens a stream of `orderId` on `res`, resuming after `lastSeq` when the client says where it was.
   * Unless it is open, nothing has been written to `res`.
   */
  async open(orderId: string, lastSeq: number | null, res: Response): Promise<StreamOpening> {
    if (this.count >= this.settings.max) return 'full';
    const events = await this.reader.events(orderId);
    // No events yet: a workflow started without the API's first write, before a worker ran it (GET says 404 too).
    if (!events || events.length === 0) return 'not-found';
    res.status(200).set({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // Proxies that buffer (nginx) pass the stream on as it is written.
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    // A write to a client that has gone fails here; its 'close' is what stops the stream.
    res.on('error', () => {});
    const latest = events[events.length - 1]!.seq;
    // An id past the order's last event (not one this stream sent) would hide the changes up to it.
    const stream: Stream = { res, seenSeq: Math.min(lastSeq ?? 0, latest) };
    if (lastSeq !== null) this.sendNews(stream, newsOf(events));
    const state = foldEvents(events)!;
    this.send(stream, message(latest, CURRENT_VIEW_EVENT, toOrderView(state), state.status));
    if (isTerminal(state.status)) res.end();
    // A client gone while its history was read has nothing to watch.
    else if (!res.destroyed) this.watch(orderId, stream);
    return 'open';
  }

  /** The streams open now. */
  private get count(): number {
    let count = 0;
    for (const watch of this.watched.values()) count += watch.streams.size;
    return count;
  }

  private watch(orderId: string, stream: Stream): void {
    const watch = this.watched.get(orderId) ?? { streams: new Set<Stream>(), status: null, reading: false };
    this.watched.set(orderId, watch);
    watch.streams.add(stream);
    // Read again at the next poll: news the order's other streams got while this one read its history
    // would otherwise reach it only with the next change.
    watch.status = null;
    stream.res.on('close', () => {
      watch.streams.delete(stream);
      if (watch.streams.size === 0 && this.watched.get(orderId) === watch) this.watched.delete(orderId);
      if (this.watched.size === 0) this.stopTimers();
    });
    this.startTimers();
  }

  private startTimers(): void {
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => void this.poll(), this.settings.pollMs).unref();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.settings.heartbeatMs).unref();
  }

  private stopTimers(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.pollTimer = this.heartbeatTimer = null;
  }

  private heartbeat(): void {
    for (const watch of this.watched.values()) {
      for (const { res } of watch.streams) {
        if (res.writableLength > STALLED_BYTES) res.destroy();
        else res.write(': heartbeat\n\n');
      }
    }
  }

  /**
   * Ends every stream (the API is stopping): a server's close waits for its connections, and a stream of an
   * order that waits for its payment would keep it waiting. Clients reconnect elsewhere with `Last-Event-ID`.
   */
  endAll(): void {
    for (const [orderId, watch] of this.watched) this.end(orderId, watch);
    this.stopTimers();
  }

  /** Ends an order's streams and stops watching it (a terminal status, an order gone, the API stopping). */
  private end(orderId: string, watch: Watch): void {
    this.watched.delete(orderId);
    for (const { res } of watch.streams) res.end();
    watch.streams.clear();
    if (this.watched.size === 0) this.stopTimers();
  }

  /** Asks visibility which watched orders have news, and reads the history of those. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    const watched = [...this.watched].filter(([, watch]) => !watch.reading);
    for (let at = 0; at < watched.length; at += PROGRESS_BATCH) {
      const known = new Map(watched.slice(at, at + PROGRESS_BATCH).map(([orderId, watch]) => [orderId, watch.status]));
      let progress: Map<string, OrderProgress>;
      try {
        progress = await this.reader.progress(known);
      } catch {
        // Temporal did not answer: these streams stay open, with their heartbeats, and the next poll asks again.
        continue;
      }
      for (const [orderId, now] of progress) {
        const watch = this.watched.get(orderId);
        if (watch && !watch.reading) void this.readNews(orderId, watch, now);
      }
    }
    this.polling = false;
  }

  private async readNews(orderId: string, watch: Watch, now: OrderProgress): Promise<void> {
    watch.reading = true;
    try {
      const events = await this.reader.events(orderId);
      // Gone (its history deleted past retention): nothing more will come.
      if (!events || events.length === 0) return this.end(orderId, watch);
      // History is written before visibility: it holds at least the status visibility gave.
      watch.status = now.status;
      // Built once for all of the order's streams; each gets what it has not seen.
      const news = newsOf(events);
      for (const stream of watch.streams) this.sendNews(stream, news);
      // A terminal status is always a status change, and the last one; a closed workflow writes nothing more.
      if ((news.length > 0 && isTerminal(news[news.length - 1]!.status)) || !now.running) this.end(orderId, watch);
    } catch {
      // Read again at the next poll: `status` still differs.
    } finally {
      watch.reading = false;
    }
  }

  /** The status changes after what the stream has seen, oldest first. */
  private sendNews(stream: Stream, news: readonly Message[]): void {
    for (const each of news) if (each.seq > stream.seenSeq) this.send(stream, each);
  }

  private send(stream: Stream, { seq, text }: Message): void {
    stream.seenSeq = Math.max(stream.seenSeq, seq);
    stream.res.write(text);
  }
}

/** One SSE message, serialized: its id (an event number), and the order's status it tells of. */
interface Message {
  seq: number;
  status: OrderStatus;
  text: string;
}

function message(seq: number, type: string, data: OrderView | StatusEvent, status: OrderStatus): Message {
  return { seq, status, text: `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n` };
}

/** The status changes in an order's event log, as messages. */
function newsOf(events: readonly OrderEvent[]): Message[] {
  return statusEventsOf(events).map((event) => message(statusEventSeq(event.id), event.type, event, event.data.status));
}
