// What a device needs before it can reach the broker, read from its preferences (written at
// flash time or over Improv): the Wi-Fi network, the broker's address and transport, and
// credentials or an enrollment token; and the MQTT options a session connects with.
import { parseBrokerAddress, type BrokerAddress } from './broker-address';
import type { Identity } from './enrollment';
import type { MqttConnectOptions, Platform } from './platform';
import { chooseTransport, type Transport } from './transport';
import { deviceTopic } from '../../protocol/topics';

export interface Provisioning {
  ssid: string;
  broker: BrokerAddress;
  transport: Transport;
}

const OFFLINE = JSON.stringify({ state: 'offline' });

/** The provisioning in preferences, or why the device cannot start. */
export function readProvisioning(platform: Platform, hasIdentity: boolean): Provisioning | string {
  const prefs = platform.prefs;
  const ssid = prefs.get('ssid');
  if (!ssid) return 'no Wi-Fi network (pref ssid)';
  const broker = parseBrokerAddress(prefs.get('broker') ?? '');
  if (broker === null) return 'no valid broker address (pref broker)';
  if (!hasIdentity) return 'neither device credentials (id, secret) nor an enrollment token (enroll)';
  const transport = chooseTransport(broker, prefs.get('ca'), prefs.get('insecure'));
  if (typeof transport === 'string') return transport;
  return { ssid, broker, transport };
}

/** How a session connects: as the device (with its offline will) or to enroll, keyed by its MAC. */
export function connectOptions(p: Provisioning, identity: Identity, mac: string, keepaliveS: number): MqttConnectOptions {
  const options: MqttConnectOptions = {
    host: p.broker.host,
    port: p.broker.port,
    secure: p.transport.secure,
    clientId: identity.id ?? `enroll-${mac}`,
    username: identity.id ?? 'enroll',
    password: identity.password,
    keepalive: keepaliveS,
  };
  if (p.transport.secure) options.ca = p.transport.ca;
  if (identity.id !== null) options.will = { topic: deviceTopic(identity.id, 'status'), payload: OFFLINE, retain: true };
  return options;
}
