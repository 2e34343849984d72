// BullMQ doing Pacer's benchmark work on the same redis-server, so that benches/peers.rs can put
// the two side by side. One JSON line of results on stdout.
//
//   node bench.js throughput --port P --jobs N --concurrency C --queues Q
//   node bench.js lateness   --port P --rate R --seconds S --concurrency C --queues Q
//   node bench.js pause      --port P --trials T --concurrency C
//
// Settings, as BullMQ documents them for speed: removeOnComplete and removeOnFail, ioredis
// auto-pipelining off (its default), the worker's concurrency matched to Pacer's, jobs added in
// bulk; due times are set explicitly with `timestamp` + `delay` (otherwise BullMQ counts the
// delay from its own add time). Every loop is bounded in count and time.
'use strict';
const { Queue, Worker } = require('bullmq');

const args = process.argv.slice(2);
const mode = args[0];
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const connection = {
  host: '127.0.0.1',
  port: option('port', 6379),
  maxRetriesPerRequest: null,
  enableAutoPipelining: false,
};
const jobOptions = { removeOnComplete: true, removeOnFail: true };
const prefix = `peer${process.pid}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * p))];
}

async function addAll(queue, jobs) {
  for (let i = 0; i < jobs.length; i += 1000) {
    await queue.addBulk(jobs.slice(i, i + 1000));
  }
}

// N jobs due now over Q queues, one worker of concurrency C on each: jobs completed per second.
async function throughput() {
  const n = option('jobs', 100000);
  const concurrency = option('concurrency', 100);
  const nQueues = option('queues', 1);
  const queues = [...Array(nQueues).keys()].map((q) => new Queue(`t${q}`, { connection, prefix }));
  for (const [q, queue] of queues.entries()) {
    const jobs = [];
    for (let i = q; i < n; i += nQueues) jobs.push({ name: 'call', data: { i }, opts: jobOptions });
    await addAll(queue, jobs);
  }
  let done = 0;
  let finished;
  const all = new Promise((resolve) => { finished = resolve; });
  const started = Date.now();
  const workers = queues.map((queue) => new Worker(queue.name, async () => {
    done += 1;
    if (done === n) finished();
  }, { connection, prefix, concurrency }));
  await Promise.race([all, sleep(600000)]);
  const seconds = (Date.now() - started) / 1000;
  await Promise.all(workers.map((worker) => worker.close()));
  await Promise.all(queues.map((queue) => queue.obliterate({ force: true }).then(() => queue.close())));
  return { jobs: done, seconds, per_second: done / seconds };
}

// Jobs due at a steady R per second for S seconds (from 2 s on), delayed: processing time minus
// due time, in ms.
async function lateness() {
  const rate = option('rate', 10000);
  const seconds = option('seconds', 10);
  const concurrency = option('concurrency', 100);
  const nQueues = option('queues', 1);
  const queues = [...Array(nQueues).keys()].map((q) => new Queue(`l${q}`, { connection, prefix }));
  const n = rate * seconds;
  const start = Date.now() + 2000 + n / 50; // time to add them all first
  const perQueue = queues.map(() => []);
  for (let i = 0; i < n; i++) {
    const timestamp = Date.now();
    const due = start + Math.floor((i * 1000) / rate);
    perQueue[i % nQueues].push({
      name: 'call', data: { due }, opts: { ...jobOptions, timestamp, delay: due - timestamp },
    });
  }
  for (const [q, queue] of queues.entries()) await addAll(queue, perQueue[q]);
  const late = [];
  let finished;
  const all = new Promise((resolve) => { finished = resolve; });
  const workers = queues.map((queue) => new Worker(queue.name, async (job) => {
    late.push(Date.now() - job.data.due);
    if (late.length === n) finished();
  }, { connection, prefix, concurrency }));
  await Promise.race([all, sleep(start - Date.now() + seconds * 1000 + 60000)]);
  await Promise.all(workers.map((worker) => worker.close()));
  await Promise.all(queues.map((queue) => queue.obliterate({ force: true }).then(() => queue.close())));
  late.sort((a, b) => a - b);
  return {
    jobs: late.length, expected: n,
    p50_ms: percentile(late, 0.5), p99_ms: percentile(late, 0.99), max_ms: late[late.length - 1],
  };
}

// A steady stream of jobs; T times: pause the queue at a random moment, count the jobs that
// start after `pause()` resolved, resume.
async function pause() {
  const trials = option('trials', 50);
  const concurrency = option('concurrency', 100);
  const queue = new Queue('p', { connection, prefix });
  let pausedAt = null;
  let afterPause = 0;
  let started = 0;
  const worker = new Worker('p', async () => {
    started += 1;
    if (pausedAt !== null) afterPause += 1;
    await sleep(5);
  }, { connection, prefix, concurrency });
  const feed = async () => {
    const jobs = [];
    for (let i = 0; i < 2000; i++) jobs.push({ name: 'call', data: {}, opts: jobOptions });
    await addAll(queue, jobs);
  };
  await feed();
  const latencies = [];
  for (let trial = 0; trial < trials; trial++) {
    await sleep(20 + Math.random() * 80);
    const sent = process.hrtime.bigint();
    await queue.pause();
    latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
    pausedAt = Date.now();
    await sleep(100);
    pausedAt = null;
    await queue.resume();
    if ((await queue.count()) < 500) await feed();
  }
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  latencies.sort((a, b) => a - b);
  return {
    trials, jobs_started: started, started_after_pause: afterPause,
    pause_p50_ms: percentile(latencies, 0.5), pause_p99_ms: percentile(latencies, 0.99),
  };
}

const modes = { throughput, lateness, pause };
if (!modes[mode]) {
  console.error(`usage: node bench.js (${Object.keys(modes).join('|')}) [--port P] …`);
  process.exit(2);
}
modes[mode]().then((result) => {
  console.log(JSON.stringify({ peer: 'bullmq', mode, ...result }));
  process.exit(0);
}, (error) => {
  console.error(error);
  process.exit(1);
});
