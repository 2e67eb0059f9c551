import type { Response } from 'express';
import { foldEvents } from '../domain/evolve';
import type { OrderEvent } from '../domain/schemas/order-events';
import { isTerminal, toOrderView, type OrderState, type OrderView } from '../domain/order-state';
import { Status, type OrderStatus } from '../domain/statuses';
import { statusEventSeq, statusEventsOf, type StatusEvent } from '../domain/status-events';

/** What the streams read of Temporal: an order's event log (history), and which orders have moved. */
export interface OrderReader {
  events(orderId: string): Promise<OrderEvent[] | null>;
  /**
   * In one call, the orders whose status changed at `since` or later, each with when it last did (the time
   * of the last event written with the change, by the workflow's clock).
   */
  statusChangedSince(since: Date): Promise<Map<string, Date>>;
  /** In one call, the orders whose workflow closed at `since` or later other than by completing (terminated). */
  closedOtherwiseSince(since: Date): Promise<Set<string>>;
}

/** What visibility told of a watched order: when its status last changed, or that its workflow was closed. */
type Move = Date | typeof CLOSED;
const CLOSED = 'closed';

export interface OrderStreamSettings {
  /** How often the watched orders are checked for news: one visibility call for all of them. */
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

/**
 * How far before the last poll a poll asks from. The times asked about are the workflow's (the server's
 * clock when a workflow task began), and visibility has them once the task has completed: the task's own
 * length, visibility's lag behind history and a difference between the API's clock and the server's must
 * all fit in it, or a change is missed until the order's next one.
 */
export const LOOKBACK_MS = 5_000;

/**
 * The statuses an order passes in its first workflow task, on the way to its payment link: that task's one
 * call may take up to 10 s, longer than the lookback, so the history of a watched order still at one of
 * them is read at every poll instead (a few orders at a time: those whose POST was answered 202).
 */
const FIRST_TASK_STATUSES: readonly OrderStatus[] = [Status.RECEIVED, Status.RESERVED];

/**
 * How often visibility is asked which orders were closed by hand (terminated): rare, and the dearer query of
 * the two on the dev server's SQLite, so not at every poll. Their streams end within this.
 */
const CLOSES_EVERY_MS = 10_000;

/** The SSE event of the order as it is now; status changes go out under their own types. */
const CURRENT_VIEW_EVENT = 'order';

interface Stream {
  res: Response;
  /** The number of the last domain event this stream has accounted for (its messages' ids). */
  seenSeq: number;
}

/** Where a history read left an order: its status, and the time of its last event (ms). */
interface Read {
  status: OrderStatus;
  updatedAt: number;
}

interface Watch {
  streams: Set<Stream>;
  /** Where the history last read left the order; null: to be read at the next poll (its read failed, say). */
  read: Read | null;
  reading: boolean;
}

/**
 * The live order streams (`GET /orders/{id}/stream`, docs/API.md, "Following an order live") of one API
 * process. Each stream gets the order as it is at once, then each status change, with the number of the
 * domain event behind it as the SSE id, so a client that reconnects with `Last-Event-ID` gets what it
 * missed. Nothing is held in Temporal per stream, and the cost does not grow with the streams: each `pollMs`
 * one visibility query asks which orders changed status since the last poll (their `StatusChangedAt`
 * search attribute, written with every status change), and the history of a watched order among them is
 * read, once for all its streams. A stream ends when its order reaches a terminal status, or its workflow
 * is closed by hand.
 */
export class OrderStreams {
  private readonly watched = new Map<string, Watch>();
  private pollTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  /** A poll still running when the next is due is not doubled (a slow server gets no more calls). */
  private polling = false;
  /** When the last poll that visibility answered began: the next asks what changed since then. */
  private polledAt = 0;
  /** The same for the orders closed by hand, asked about every {@link CLOSES_EVERY_MS}. */
  private closesPolledAt = 0;

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
    else if (!res.destroyed) this.watch(orderId, stream, readOf(state));
    return 'open';
  }

  /** The streams open now. */
  private get count(): number {
    let count = 0;
    for (const watch of this.watched.values()) count += watch.streams.size;
    return count;
  }

  /** Watches `orderId` for `stream`, which has been told the order up to `read`. */
  private watch(orderId: string, stream: Stream, read: Read): void {
    const known = this.watched.get(orderId);
    const watch = known ?? { streams: new Set<Stream>(), read, reading: false };
    this.watched.set(orderId, watch);
    watch.streams.add(stream);
    // Read again at the next poll when the order's other streams were told another moment of it: news they
    // got while this one read its history would otherwise reach it only with the next change.
    if (known && known.read?.updatedAt !== read.updatedAt) watch.read = null;
    stream.res.on('close', () => {
      watch.streams.delete(stream);
      if (watch.streams.size === 0 && this.watched.get(orderId) === watch) this.watched.delete(orderId);
      if (this.watched.size === 0) this.stopTimers();
    });
    this.startTimers();
  }

  private startTimers(): void {
    if (this.pollTimer) return;
    // Nothing was watched before: what changed earlier is in the histories the streams read as they opened.
    this.polledAt = this.closesPolledAt = Date.now();
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

  /** Asks visibility which orders have moved since the last poll, and reads the history of those watched. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    const moves = await this.moves();
    for (const [orderId, watch] of this.watched) {
      const move = moves.get(orderId);
      if (!watch.reading && hasNews(watch, move)) void this.readNews(orderId, watch, move === CLOSED);
    }
    this.polling = false;
  }

  /** The orders that moved since the last poll visibility answered (none when it does not answer). */
  private async moves(): Promise<Map<string, Move>> {
    const moves = new Map<string, Move>();
    const startedAt = Date.now();
    try {
      const changed = await this.reader.statusChangedSince(new Date(this.polledAt - LOOKBACK_MS));
      for (const [orderId, at] of changed) moves.set(orderId, at);
      this.polledAt = startedAt;
      if (startedAt - this.closesPolledAt >= CLOSES_EVERY_MS) {
        const closed = await this.reader.closedOtherwiseSince(new Date(this.closesPolledAt - LOOKBACK_MS));
        for (const orderId of closed) moves.set(orderId, CLOSED);
        this.closesPolledAt = startedAt;
      }
    } catch {
      // Temporal did not answer: the streams stay open, with their heartbeats, and the next poll asks from
      // the same moment, so nothing that moved meanwhile is missed.
    }
    return moves;
  }

  private async readNews(orderId: string, watch: Watch, closed: boolean): Promise<void> {
    watch.reading = true;
    try {
      const events = await this.reader.events(orderId);
      // Gone (its history deleted past retention): nothing more will come.
      if (!events || events.length === 0) return this.end(orderId, watch);
      const state = foldEvents(events)!;
      watch.read = readOf(state);
      // Built once for all of the order's streams; each gets what it has not seen.
      const news = newsOf(events);
      for (const stream of watch.streams) this.sendNews(stream, news);
      // A terminal status is always a status change, and the last one; a closed workflow writes nothing more.
      if (isTerminal(state.status) || closed) this.end(orderId, watch);
    } catch {
      // Read again at the next poll.
      watch.read = null;
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

/**
 * Whether a watched order's history must be read: never read yet (or the read failed), still in its first
 * task's statuses, or visibility has a status change later than the history last read, or its close.
 */
function hasNews(watch: Watch, move: Move | undefined): boolean {
  if (!watch.read || FIRST_TASK_STATUSES.includes(watch.read.status)) return true;
  return move === CLOSED || (move !== undefined && move.getTime() > watch.read.updatedAt);
}

function readOf(state: OrderState): Read {
  return { status: state.status, updatedAt: Date.parse(state.updatedAt) };
}
