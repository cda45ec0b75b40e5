// Publish, read back and cancel with the official JS SDK, pointed at duetime by base URL only.
import { Client } from "@upstash/qstash";

const client = new Client({ token: process.env.QSTASH_TOKEN, baseUrl: process.env.QSTASH_URL });
const destination = process.env.DESTINATION;

const delivered = await client.publishJSON({ url: destination, body: { from: "js" }, delay: 1 });
const later = await client.publishJSON({ url: destination, body: { from: "js-later" }, delay: 3600 });
const readBack = await client.messages.get(later.messageId);
await client.messages.delete(later.messageId);
console.log(JSON.stringify({ delivered, later, readBack }));
