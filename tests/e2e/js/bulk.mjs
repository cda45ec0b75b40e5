// Bulk forms of @upstash/qstash >= 2.9: cancel and DLQ delete/retry by ids, by (multi-value)
// filter and with { all: true }, looping on the cursor as the SDK's docs show.
import { Client } from "@upstash/qstash";

const client = new Client({ token: process.env.QSTASH_TOKEN, baseUrl: process.env.QSTASH_URL });
const ok = process.env.OK_URL;
const failing = process.env.FAIL_URL;

// Pending messages: cancel two by a two-valued url filter, then the rest with all: true.
for (const path of ["a", "b", "c"]) {
  await client.publish({ url: `${ok}/${path}`, body: path, delay: 3600 });
}
const byFilter = await client.messages.cancel({ filter: { url: [`${ok}/a`, `${ok}/b`] } });
const byAll = await client.messages.cancel({ all: true });

// Failed messages: three labelled ones that fail at once and land in the DLQ.
for (const label of ["red", "red", "blue"]) {
  await client.publish({ url: `${failing}/${label}`, body: label, retries: 0, label });
}
let listed = [];
for (let i = 0; i < 100 && listed.length < 3; i++) {
  await new Promise((r) => setTimeout(r, 100));
  listed = (await client.dlq.listMessages()).messages;
}
const retried = await client.dlq.retry({ filter: { label: "blue" } });
// The retry fails again (retries: 0) and comes back under its new id: wait for it.
let back = [];
for (let i = 0; i < 100 && !back.some((m) => m.messageId === retried.responses[0]?.messageId); i++) {
  await new Promise((r) => setTimeout(r, 100));
  back = (await client.dlq.listMessages()).messages;
}
let deleted = 0;
let cursor;
do {
  const page = await client.dlq.delete({ all: true, count: 1, cursor });
  deleted += page.deleted;
  cursor = page.cursor;
} while (cursor);
const left = (await client.dlq.listMessages()).messages.length;

// The older spellings: messages.deleteMany / deleteAll and dlq.deleteMany.
const pending = [];
for (const path of ["d", "e", "f"]) {
  pending.push((await client.publish({ url: `${ok}/${path}`, body: path, delay: 3600 })).messageId);
}
const deletedMany = await client.messages.deleteMany(pending.slice(0, 2));
const deletedAll = await client.messages.deleteAll();
for (const label of ["old-1", "old-2"]) {
  await client.publish({ url: `${failing}/${label}`, body: label, retries: 0, label });
}
let dead = [];
for (let i = 0; i < 100 && dead.length < 2; i++) {
  await new Promise((r) => setTimeout(r, 100));
  dead = (await client.dlq.listMessages()).messages;
}
const dlqDeletedMany = await client.dlq.deleteMany({ dlqIds: dead.map((m) => m.dlqId) });
console.log(
  JSON.stringify({
    byFilter, byAll, listed: listed.length, retried, back: back.length, deleted, left,
    deletedMany, deletedAll, dlqDeletedMany,
  }),
);
