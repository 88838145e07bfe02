// A fleet under test: one broker node or a cluster. Scenario code is written once against this
// interface and run against every topology (docs/architecture.md, Testing approach).
import type { MqttClient } from 'mqtt';
import type { ApiResult } from '../helpers/broker';

export type Transport = 'tcp' | 'ws';
export interface Where {
  node?: number;
  transport?: Transport;
}
export interface Dev {
  id: string;
  secret: string;
  mac: string;
}

export interface Fleet {
  readonly name: string;
  readonly nodes: number;
  api<T = any>(method: string, path: string, body?: unknown, token?: string): Promise<ApiResult<T>>;
  createAgent(id: string | number, opts?: { password?: string; deviceLimit?: number }): Promise<{ id: string; password: string }>;
  agent(id: string, where?: Where): Promise<{ client: MqttClient; id: string; token: string }>;
  provision(mac?: string, machineCode?: string): Promise<Dev>;
  device(d: Dev, where?: Where): Promise<{ client: MqttClient; config: any }>;
  /** The agent each node's in-memory ACL map holds for a device. */
  aclAgentOf(device: string): (string | null)[];
  /** Resolves once every node has received what any node sent before the call. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}
