// The adapter contract in another language: Node 18+ and its built-in fetch, no packages.
// node conformance/adapters/node_fetch.mjs  (reads DASHSCOPE_CONFORMANCE_JOB, prints a JSON array)
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

const base = (process.env.DASHSCOPE_HTTP_BASE_URL || "https://dashscope.aliyuncs.com/api/v1").replace(/\/$/, "");
const key = process.env.DASHSCOPE_API_KEY || "";
const job = JSON.parse(process.env.DASHSCOPE_CONFORMANCE_JOB);
const ROUTE = "/services/aigc/text2image/image-synthesis"; // wanx-v1 and the other text-to-image models
const FINAL = ["SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"];
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const result = (task_id, status, extra = {}) =>
  ({ task_id, status, urls: [], files: [], failed: [], error: null, ...extra });

class Stop extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// One request; refusals (429, 503, no connection) are retried with jittered backoff; an idempotent
// request also on 5xx and resets. A submit whose outcome is unknown is never sent again.
async function send(method, path, deadline, { body, idempotent = false, attempts = 6 } = {}) {
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Stop("TIMEOUT", "Timeout", `${method} ${path}: no time left`);
    let answer;
    try {  // the body is read here too: a reset or cut answer fails this request, not a later read
      const response = await fetch(base + path, {
        method, body: body && JSON.stringify(body), signal: AbortSignal.timeout(Math.min(left, 30000)),
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json",
                   ...(body ? { "X-DashScope-Async": "enable" } : {}) },
      });
      answer = { status: response.status, text: await response.text() };
    } catch (error) {
      if (!idempotent) throw new Stop("ERROR", "OutcomeUnknown", `${method} ${path}: ${error.cause?.code || error.name}`);
    }
    const retry = answer ? [429, 503].includes(answer.status) || (idempotent && answer.status >= 500) : true;
    if (answer && (!retry || attempt >= attempts)) return answer;
    if (attempt >= attempts) throw new Stop("ERROR", "RetriesExhausted", `${method} ${path}`);
    const ceiling = Math.min(8000, 2000 * 2 ** (attempt - 1));
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    if (delay >= deadline - Date.now()) throw new Stop("TIMEOUT", "Timeout", `${method} ${path}: no time to retry`);
    await sleep(delay);
  }
}

function errorOf(answer) {
  try { const body = JSON.parse(answer.text); return { code: String(body.code), message: String(body.message ?? "") }; }
  catch { return { code: `HTTP${answer.status}`, message: answer.text.slice(0, 200) }; }
}

async function submit(deadline) {
  const answer = await send("POST", ROUTE, deadline, { body: { model: job.model, input: job.input, parameters: job.parameters } });
  if (answer.status !== 200) { const e = errorOf(answer); throw new Stop("ERROR", e.code, e.message); }
  return JSON.parse(answer.text).output.task_id;
}

async function status(taskId, deadline) {
  const answer = await send("GET", `/tasks/${taskId}`, deadline, { idempotent: true, attempts: 10 });
  if (answer.status !== 200) { const e = errorOf(answer); throw new Stop("ERROR", e.code, e.message); }
  return JSON.parse(answer.text).output;
}

async function download(url, index, out) {
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const answer = await fetch(url, { signal: AbortSignal.timeout(30000) });
      if (answer.ok) {
        const file = join(out, basename(new URL(url).pathname));
        writeFileSync(file, Buffer.from(await answer.arrayBuffer()));
        return { file };
      }
      if (answer.status < 500) return { failure: { index, code: `Download.HTTP${answer.status}`, message: (await answer.text()).slice(0, 200) } };
    } catch (error) {
      if (attempt === 3) return { failure: { index, code: "DownloadFailed", message: String(error.cause?.code || error) } };
    }
    await sleep(500 * attempt);
  }
  return { failure: { index, code: "DownloadFailed", message: "gave up" } };
}

async function generate() {
  const deadline = Date.now() + job.timeout_seconds * 1000;
  let taskId = null;
  try {
    taskId = await submit(deadline);
    let interval = 1000;
    for (;;) {
      if (interval >= deadline - Date.now()) throw new Stop("TIMEOUT", "Timeout", `task ${taskId} not finished in time`);
      await sleep(interval);
      const output = await status(taskId, deadline);
      if (output.task_status === "SUCCEEDED") return await collect(taskId, output);
      if (FINAL.includes(output.task_status)) {
        return result(taskId, output.task_status, { error: output.code ? { code: output.code, message: output.message ?? "" } : null });
      }
      interval = Math.min(5000, interval * 1.5);
    }
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    return result(taskId, error.status, { error: { code: error.code, message: error.message } });
  }
}

async function collect(taskId, output) {
  const urls = [], files = [], failed = [];
  if (job.out_dir) mkdirSync(job.out_dir, { recursive: true });
  for (const [index, item] of (output.results || []).entries()) {
    if (!item.url) { failed.push({ index, code: item.code, message: item.message }); continue; }
    urls.push(item.url);
    if (!job.out_dir) continue;
    const got = await download(item.url, index, job.out_dir);
    if (got.file) files.push(got.file); else failed.push(got.failure);
  }
  failed.sort((a, b) => a.index - b.index);
  return result(taskId, "SUCCEEDED", { urls, files, failed });
}

async function cancel() {
  const deadline = Date.now() + job.timeout_seconds * 1000;
  let taskId = null;
  try {
    taskId = await submit(deadline);
    const answer = await send("POST", `/tasks/${taskId}/cancel`, deadline);
    const refusal = answer.status === 200 ? null : errorOf(answer);
    return result(taskId, (await status(taskId, deadline)).task_status, { error: refusal });
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    return result(taskId, error.status, { error: { code: error.code, message: error.message } });
  }
}

const run = job.action === "cancel" ? cancel : generate;
const results = await Promise.all(Array.from({ length: job.tasks || 1 }, run));
console.log(JSON.stringify(results));
