// The dashboard's projection (src/MissionHub/wwwroot/store.js) over the shared fixtures in tests/fixtures/projection:
// each file's events, applied in order as GET /api/events returns them, must leave exactly its expected jobs (the
// unfinished ones), workers and counts. Run: node --test tests/dashboard-store/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store, flat } from '../../src/MissionHub/wwwroot/store.js';

const here = dirname(fileURLToPath(import.meta.url));
const folder = join(here, '..', 'fixtures', 'projection');
const fixtures = readdirSync(folder).filter((f) => f.endsWith('.json')).sort();

test('there are projection fixtures', () => assert.ok(fixtures.length >= 2, `only ${fixtures.length} in ${folder}`));

/** What the store holds, in the fixtures' shape; only the keys the expectation names are compared. */
function projected(store) {
  const jobs = {};
  for (const j of store.jobs.values()) jobs[j.id] = { status: j.status, worker_id: j.worker_id ?? null, attempts: j.attempts, job_type: j.job_type, priority: j.priority };
  const workers = {};
  for (const w of store.workers.values()) workers[w.id] = { status: w.status, current_jobs: [...(w.current_jobs || [])].sort() };
  return { jobs, workers, counts: store.counts() };
}

function pick(actual, expected) {
  if (expected === null || typeof expected !== 'object' || Array.isArray(expected) || actual === null || typeof actual !== 'object') return actual;
  return Object.fromEntries(Object.keys(expected).map((k) => [k, pick(actual[k], expected[k])]));
}

for (const file of fixtures) {
  const fixture = JSON.parse(readFileSync(join(folder, file), 'utf8'));
  test(`${file}: ${fixture.description}`, () => {
    const store = new Store();
    for (const e of fixture.events) store.apply(e);
    const got = projected(store);
    const want = fixture.expected;
    if (want.jobs) {
      assert.deepEqual(Object.keys(got.jobs).sort(), Object.keys(want.jobs).sort(), 'the unfinished jobs');
      assert.deepEqual(pick(got.jobs, want.jobs), want.jobs, 'jobs');
    }
    if (want.workers) assert.deepEqual(pick(got.workers, want.workers), want.workers, 'workers');
    if (want.counts) assert.deepEqual(pick(got.counts, want.counts), want.counts, 'counts');
    assert.equal(store.seq, fixture.events.at(-1)?.seq ?? -1, 'the seq of the last event applied');
  });
}

test('a hub event is the same whether it comes flat (/ws/monitor) or as its envelope (/api/events)', () => {
  const fixture = JSON.parse(readFileSync(join(folder, fixtures[0]), 'utf8'));
  const fromEnvelopes = new Store();
  const fromFlat = new Store();
  for (const e of fixture.events) {
    fromEnvelopes.apply(e);
    const { meta, ...flatEvent } = flat(e);
    void meta;
    fromFlat.apply(flatEvent);
  }
  assert.deepEqual(projected(fromFlat), projected(fromEnvelopes));
});

test('a state from GET /api/state then the events after it equals the events from the start', () => {
  const fixture = JSON.parse(readFileSync(join(folder, fixtures[0]), 'utf8'));
  const cut = Math.floor(fixture.events.length / 2);
  const before = new Store();
  for (const e of fixture.events.slice(0, cut)) before.apply(e);
  // The state endpoint's shape, built from the projection at the cut.
  const jobs = [...before.jobs.values()].map((j) => ({ ...j, created_at: j.created_ms / 1000 }));
  const state = {
    epoch: 'e1', seq: before.seq, timestamp: before.timestamp / 1000, first_seq: 1, last_seq: fixture.events.at(-1).seq,
    jobs: { pending: jobs.filter((j) => j.status === 'pending'), active: jobs.filter((j) => j.status !== 'pending'), completed: before.completed, failed: before.failed },
    counts: before.counts(),
    workers: Object.fromEntries([...before.workers.values()].map((w) => [w.id, { id: w.id, status: w.status, capabilities: w.capabilities, connected_at: w.connected_at, current_jobs: w.current_jobs }])),
    robots: {}, missions: [],
  };
  const resumed = new Store();
  resumed.loadState(JSON.parse(JSON.stringify(state)));
  for (const e of fixture.events.slice(cut)) resumed.apply(e);
  const whole = new Store();
  for (const e of fixture.events) whole.apply(e);
  assert.deepEqual(projected(resumed), projected(whole));
});

test('a monitor snapshot gives the counts: live jobs by status, finished ones from its stats', () => {
  const store = new Store();
  const job = (id, status) => ({ id, job_type: 'render', status, priority: 0, worker_id: status === 'pending' ? null : 'w1', progress: 0, attempts: status === 'pending' ? 0 : 1, created_at: 1 });
  store.loadSnapshot({
    workers: { w1: { id: 'w1', status: 'busy', capabilities: { job_types: ['render'], max_concurrent_jobs: 2 }, connected_at: '2026-12-03T10:00:00.000Z', current_jobs: ['b', 'c'] } },
    jobs: { pending: [job('a', 'pending')], active: [job('b', 'assigned'), job('c', 'running')], completed: [], failed: [] },
    system_stats: { total_workers: 1, active_workers: 1, total_jobs: 11, pending_jobs: 1, active_jobs: 2, completed_jobs: 5, failed_jobs: 2 },
  }, 'e1', 40);
  assert.deepEqual(store.counts(), { pending: 1, assigned: 1, running: 1, completed: 5, failed: 2, cancelled: 1 });
  assert.equal(store.seq, 40);
});

test('a snapshot with cancelled_jobs gives that total, whatever a purge did to total_jobs', () => {
  const store = new Store();
  store.loadSnapshot({
    workers: {},
    jobs: { pending: [], active: [], completed: [], failed: [] },
    system_stats: { total_workers: 0, active_workers: 0, total_jobs: 20, pending_jobs: 0, active_jobs: 0, completed_jobs: 5, failed_jobs: 2, cancelled_jobs: 3 },
  }, 'e1', 50);
  assert.deepEqual(store.counts(), { pending: 0, assigned: 0, running: 0, completed: 5, failed: 2, cancelled: 3 });
});
