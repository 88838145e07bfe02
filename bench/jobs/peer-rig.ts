// A job's messages over a bare broker (bare Aedes or Mosquitto), the floor fleetbind's job engine
// is compared with: the agent publishes the submit on the device's cmd topic, the device answers
// accepted and done on its ack topic, and the agent, subscribed there, sees the job end. Three
// publishes and three deliveries, with fleetbind's payloads, and no registry, queue or snapshot.
import { randomBytes } from 'node:crypto';
import { RawClient, splicer } from '../lib/raw-mqtt';
import { pool } from './fleet';
import { CmdTimes, type Ended, type JobRig } from './rig';

export async function peerRig(name: string, url: string, pid: number, devices: number, agents: number): Promise<JobRig> {
  const run = randomBytes(3).toString('hex');
  const ids = Array.from({ length: devices }, (_, i) => `peer-${run}-${i}`);
  const topic = (device: string, leaf: 'cmd' | 'ack'): string => `bench/${device}/${leaf}`;
  const cmds = new CmdTimes();
  const deviceClients = await pool(`${name}: connecting devices`, ids, 50, async (id) => {
    const c = await RawClient.connect(url, { clientId: id });
    const accepted = splicer(topic(id, 'ack'), '{"job":"', '","state":"accepted"}');
    const done = splicer(topic(id, 'ack'), '{"job":"', '","state":"done"}');
    c.onPublish = (_t, payload) => {
      const job = (JSON.parse(payload.toString('utf8')) as { id: string }).id;
      cmds.seen(job);
      c.write(Buffer.concat([accepted(job), done(job)]));
    };
    await c.subscribe([topic(id, 'cmd')]);
    return c;
  });
  const waiting = new Map<string, Ended>();
  const agentClients = await pool(
    `${name}: connecting agents`,
    Array.from({ length: agents }, (_, i) => i),
    20,
    async (i) => {
      const c = await RawClient.connect(url, { clientId: `peer-agent-${run}-${i}` });
      c.onPublish = (_t, payload) => {
        const at = performance.now();
        const ack = JSON.parse(payload.toString('utf8')) as { job: string; state: string };
        if (ack.state !== 'done') return;
        const w = waiting.get(ack.job);
        waiting.delete(ack.job);
        w?.('done', at, cmds.take(ack.job));
      };
      const mine = ids.filter((_, j) => j % agents === i);
      if (mine.length > 0) await c.subscribe(mine.map((d) => topic(d, 'ack')));
      return c;
    },
  );
  let seq = 0;
  const submitters = new Map(
    ids.map((device, j) => {
      const agent = agentClients[j % agents]!;
      const packet = splicer(topic(device, 'cmd'), '{"id":"', `","op":"submit","device":"${device}","kind":"identify","params":{"seconds":1}}`);
      return [
        device,
        (ended: Ended) => {
          const id = `p${++seq}`;
          waiting.set(id, ended);
          agent.write(packet(id));
        },
      ] as const;
    }),
  );
  return {
    name,
    pid,
    devices: ids,
    submit: (device, ended) => submitters.get(device)!(ended),
    close: async () => {
      await Promise.all([...deviceClients, ...agentClients].map((c) => c.end()));
    },
  };
}
