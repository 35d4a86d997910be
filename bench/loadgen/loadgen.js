#!/usr/bin/env node
// Load generator for `make bench` (bench/run.py drives it; it can run alone too).
//
//   node loadgen.js fanout  --target product|socketio|channels --port P --seed FILE
//                           [--rates 5,10,25,...] [--warmup 3] [--duration 10] [--drain 10]
//                           [--p99-limit 2000] [--connect-concurrency 50] [--connect-timeout 120]
//   node loadgen.js connect --port P --seed FILE [--count 1000] [--concurrency 100] [--time-limit 60]
//   node loadgen.js idle    --port P --seed FILE --count N [--concurrency 100] [--time-limit 150]
//                           [--hold 120]
//   node loadgen.js http    --port P --plan FILE [--concurrency 1] (--duration S | --count N)
//                           [--warmup S] [--timeout 30] [--fresh-connections]
//
// The seed FILE is what `manage.py seed_bench` writes: {host, rooms: [channelId],
// members: [{email, room, token}]}. Every socket goes to 127.0.0.1; the product gets the
// tenant's Host header. Results: one JSON object on stdout (idle: a `ready` line first,
// then the result once stdin closes, SIGTERM arrives or --hold runs out). Progress: stderr.
"use strict";

const fs = require("fs");
const http = require("http");
const { performance } = require("perf_hooks");
const WebSocket = require("ws");

// --- arguments and small helpers ------------------------------------------------------------

function parseArgs(argv) {
  const [command, ...rest] = argv;
  const opts = {};
  for (let i = 0; i < rest.length; i++) {
    const key = rest[i];
    if (!key.startsWith("--")) throw new Error(`unexpected argument ${key}`);
    const name = key.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const next = rest[i + 1];
    if (next === undefined || next.startsWith("--")) opts[name] = true;
    else {
      opts[name] = next;
      i++;
    }
  }
  return { command, opts };
}

function num(opts, name, fallback) {
  if (opts[name] === undefined) {
    if (fallback === undefined) throw new Error(`--${name} is required`);
    return fallback;
  }
  const value = Number(opts[name]);
  if (!Number.isFinite(value)) throw new Error(`--${name} must be a number`);
  return value;
}

const log = (...parts) => process.stderr.write(`[loadgen ${new Date().toISOString().slice(11, 19)}] ${parts.join(" ")}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.now();
const round = (x, digits = 1) => (x === null || x === undefined ? null : Number(x.toFixed(digits)));

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function latencySummary(samples) {
  const sorted = Float64Array.from(samples).sort();
  return {
    n: sorted.length,
    p50_ms: round(percentile(sorted, 50), 2),
    p95_ms: round(percentile(sorted, 95), 2),
    p99_ms: round(percentile(sorted, 99), 2),
    max_ms: round(sorted.length ? sorted[sorted.length - 1] : null, 2),
  };
}

function bump(counter, key) {
  counter[key] = (counter[key] || 0) + 1;
}

function loadSeed(path) {
  const seed = JSON.parse(fs.readFileSync(path, "utf8"));
  if (!Array.isArray(seed.rooms) || !Array.isArray(seed.members) || !seed.members.length) {
    throw new Error(`${path} is not a seed_bench file (rooms, members)`);
  }
  return seed;
}

// Runs `task(i)` for i in [0, count) with at most `concurrency` in flight; stops starting new
// ones after `deadline` (performance.now() ms). Returns the settled results in order.
async function pool(count, concurrency, deadline, task) {
  const results = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count && now() < deadline) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await task(i) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

// --- one client per protocol -------------------------------------------------------------------
//
// open(member, hooks) resolves to {send(content), close()} once the socket has joined its room;
// hooks.onContent(content) is called for every chat message delivered to it, hooks.onError(code)
// for every error frame, hooks.onClose(code) when it closes after joining.

function productClient({ port, host, timeoutMs }) {
  let refs = 0;
  return (member, roomId, hooks) =>
    new Promise((resolve, reject) => {
      const url = `ws://127.0.0.1:${port}/ws/chat/?token=${encodeURIComponent(member.token)}`;
      const ws = new WebSocket(url, { headers: { Host: host }, handshakeTimeout: timeoutMs });
      const ref = ++refs;
      let joined = false;
      const timer = setTimeout(() => {
        if (!joined) {
          ws.terminate();
          reject(new Error("join timed out"));
        }
      }, timeoutMs);
      ws.on("open", () => {
        ws.send(JSON.stringify({ event: "join_channel", data: { channelId: roomId }, ref }));
      });
      ws.on("message", (raw) => {
        const text = raw.toString();
        if (!joined) {
          let frame;
          try {
            frame = JSON.parse(text);
          } catch {
            return;
          }
          if (frame.event === "joined") {
            joined = true;
            clearTimeout(timer);
            resolve({
              send(content) {
                ws.send(JSON.stringify({ event: "send_message", data: { channelId: roomId, content } }));
              },
              close() {
                ws.terminate();
              },
              isOpen: () => ws.readyState === WebSocket.OPEN,
            });
          } else if (frame.event === "error") {
            const code = frame.data && frame.data.code;
            const retryAfter = frame.data && frame.data.retryAfter;
            if ((code === "server_busy" || code === "rate_limited") && retryAfter !== undefined) {
              // A well-behaved client: join again after the time the server asked for.
              const waitMs = retryAfter * 1000 * (1 + Math.random());
              setTimeout(() => {
                if (!joined && ws.readyState === WebSocket.OPEN)
                  ws.send(JSON.stringify({ event: "join_channel", data: { channelId: roomId }, ref }));
              }, waitMs);
              return;
            }
            clearTimeout(timer);
            ws.terminate();
            reject(new Error(`join answered error ${code}`));
          }
          return;
        }
        // Only new_message and error frames matter; skip the rest without parsing.
        if (text.includes('"new_message"')) {
          const frame = JSON.parse(text);
          if (frame.event === "new_message" && frame.data) hooks.onContent(frame.data.content);
          else if (frame.event === "error") hooks.onError(frame.data && frame.data.code);
        } else if (text.includes('"error"')) {
          const frame = JSON.parse(text);
          if (frame.event === "error") hooks.onError((frame.data && frame.data.code) || "unknown");
        }
      });
      ws.on("close", (code) => {
        clearTimeout(timer);
        if (!joined) reject(new Error(`closed before joining (code ${code})`));
        else hooks.onClose(code);
      });
      ws.on("error", (error) => {
        if (!joined) {
          clearTimeout(timer);
          reject(error);
        }
      });
    });
}

function channelsClient({ port, timeoutMs }) {
  return (member, roomId, hooks) =>
    new Promise((resolve, reject) => {
      // The tutorial's route: the room is in the path, joined on connect.
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/chat/${roomId}/`, { handshakeTimeout: timeoutMs });
      let open = false;
      ws.on("open", () => {
        open = true;
        resolve({
          send: (content) => ws.send(JSON.stringify({ message: content })),
          close: () => ws.terminate(),
          isOpen: () => ws.readyState === WebSocket.OPEN,
        });
      });
      ws.on("message", (raw) => {
        const frame = JSON.parse(raw.toString());
        if (frame.message !== undefined) hooks.onContent(frame.message);
        else if (frame.error) hooks.onError(frame.error);
      });
      ws.on("close", (code) => (open ? hooks.onClose(code) : reject(new Error(`closed (code ${code})`))));
      ws.on("error", (error) => {
        if (!open) reject(error);
      });
    });
}

function socketioClient({ port, timeoutMs }) {
  const { io } = require("socket.io-client");
  return (member, roomId, hooks) =>
    new Promise((resolve, reject) => {
      const socket = io(`http://127.0.0.1:${port}`, {
        transports: ["websocket"],
        forceNew: true,
        reconnection: false,
        timeout: timeoutMs,
      });
      let joined = false;
      const timer = setTimeout(() => {
        if (!joined) {
          socket.close();
          reject(new Error("join timed out"));
        }
      }, timeoutMs);
      socket.on("connect", () => {
        socket.emit("join", roomId, () => {
          joined = true;
          clearTimeout(timer);
          resolve({
            send: (content) => socket.emit("message", { room: roomId, content }),
            close: () => socket.close(),
            isOpen: () => socket.connected,
          });
        });
      });
      socket.on("message", (message) => hooks.onContent(message && message.content));
      socket.on("connect_error", (error) => {
        clearTimeout(timer);
        if (!joined) reject(error);
      });
      socket.on("disconnect", (reason) => (joined ? hooks.onClose(reason) : undefined));
    });
}

function clientFor(target, opts, seed) {
  const settings = { port: num(opts, "port"), host: opts.host || seed.host, timeoutMs: num(opts, "joinTimeout", 30) * 1000 };
  if (target === "product") return productClient(settings);
  if (target === "channels") return channelsClient(settings);
  if (target === "socketio") return socketioClient(settings);
  throw new Error(`unknown --target ${target} (product, socketio, channels)`);
}

// Opens one socket per seed member (or `count` sockets cycling over the members), joined.
async function openSockets({ open, seed, count, concurrency, deadlineMs, hooks }) {
  const started = now();
  const deadline = started + deadlineMs;
  let done = 0;
  const progress = setInterval(() => log(`  ${done}/${count} sockets joined`), 5000);
  const results = await pool(count, concurrency, deadline, async (i) => {
    const member = seed.members[i % seed.members.length];
    const conn = await open(member, seed.rooms[member.room], hooks(i, member));
    done++;
    return { conn, member, index: i };
  });
  clearInterval(progress);
  const elapsed = (now() - started) / 1000;
  const opened = results.filter((r) => r && r.ok).map((r) => r.value);
  const failures = {};
  for (const r of results) {
    if (!r) bump(failures, "not started (time limit)");
    else if (!r.ok) bump(failures, String(r.error && r.error.message).slice(0, 80));
  }
  return { opened, failures, elapsedS: elapsed };
}

// --- fan-out -------------------------------------------------------------------------------------

async function fanout(opts) {
  const seed = loadSeed(opts.seed);
  const target = opts.target || "product";
  const open = clientFor(target, opts, seed);
  const rates = String(opts.rates || "5,10,25,50,100,200,400,800,1600").split(",").map(Number);
  const warmupS = num(opts, "warmup", 3);
  const durationS = num(opts, "duration", 10);
  const drainS = num(opts, "drain", 10);
  const p99Limit = num(opts, "p99Limit", 2000);
  const membersPerRoom = {};
  for (const m of seed.members) membersPerRoom[m.room] = (membersPerRoom[m.room] || 0) + 1;

  // Per-step bookkeeping, reset at each step.
  let step = null;
  let closing = false;
  const totals = { errors: {}, closes: {}, stray: 0 };
  const hooks = () => ({
    onContent(content) {
      const at = now();
      const [idText, sentText] = String(content).split("|", 2);
      const id = Number(idText);
      if (!step || !(id >= step.firstId) || id > step.lastId) {
        totals.stray++; // warm-up messages, or a step's late stragglers
        if (step && at >= step.windowStart && at < step.windowEnd) step.windowDeliveries++;
        return;
      }
      const seen = step.received.get(id);
      if (seen === undefined) return; // a message this step did not send
      step.received.set(id, seen + 1);
      if (seen + 1 > step.expected.get(id)) step.duplicates++;
      else {
        step.delivered++;
        step.latencies.push(at - Number(sentText));
      }
      if (at >= step.windowStart && at < step.windowEnd) step.windowDeliveries++;
    },
    onError(code) {
      bump(totals.errors, code);
      if (step) bump(step.errors, code);
    },
    onClose(code) {
      if (closing) return;
      bump(totals.closes, code);
      if (step) bump(step.closes, code);
    },
  });

  log(`${target}: opening ${seed.members.length} sockets over ${seed.rooms.length} rooms`);
  const { opened, failures, elapsedS } = await openSockets({
    open,
    seed,
    count: seed.members.length,
    concurrency: num(opts, "connectConcurrency", 50),
    deadlineMs: num(opts, "connectTimeout", 120) * 1000,
    hooks,
  });
  const result = {
    target,
    rooms: seed.rooms.length,
    members: seed.members.length,
    connectS: round(elapsedS, 2),
    config: { rates, warmupS, durationS, drainS, p99LimitMs: p99Limit, senderCopyCounted: true },
    steps: [],
    errors: totals.errors,
    closes: totals.closes,
  };
  if (opened.length < seed.members.length) {
    result.failure = `only ${opened.length}/${seed.members.length} sockets joined: ${JSON.stringify(failures)}`;
    log(result.failure);
    closing = true;
    for (const s of opened) s.conn.close();
    return result;
  }
  log(`${target}: ${opened.length} sockets joined in ${elapsedS.toFixed(1)} s`);

  // Senders round-robin over every socket, interleaved by room (r0m0, r1m0, ..., r0m1, ...).
  const byRoom = {};
  for (const s of opened) (byRoom[s.member.room] = byRoom[s.member.room] || []).push(s);
  const roomKeys = Object.keys(byRoom);
  const order = [];
  for (let j = 0; ; j++) {
    let any = false;
    for (const r of roomKeys) {
      if (j < byRoom[r].length) {
        order.push(byRoom[r][j]);
        any = true;
      }
    }
    if (!any) break;
  }
  let cursor = 0;
  let nextId = 1;

  function sendOne(record) {
    let s = null;
    for (let tries = 0; tries < order.length; tries++) {
      const candidate = order[cursor++ % order.length];
      if (candidate.conn.isOpen()) {
        s = candidate;
        break;
      }
    }
    if (!s) return false;
    const id = nextId++;
    if (record) {
      step.received.set(id, 0);
      step.expected.set(id, membersPerRoom[s.member.room]);
      step.lastId = id;
      step.sent++;
    }
    s.conn.send(`${id}|${now().toFixed(3)}|bench`);
    return true;
  }

  // Sends at `rate` msgs/s for `seconds`, catching up on timer lag.
  function paced(rate, seconds, record) {
    return new Promise((resolve) => {
      const start = now();
      const total = Math.round(rate * seconds);
      let sent = 0;
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor(((now() - start) / 1000) * rate));
        while (sent < due) {
          sendOne(record);
          sent++;
        }
        if (sent >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 2);
    });
  }

  for (const rate of rates) {
    step = {
      rate,
      firstId: Infinity,
      lastId: -1,
      sent: 0,
      received: new Map(),
      expected: new Map(),
      delivered: 0,
      duplicates: 0,
      latencies: [],
      errors: {},
      closes: {},
      windowStart: Infinity,
      windowEnd: Infinity,
      windowDeliveries: 0,
    };
    const cpuBefore = process.cpuUsage();
    await paced(rate, warmupS, false);
    step.firstId = nextId;
    step.windowStart = now();
    step.windowEnd = step.windowStart + durationS * 1000;
    await paced(rate, durationS, true);
    const sendEnd = now();
    const expectedTotal = [...step.expected.values()].reduce((a, b) => a + b, 0);
    while (step.delivered < expectedTotal && now() - sendEnd < drainS * 1000) await sleep(20);
    const drainMs = now() - sendEnd;
    const cpu = process.cpuUsage(cpuBefore);
    const lat = latencySummary(step.latencies);
    const lost = expectedTotal - step.delivered;
    const summary = {
      rate,
      sent: step.sent,
      expected: expectedTotal,
      delivered: step.delivered,
      lost,
      duplicates: step.duplicates,
      deliveries_per_s: round(step.delivered / durationS, 1),
      received_in_window_per_s: round(step.windowDeliveries / durationS, 1),
      ...lat,
      drain_ms: round(drainMs, 0),
      errors: step.errors,
      closes: step.closes,
      loadgen_cpu_pct: round(((cpu.user + cpu.system) / 1000 / (now() - step.windowStart + warmupS * 1000)) * 100, 0),
    };
    const reasons = [];
    if (lost > 0) reasons.push(`lost ${lost} of ${expectedTotal}`);
    if (lat.p99_ms === null || lat.p99_ms > p99Limit) reasons.push(`p99 ${lat.p99_ms} ms`);
    if (Object.keys(step.closes).length) reasons.push(`sockets closed ${JSON.stringify(step.closes)}`);
    summary.ok = reasons.length === 0;
    if (!summary.ok) summary.reason = reasons.join(", ");
    result.steps.push(summary);
    log(
      `${target} ${rate} msgs/s: ${summary.deliveries_per_s} deliveries/s, p50 ${lat.p50_ms} p99 ${lat.p99_ms} ms, ` +
        `lost ${lost}, errors ${JSON.stringify(step.errors)}${summary.ok ? "" : ` -> stop (${summary.reason})`}`
    );
    if (!summary.ok) break;
    await sleep(500);
  }
  step = null;
  const passed = result.steps.filter((s) => s.ok);
  const best = passed.reduce((a, s) => (a && a.deliveries_per_s >= s.deliveries_per_s ? a : s), null);
  result.best = best ? { rate: best.rate, deliveries_per_s: best.deliveries_per_s } : null;
  const failed = result.steps.find((s) => !s.ok);
  result.stoppedAt = failed ? { rate: failed.rate, reason: failed.reason } : null;
  closing = true;
  for (const s of opened) s.conn.close();
  return result;
}

// --- connects and idle sockets ----------------------------------------------------------------------

async function connect(opts) {
  const seed = loadSeed(opts.seed);
  const open = clientFor(opts.target || "product", opts, seed);
  const count = num(opts, "count", 1000);
  const concurrency = num(opts, "concurrency", 100);
  const counters = { errors: {}, closes: {} };
  const hooks = () => ({
    onContent() {},
    onError: (code) => bump(counters.errors, code),
    onClose: (code) => bump(counters.closes, code),
  });
  log(`connect: ${count} sockets, ${concurrency} at a time`);
  const { opened, failures, elapsedS } = await openSockets({
    open,
    seed,
    count,
    concurrency,
    deadlineMs: num(opts, "timeLimit", 60) * 1000,
    hooks,
  });
  for (const s of opened) s.conn.close();
  const result = {
    requested: count,
    concurrency,
    joined: opened.length,
    failures,
    elapsed_s: round(elapsedS, 2),
    connects_per_s: round(opened.length / elapsedS, 1),
    errors: counters.errors,
  };
  log(`connect: ${opened.length}/${count} joined in ${elapsedS.toFixed(2)} s -> ${result.connects_per_s}/s`);
  return result;
}

async function idle(opts) {
  const seed = loadSeed(opts.seed);
  const open = clientFor(opts.target || "product", opts, seed);
  const count = num(opts, "count");
  const counters = { errors: {}, closes: {} };
  const hooks = () => ({
    onContent() {},
    onError: (code) => bump(counters.errors, code),
    onClose: (code) => bump(counters.closes, code),
  });
  log(`idle: opening ${count} sockets`);
  const { opened, failures, elapsedS } = await openSockets({
    open,
    seed,
    count,
    concurrency: num(opts, "concurrency", 100),
    deadlineMs: num(opts, "timeLimit", 150) * 1000,
    hooks,
  });
  process.stdout.write(JSON.stringify({ ready: true, joined: opened.length, failures, elapsed_s: round(elapsedS, 2) }) + "\n");
  log(`idle: ${opened.length}/${count} joined in ${elapsedS.toFixed(1)} s; holding`);
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, num(opts, "hold", 120) * 1000);
    process.stdin.on("data", () => {}); // a line or EOF on stdin ends the hold
    process.stdin.on("end", resolve);
    process.stdin.on("close", resolve);
    process.on("SIGTERM", resolve);
    process.stdin.resume();
    timer.unref();
  });
  const stillOpen = opened.filter((s) => s.conn.isOpen()).length;
  for (const s of opened) s.conn.close();
  return { requested: count, joined: opened.length, still_open: stillOpen, failures, errors: counters.errors, closes: counters.closes };
}

// --- HTTP -----------------------------------------------------------------------------------------
//
// The plan: {"requests": [{"method", "path", "host", "token"?, "body"?}, ...]}. Worker w (of
// --concurrency) sends requests[w % n], then requests[(w + concurrency) % n], ... on its own
// keep-alive connection (or a new connection per request with --fresh-connections).

function request(agent, port, spec, timeoutMs) {
  return new Promise((resolve) => {
    const body = spec.body === undefined ? null : Buffer.from(JSON.stringify(spec.body));
    const headers = { Host: spec.host, Accept: "application/json" };
    if (spec.token) headers.Authorization = `Bearer ${spec.token}`;
    if (body) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = body.length;
    }
    const started = now();
    const req = http.request({ host: "127.0.0.1", port, method: spec.method || "GET", path: spec.path, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, ms: now() - started, body: Buffer.concat(chunks) }));
      res.on("error", () => resolve({ status: "error", ms: now() - started }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
    req.on("error", (error) => resolve({ status: error.message === "timeout" ? "timeout" : "error", ms: now() - started, error: error.message }));
    if (body) req.write(body);
    req.end();
  });
}

async function httpLoad(opts) {
  const plan = JSON.parse(fs.readFileSync(opts.plan, "utf8"));
  const specs = plan.requests;
  if (!Array.isArray(specs) || !specs.length) throw new Error(`${opts.plan} has no requests`);
  const port = num(opts, "port");
  const concurrency = num(opts, "concurrency", 1);
  const timeoutMs = num(opts, "timeout", 30) * 1000;
  const fresh = Boolean(opts.freshConnections);
  const durationS = opts.duration === undefined ? null : num(opts, "duration");
  const count = opts.count === undefined ? null : num(opts, "count");
  if ((durationS === null) === (count === null)) throw new Error("give one of --duration and --count");
  const warmupS = num(opts, "warmup", 0);

  async function run(seconds, total, record) {
    const statuses = {};
    const latencies = [];
    let issued = 0;
    let firstFailure = null;
    const started = now();
    const deadline = seconds === null ? Infinity : started + seconds * 1000;
    async function worker(w) {
      const agent = fresh ? new http.Agent({ keepAlive: false }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let k = 0; now() < deadline && (total === null || issued < total); k++) {
        issued++;
        const spec = specs[(w + k * concurrency) % specs.length];
        const r = await request(agent, port, spec, timeoutMs);
        if (!record) continue;
        bump(statuses, r.status);
        if (typeof r.status === "number" && r.status >= 200 && r.status < 300) latencies.push(r.ms);
        else if (!firstFailure) firstFailure = `${r.status} ${spec.method || "GET"} ${spec.path}: ${(r.body || r.error || "").toString().slice(0, 200)}`;
      }
      agent.destroy();
    }
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
    return { statuses, latencies, elapsedS: (now() - started) / 1000, firstFailure };
  }

  if (warmupS > 0) await run(warmupS, null, false);
  const { statuses, latencies, elapsedS, firstFailure } = await run(durationS, count, true);
  const total = Object.values(statuses).reduce((a, b) => a + b, 0);
  const ok = latencies.length;
  const result = {
    concurrency,
    requests: total,
    ok,
    not_ok: total - ok,
    statuses,
    elapsed_s: round(elapsedS, 2),
    ok_per_s: round(ok / elapsedS, 1),
    ...latencySummary(latencies),
  };
  if (firstFailure) result.first_failure = firstFailure;
  log(`http ${specs[0].method || "GET"} ${specs[0].path.split("?")[0]}: ${ok}/${total} ok, p95 ${result.p95_ms} ms, ${result.ok_per_s}/s`);
  return result;
}

// --- main -------------------------------------------------------------------------------------------

async function main() {
  const { command, opts } = parseArgs(process.argv.slice(2));
  const commands = { fanout, connect, idle, http: httpLoad };
  if (!commands[command]) {
    process.stderr.write(fs.readFileSync(__filename, "utf8").split("\n").slice(1, 17).join("\n") + "\n");
    process.exit(2);
  }
  const result = await commands[command](opts);
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}

main().catch((error) => {
  log(`failed: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
