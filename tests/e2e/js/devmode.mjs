// QSTASH_DEV=1: the JS SDK finds a dev server on QSTASH_DEV_PORT by its keys, publishes with
// its own dev credentials, and its dev-mode Receiver verifies the delivery. No URL, no token.
import http from "node:http";
import { once } from "node:events";
import { Client, Receiver } from "@upstash/qstash";

let delivered;
const arrived = new Promise((resolve) => (delivered = resolve));
const server = http.createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    response.end("ok");
    delivered({ signature: request.headers["upstash-signature"], body: Buffer.concat(chunks).toString() });
  });
});
server.listen(0, "127.0.0.1");
await once(server, "listening");
const url = `http://127.0.0.1:${server.address().port}/dev-mode`;

const published = await new Client().publishJSON({ url, body: { from: "dev-mode" } });
const delivery = await arrived;
server.close();
const verified = await new Receiver().verify({ signature: delivery.signature, body: delivery.body, url });
console.log(JSON.stringify({ published, verified, body: delivery.body }));
