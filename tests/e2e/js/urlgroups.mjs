// URL groups with the official JS SDK: add, get, list, publish to the group, remove, delete.
import { Client } from "@upstash/qstash";

const client = new Client({ token: process.env.QSTASH_TOKEN, baseUrl: process.env.QSTASH_URL });
const destination = process.env.DESTINATION;
const name = process.env.GROUP;

await client.urlGroups.addEndpoints({
  name,
  endpoints: [{ url: `${destination}/js-1`, name: "first" }, { url: `${destination}/js-2` }],
});
const group = await client.urlGroups.get(name);
const listed = (await client.urlGroups.list()).map((g) => g.name);
const published = await client.publishJSON({ urlGroup: name, body: { via: "js" } });
await client.urlGroups.removeEndpoints({ name, endpoints: [{ name: "first" }] });
const after = await client.urlGroups.get(name);
await client.urlGroups.delete(name);
let gone = null;
try {
  await client.urlGroups.get(name);
} catch (error) {
  gone = String(error.message ?? error);
}
console.log(JSON.stringify({ group, listed, published, after, gone }));
