// Schedules and the log with the official JS SDK: create (to a URL and to a queue), get,
// list, pause, resume and delete; logs and events filtered by message id.
import { Client } from "@upstash/qstash";

const client = new Client({ token: process.env.QSTASH_TOKEN, baseUrl: process.env.QSTASH_URL });
const destination = process.env.DESTINATION;

const { scheduleId } = await client.schedules.create({
  destination: `${destination}/cron`,
  cron: "0 9 * * 1",
  body: JSON.stringify({ weekly: true }),
  retries: 2,
});
const queued = await client.schedules.create({
  destination: `${destination}/queued`,
  cron: "0 9 * * 1",
  queueName: process.env.QUEUE,
});
const created = await client.schedules.get(scheduleId);
await client.schedules.pause({ schedule: scheduleId });
const paused = await client.schedules.get(scheduleId);
await client.schedules.resume({ schedule: scheduleId });
const resumed = await client.schedules.get(scheduleId);
const listed = (await client.schedules.list()).map((s) => s.scheduleId);
const queuedView = await client.schedules.get(queued.scheduleId);
await client.schedules.delete(scheduleId);
await client.schedules.delete(queued.scheduleId);
let gone = null;
try {
  await client.schedules.get(scheduleId);
} catch (error) {
  gone = String(error.message ?? error);
}

const published = await client.publishJSON({ url: `${destination}/logged`, body: { n: 1 } });
let logs = { logs: [] };
for (let i = 0; i < 100 && !logs.logs.some((l) => l.state === "DELIVERED"); i++) {
  await new Promise((resolve) => setTimeout(resolve, 50));
  logs = await client.logs({ filter: { messageId: published.messageId } });
}
const events = await client.events({ filter: { messageId: published.messageId } });
console.log(
  JSON.stringify({ scheduleId, created, paused, resumed, listed, queuedView, gone, published, logs, events }),
);
