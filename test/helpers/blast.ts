// Many agent requests published at once, for the request rate limit tests.
import type { MqttClient } from 'mqtt';
import { agentTopic } from '../../protocol/topics';

/** Publishes n list requests at once and resolves with every answer, by request id. */
export function blast(client: MqttClient, agent: string, n: number, prefix: string): Promise<any[]> {
  const answers = new Map<string, any>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${answers.size} of ${n} answers within 60 s`)), 60_000);
    client.on('message', function onMessage(topic, payload) {
      if (topic !== agentTopic(agent, 'res')) return;
      const json = JSON.parse(payload.toString());
      if (typeof json.id !== 'string' || !json.id.startsWith(prefix)) return;
      answers.set(json.id, json);
      if (answers.size === n) {
        clearTimeout(timer);
        client.removeListener('message', onMessage);
        resolve([...answers.values()]);
      }
    });
    for (let i = 0; i < n; i++) client.publish(agentTopic(agent, 'req'), JSON.stringify({ id: `${prefix}${i}`, op: 'list' }), { qos: 0 });
  });
}
