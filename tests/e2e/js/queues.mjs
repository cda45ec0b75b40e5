// Queues with the official JS SDK: upsert, get, list, pause, enqueue and enqueueJSON while
// paused, resume, and delete once drained.
import { Client } from "@upstash/qstash";

const client = new Client({ token: process.env.QSTASH_TOKEN, baseUrl: process.env.QSTASH_URL });
const destination = process.env.DESTINATION;
const queue = client.queue({ queueName: process.env.QUEUE });

await queue.upsert({ parallelism: 1 });
await queue.pause();
const paused = await queue.get();
const enqueued = [
  await queue.enqueue({ url: `${destination}/js-0`, body: "zero" }),
  await queue.enqueueJSON({ url: `${destination}/js-1`, body: { n: 1 } }),
  await queue.enqueue({ url: `${destination}/js-2`, body: "two" }),
];
const waiting = await queue.get();
const listed = (await queue.list()).map((q) => q.name);
await queue.resume();
let drained = await queue.get();
for (let i = 0; i < 200 && drained.lag > 0; i++) {
  await new Promise((resolve) => setTimeout(resolve, 50));
  drained = await queue.get();
}
await queue.delete();
let gone = null;
try {
  await queue.get();
} catch (error) {
  gone = String(error.message ?? error);
}
console.log(JSON.stringify({ paused, enqueued, waiting, listed, drained, gone }));
