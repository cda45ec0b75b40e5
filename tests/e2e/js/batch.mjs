// batch and batchJSON with the official JS SDK: the answers line up with the input.
import { Client } from "@upstash/qstash";

const client = new Client({ token: process.env.QSTASH_TOKEN, baseUrl: process.env.QSTASH_URL });
const destination = process.env.DESTINATION;

const json = await client.batchJSON([
  { url: `${destination}/json-1`, body: { n: 1 } },
  { url: `${destination}/json-2`, body: { n: 2 }, headers: { "X-Tag": "two" } },
]);
const raw = await client.batch([{ url: `${destination}/raw`, body: "plain text", method: "PUT" }]);
let refused = null;
try {
  await client.batch([{ url: `${destination}/bad`, body: "x", method: "BREW" }]);
} catch (error) {
  refused = String(error.message ?? error);
}
console.log(JSON.stringify({ json, raw, refused }));
