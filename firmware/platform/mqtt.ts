// Platform MQTT on Moddable's "mqtt" client. That client is QoS 0 with a clean session, sends
// no keepalive unless asked (`timeout`, in ms), never reconnects, and reports every ending, a
// refused CONNECT included, through a bare onClose(). This adapter adds what the core needs on
// top: the CONNACK return code of a refusal, and exactly one onClose per connect(), never one
// after close(). The CONNACK deadline is the core's; it ends a silent attempt with close().
// The client calls onReady and onMessage inside a try/catch that discards exceptions, so the
// adapter traces them instead of losing them. mqtts:// runs over Moddable's SecureSocket, which
// trusts only the CA certificate the core passes (from NVS) and checks the server name.
import Client from 'mqtt';
import SecureSocket from 'securesocket';
import Timer from 'timer';
import type { Mqtt, MqttCloseInfo, MqttConnectOptions, MqttHandlers } from '../core/platform';

const REFUSED = /rejected mqtt request with code (\d+)/;

/** Remembers why the Moddable client failed; its onClose() carries no reason. */
class ReportingClient extends Client {
  failure: string | undefined;
  override fail(message?: string): void {
    this.failure ??= message;
    super.fail(message);
  }
}

function traced(what: string, run: () => void): void {
  try {
    run();
  } catch (e) {
    trace(`mqtt: ${what} handler threw: ${String(e)}\n`);
  }
}

function closeInfo(failure: string | undefined): MqttCloseInfo {
  if (failure === undefined) return { reason: 'connection closed' };
  const refused = REFUSED.exec(failure);
  if (refused) return { refused: Number(refused[1]), reason: failure };
  return { reason: failure };
}

export class ModdableMqtt implements Mqtt {
  private client: ReportingClient | undefined;
  private ready = false;
  private refusal: Timer | undefined;

  connect(options: MqttConnectOptions, handlers: MqttHandlers): void {
    this.close();
    if (options.secure && options.ca === undefined) {
      // Reported asynchronously, like every other ending, so the core's state is settled first.
      this.refusal = Timer.set(() => {
        this.refusal = undefined;
        handlers.onClose({ reason: 'mqtts:// without a CA certificate: refusing to trust any server' });
      });
      return;
    }
    const ca = options.ca;
    const client = new ReportingClient({
      host: options.host,
      port: options.port,
      id: options.clientId,
      user: options.username,
      password: options.password,
      timeout: options.keepalive * 1000,
      ...(ca ? { Socket: SecureSocket, secure: { certificate: Uint8Array.from(ca).buffer, verify: true, protocolVersion: 0x303 } } : {}),
      ...(options.will ? { will: { topic: options.will.topic, message: options.will.payload, retain: options.will.retain, quality: 0 as const } } : {}),
    });
    this.client = client;
    this.ready = false;
    const finish = (info: MqttCloseInfo): void => {
      if (this.client !== client) return;
      this.drop();
      handlers.onClose(info);
    };
    client.onReady = () => {
      if (this.client !== client) return;
      this.ready = true;
      traced('onReady', () => handlers.onReady());
    };
    client.onMessage = (topic, payload) => {
      if (this.client !== client) return;
      traced('onMessage', () => handlers.onMessage(topic, String.fromArrayBuffer(payload)));
    };
    client.onClose = () => finish(closeInfo(client.failure));
  }

  publish(topic: string, payload: string, retain = false): void {
    const client = this.usable('publish');
    if (client) this.write(client, () => client.publish(topic, payload, { retain }));
  }

  subscribe(topic: string): void {
    const client = this.usable('subscribe');
    if (client) this.write(client, () => client.subscribe(topic));
  }

  close(): void {
    Timer.clear(this.refusal);
    this.refusal = undefined;
    const client = this.client;
    if (!client) return;
    this.drop();
    // A DISCONNECT first, so the broker discards the will: this ending is deliberate.
    client.close(false);
  }

  /** A failed socket write ends the connection through the client's own failure path. */
  private write(client: ReportingClient, send: () => void): void {
    try {
      send();
    } catch (e) {
      client.fail(`write failed: ${String(e)}`);
    }
  }

  private usable(what: string): ReportingClient | undefined {
    if (this.client && this.ready) return this.client;
    trace(`mqtt: ${what} dropped, not connected\n`);
    return undefined;
  }

  private drop(): void {
    this.client = undefined;
    this.ready = false;
  }
}
