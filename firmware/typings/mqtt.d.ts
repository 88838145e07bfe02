// Declarations for the Moddable SDK's MQTT client, modules/network/mqtt/mqtt.js, which
// @moddable/typings does not cover (it only has the "mqtt/js" wrapper and the ECMA-419
// "embedded:network/mqtt/client"). Written from the module's source: QoS 0, clean session,
// MQTT 3.1.1, no automatic reconnect.
declare module 'mqtt' {
  export interface MqttWill {
    topic: string;
    message: string | ArrayBuffer;
    retain?: boolean;
    /** QoS of the will; the client itself only speaks QoS 0. */
    quality?: 0 | 1 | 2;
  }

  export interface ClientOptions {
    host: string;
    /** Defaults to 1883 (80 when `path` selects MQTT over WebSocket). */
    port?: number;
    /** The MQTT client id; defaults to "". */
    id?: string;
    user?: string;
    password?: string | ArrayBuffer;
    will?: MqttWill;
    /**
     * Keepalive interval in milliseconds, sent to the broker rounded up to whole seconds.
     * Absent or 0 disables keepalive (the client's default), so a dead link is never noticed.
     */
    timeout?: number;
    /** When present, connects over WebSocket to this path. */
    path?: string;
    /** Socket constructor to use instead of "socket", e.g. SecureSocket from "securesocket". */
    Socket?: new (
      options: object,
    ) => object;
    /** Passed to `Socket` as its `secure` option (TLS settings). */
    secure?: object;
  }

  export interface PublishFlags {
    retain?: boolean;
    quality?: 0 | 1 | 2;
    duplicate?: boolean;
  }

  export default class Client {
    constructor(options: ClientOptions);
    /** The TCP (or WebSocket) connection is up; CONNECT is about to be sent. */
    onConnected?: () => void;
    /** CONNACK accepted. */
    onReady?: () => void;
    onMessage?: (topic: string, payload: ArrayBuffer) => void;
    /** The connection ended or failed, including a refused CONNECT. Not called after close(). */
    onClose?: () => void;
    /** Throws "connection closed" before onReady or after the connection ended. */
    publish(topic: string, data: string | ArrayBuffer, flags?: PublishFlags): void;
    subscribe(topic: string): void;
    unsubscribe(topic: string): void;
    /** Sends DISCONNECT (unless `immediate`) and closes the socket. */
    close(immediate?: boolean): void;
    /** Reports a protocol or socket failure: traces the message, calls onClose, then close(). */
    fail(message?: string): void;
  }
}
