// kafkajs over SASL_SSL, driven by the broker's security tests.
//
//   node kafkajs_secure.js <bootstrap> <topic> <n> <mechanism> <user> <password> <ca.pem>
//
// Produces n records, then consumes them in a group; prints "consumed <n>".
'use strict';
const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const [bootstrap, topic, n, mech, user, password, ca] = process.argv.slice(2);
  const count = Number(n);
  const kafka = new Kafka({
    clientId: 'kbroker-secure', brokers: [bootstrap], logLevel: logLevel.WARN,
    ssl: { ca: [fs.readFileSync(ca, 'utf-8')] },
    sasl: { mechanism: mech.toLowerCase(), username: user, password },
  });
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < count; i++) messages.push({ key: `k${i}`, value: `v${i}` });
  await producer.send({ topic, messages });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: 'secure-kjs' });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let got = 0;
  let resolveDone;
  const done = new Promise((resolve) => { resolveDone = resolve; });
  await consumer.run({ eachMessage: async () => { got++; if (got >= count) resolveDone(); } });
  const timer = setTimeout(() => { console.error(`consumed ${got} of ${count} after 90s`); process.exit(1); }, 90000);
  await done;
  clearTimeout(timer);
  await consumer.disconnect();
  console.log(`consumed ${got}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
