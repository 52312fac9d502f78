'use strict';
// The BullMQ peer of MissionHub's `cluster` benchmark (bench/MissionHub.Bench/ClusterBenchmark.cs), which runs it
// against the redis-server it started: N workers x C concurrency with a no-op processor, jobs added by concurrent
// submitters (one `add` each, as MissionHub's submitters POST one job each) or in bulk, end to end until every job
// has completed; then jobs added at a paced rate, each carrying its add time, for the add -> processor latency.
// Prints one JSON line on stdout; progress on stderr.
//
//   node bench.js --port 6379 [--jobs 20000] [--workers 16] [--concurrency 4] [--submitters 32] [--mode single|bulk]
//                 [--warmup 2000] [--rate 1000] [--seconds 5]
const { Queue, Worker } = require('bullmq');
const { version } = require('bullmq/package.json');

function parseArgs(argv) {
  const options = {
    port: 6379, jobs: 20000, workers: 16, concurrency: 4, submitters: 32, mode: 'single', warmup: 2000, rate: 1000, seconds: 5,
    prefix: `bench${process.pid}`,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in options) || i + 1 >= argv.length) {
      throw new Error(`unknown option or missing value: ${argv[i]}`);
    }
    options[name] = typeof options[name] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!['single', 'bulk'].includes(options.mode)) {
    throw new Error(`--mode must be single or bulk, not ${options.mode}`);
  }
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const connection = { host: '127.0.0.1', port: options.port, maxRetriesPerRequest: null };
  const queueName = 'bench';
  const queue = new Queue(queueName, { connection, prefix: options.prefix });
  await queue.waitUntilReady();

  // Completions per job id, counted when BullMQ reports the job completed (after its moveToCompleted script).
  const completions = new Map();
  let completed = 0;
  let waiter = null;
  let latencies = null;
  const onCompleted = (job) => {
    completions.set(job.id, (completions.get(job.id) || 0) + 1);
    completed++;
    if (waiter && completed >= waiter.target) {
      const resolve = waiter.resolve;
      waiter = null;
      resolve();
    }
  };
  const workers = [];
  for (let i = 0; i < options.workers; i++) {
    const worker = new Worker(queueName, async (job) => {
      if (latencies && job.data.t) {
        latencies.push(Number(process.hrtime.bigint() - BigInt(job.data.t)) / 1e6);
      }
      return null;
    }, { connection, prefix: options.prefix, concurrency: options.concurrency, autorun: true });
    worker.on('completed', onCompleted);
    worker.on('error', (err) => console.error(`bullmq worker error: ${err.message}`));
    workers.push(worker);
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  const waitFor = (target) => new Promise((resolve, reject) => {
    if (completed >= target) {
      resolve();
      return;
    }
    const timer = setTimeout(() => reject(new Error(`only ${completed} of ${target} jobs completed within 300 s`)), 300000);
    waiter = { target, resolve: () => { clearTimeout(timer); resolve(); } };
  });

  let nextId = 0;
  async function addJobs(count) {
    if (options.mode === 'bulk') {
      for (let done = 0; done < count; done += 1000) {
        const batch = [];
        for (let k = 0; k < Math.min(1000, count - done); k++) {
          batch.push({ name: 'bench', data: { t: 0 }, opts: { jobId: `j${++nextId}` } });
        }
        await queue.addBulk(batch);
      }
      return;
    }
    let remaining = count;
    await Promise.all(Array.from({ length: options.submitters }, async () => {
      while (remaining > 0) {
        remaining--;
        await queue.add('bench', { t: 0 }, { jobId: `j${++nextId}` });
      }
    }));
  }

  // Warm-up (JIT of node and the scripts loaded into Redis), then the measured run.
  await addJobs(options.warmup);
  await waitFor(options.warmup);
  completions.clear();
  completed = 0;
  const start = process.hrtime.bigint();
  await addJobs(options.jobs);
  await waitFor(options.jobs);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  let doubled = 0;
  for (const count of completions.values()) {
    if (count > 1) doubled++;
  }
  const lost = options.jobs - completions.size;

  // Paced adds: add -> processor start, in milliseconds.
  completed = 0;
  latencies = [];
  const total = options.rate * options.seconds;
  const paceStart = process.hrtime.bigint();
  const adds = [];
  for (let i = 0; i < total; i++) {
    const due = BigInt(Math.round((i / options.rate) * 1e9));
    const wait = Number(due - (process.hrtime.bigint() - paceStart)) / 1e6;
    if (wait > 1) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    adds.push(queue.add('bench', { t: process.hrtime.bigint().toString() }, { jobId: `p${i}` }));
  }
  await Promise.all(adds);
  await waitFor(total);
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];

  await Promise.all(workers.map((w) => w.close()));
  await queue.obliterate({ force: true });
  await queue.close();
  process.stdout.write(JSON.stringify({
    bullmq: version, mode: options.mode, jobs: options.jobs, workers: options.workers, concurrency: options.concurrency,
    seconds, jobs_per_s: options.jobs / seconds, lost, doubled,
    paced_rate: options.rate, latency_p50_ms: at(50), latency_p99_ms: at(99), latency_max_ms: latencies[latencies.length - 1] || 0,
  }) + '\n');
}

main().then(() => process.exit(0), (err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
