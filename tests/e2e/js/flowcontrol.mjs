// Flow control with the official JS SDK: publish under a key, read it back, pause, resume,
// pin, unpin, resetRate and the global parallelism.
import { Client } from "@upstash/qstash";

const client = new Client({ token: process.env.QSTASH_TOKEN, baseUrl: process.env.QSTASH_URL });
const destination = process.env.DESTINATION;
const key = process.env.KEY;
const flowControl = { key, parallelism: 1, rate: 10, period: "1m" };

const published = [];
for (const n of [0, 1, 2]) {
  published.push(await client.publishJSON({ url: `${destination}/js-${n}`, body: { n }, flowControl }));
}
const message = await client.messages.get(published[0].messageId);
await client.flowControl.pause(key);
const paused = await client.flowControl.get(key);
await client.flowControl.resume(key);
await client.flowControl.pin(key, { parallelism: 2 });
const pinned = await client.flowControl.get(key);
await client.flowControl.unpin(key, { parallelism: true });
const resetAt = Date.now();
await client.flowControl.resetRate(key);
const reset = await client.flowControl.get(key);
const overall = await client.flowControl.getGlobalParallelism();
console.log(JSON.stringify({ published, message, paused, pinned, reset, resetAt, overall }));
