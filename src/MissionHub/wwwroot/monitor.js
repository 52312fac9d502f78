// The /ws/monitor client (spec 003 §2/§5, DESIGN.md §4): snapshot, subscribe, live events, heartbeats,
// reconnect with backoff and resync by last_seq + epoch. It knows nothing about the page: it calls
// onSnapshot(data, epoch, seq) when the state must be (re)loaded, onEvents(events) with events in seq
// order (each exactly once), and onState(state, detail) when the connection changes.

// 'agents' is left out: it is exactly the worker_* events (topic workers) plus telemetry.connection_* (topic
// telemetry), and with it the server's combined type pattern passes its 200-character limit and the
// subscribe fails (the socket is closed). 'jobs:status' is for queue_paused / queue_resumed (its job_* types are
// in 'jobs' already, and each event still comes once).
export const TOPICS = ['workers', 'jobs', 'jobs:status', 'system_stats', 'heartbeat', 'missions', 'supervisor', 'telemetry', 'metrics'];
// Topics of features a hub may not have yet: when it refuses them (invalid_topics), the page follows the others.
export const OPTIONAL_TOPICS = ['schedules'];

const HEARTBEAT_MS = 15000;
const BACKOFF_MS = [500, 1000, 2000, 3000, 5000]; // then every 5 s (±20 %)

export class MonitorClient {
  constructor({ url, onSnapshot, onEvents, onState, counters, onTopicsUnavailable }) {
    this.url = url;
    this.onSnapshot = onSnapshot;
    this.onEvents = onEvents;
    this.onState = onState;
    this.onTopicsUnavailable = onTopicsUnavailable;
    this.topics = [...TOPICS, ...OPTIONAL_TOPICS];
    this.counters = counters;
    this.monitorId = 'dashboard-' + Math.random().toString(36).slice(2, 10);
    this.epoch = null;
    this.lastSeq = -1; // -1: no snapshot yet
    this.attempt = 0;
    this.socket = null;
    this.heartbeatTimer = null;
    this.retryTimer = null;
    this.resyncing = false;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  /** Closes the socket from the client side (for tests and when the page is left). */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.socket?.close();
  }

  open() {
    const hasState = this.lastSeq >= 0;
    this.setState(hasState ? 'reconnecting' : 'connecting', { attempt: this.attempt });
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (err) {
      this.scheduleReconnect(String(err));
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      if (this.lastSeq >= 0 && this.epoch) {
        // Resume exactly where we were: no new snapshot unless the server says it cannot.
        this.send({ type: 'monitor_connect', monitor_id: this.monitorId, request_full_state: false });
        this.resync('reconnected');
      } else {
        this.send({ type: 'monitor_connect', monitor_id: this.monitorId });
      }
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = setInterval(() => this.send({ type: 'heartbeat', monitor_id: this.monitorId }), HEARTBEAT_MS);
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      clearInterval(this.heartbeatTimer);
      this.socket = null;
      this.resyncing = false;
      if (!this.stopped) this.scheduleReconnect(close.reason || `closed (${close.code})`);
      else this.setState('closed', {});
    };
    socket.onerror = () => { /* onclose follows */ };
  }

  scheduleReconnect(reason) {
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.counters.reconnects += 1;
    this.setState('reconnecting', { attempt: this.attempt, retryAt: Date.now() + delay, reason });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  subscribe() {
    this.send({ type: 'subscribe', monitor_id: this.monitorId, topics: this.topics, batching: true });
  }

  resync(why) {
    this.resyncing = true;
    this.counters.resyncs += 1;
    this.setState('resyncing', { why, from: this.lastSeq });
    this.send({ type: 'resync_request', monitor_id: this.monitorId, last_seq: this.lastSeq, epoch: this.epoch, topics: this.topics, batching: true });
  }

  /** Takes a fresh snapshot (after recovered:false, or on demand). */
  reloadSnapshot() {
    this.send({ type: 'monitor_connect', monitor_id: this.monitorId, request_full_state: true });
  }

  setState(state, detail) {
    if (state !== this.counters.connection) console.info(`monitor: ${state}`, JSON.stringify(detail));
    this.counters.connection = state;
    this.onState(state, detail);
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    switch (message.type) {
      case 'full_state_snapshot':
        this.epoch = message.epoch;
        this.lastSeq = message.seq;
        this.counters.snapshots += 1;
        this.counters.lastSeq = message.seq;
        this.counters.epoch = message.epoch;
        this.onSnapshot(message.data, message.epoch, message.seq);
        this.subscribe();
        return;
      case 'subscribed':
      case 'monitor_connected':
        if (!this.resyncing) this.setState('live', {});
        return;
      case 'event_batch':
        this.apply(message.events);
        return;
      case 'resync_data':
        if (message.recovered === false) {
          // The log cannot fill the gap (another epoch, or trimmed): start over from a snapshot.
          this.resyncing = false;
          this.lastSeq = -1;
          this.counters.resyncFailures += 1;
          this.setState('resyncing', { why: message.reason || 'history not recoverable: reloading the snapshot' });
          this.reloadSnapshot();
          return;
        }
        this.apply(message.events || []);
        if (message.done) {
          if (typeof message.last_seq === 'number') this.advance(message.last_seq);
          this.resyncing = false;
          this.setState('live', {});
        }
        return;
      case 'heartbeat_ack':
        if (message.events_missed > 0 && !this.resyncing) this.resync(`${message.events_missed} events missed`);
        return;
      case 'events_missed':
        if (!this.resyncing) this.resync(`${message.count} events missed`);
        return;
      case 'heartbeat':
        // The server's own heartbeat: everything up to last_seq has been sent to us.
        if (typeof message.last_seq === 'number' && !this.resyncing) this.advance(message.last_seq);
        this.counters.lastServerHeartbeat = Date.now();
        return;
      case 'error':
        if (message.code === 'invalid_topics' && this.topics.length > TOPICS.length) {
          // Refused before anything was subscribed: ask again without the optional topics.
          const dropped = this.topics.filter((t) => !TOPICS.includes(t));
          console.info('monitor: this hub has no topic', dropped.join(', '));
          this.topics = [...TOPICS];
          this.onTopicsUnavailable?.(dropped);
          if (this.resyncing) this.resync('resync without optional topics');
          else this.subscribe();
          return;
        }
        console.warn('monitor error', message.code, message.message);
        this.counters.errors += 1;
        return;
      default:
        // A single (unbatched) event.
        if (typeof message.seq === 'number') this.apply([message]);
    }
  }

  advance(seq) {
    if (seq > this.lastSeq) {
      this.lastSeq = seq;
      this.counters.lastSeq = seq;
    }
  }

  apply(events) {
    const fresh = [];
    for (const event of events) {
      if (typeof event.seq !== 'number' || event.seq <= this.lastSeq) continue; // seen already (resync overlap)
      this.lastSeq = event.seq;
      fresh.push(event);
    }
    if (fresh.length === 0) return;
    this.counters.lastSeq = this.lastSeq;
    this.counters.eventsApplied += fresh.length;
    this.onEvents(fresh);
  }
}
