// kafkajs driven by the broker's compatibility suite.
//
//   node kafkajs_client.js produce <bootstrap> <topic> <n>
//       Produces key-%04d/value-%04d for i in 0..n-1 in one send (acks=-1,
//       no compression: the defaults).
//   node kafkajs_client.js consume <bootstrap> <topic> <n> <group>
//       Joins <group> (fromBeginning, the default READ_COMMITTED isolation)
//       until n records arrived, prints one JSON object per record, then
//       disconnects (committing the offsets).
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const pad = (i) => String(i).padStart(4, '0');

async function produce(kafka, topic, n) {
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < n; i++) messages.push({ key: `key-${pad(i)}`, value: `value-${pad(i)}` });
  await producer.send({ topic, messages });
  await producer.disconnect();
}

async function consume(kafka, topic, n, group) {
  const consumer = kafka.consumer({ groupId: group });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let got = 0;
  let resolveDone;
  const done = new Promise((resolve) => { resolveDone = resolve; });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      process.stdout.write(JSON.stringify({
        partition, offset: Number(message.offset), key: message.key.toString(), value: message.value.toString(),
      }) + '\n');
      got++;
      if (got >= n) resolveDone();
    },
  });
  const timer = setTimeout(() => { console.error(`consume: ${got} of ${n} records after 90s`); process.exit(1); }, 90000);
  await done;
  clearTimeout(timer);
  await consumer.disconnect();
}

async function main() {
  const [cmd, bootstrap, topic, n, group] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: 'kbroker-compat', brokers: [bootstrap], logLevel: logLevel.WARN });
  if (cmd === 'produce') await produce(kafka, topic, Number(n));
  else if (cmd === 'consume') await consume(kafka, topic, Number(n), group);
  else throw new Error(`unknown command ${cmd}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
