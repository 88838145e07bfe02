// Which identity the device connects with, and the enrollment exchange: a device with only a
// token (or whose stored credentials the broker refused) connects as `enroll`, asks for an
// identity on its MAC's topic, stores the reply and reconnects as itself.
import type { MqttSession } from './mqtt-session';
import type { Platform } from './platform';
import { readMessage } from './read-message';
import { parseEnrollReply, type EnrollRequest } from '../../protocol/messages';
import { enrollReplyTopic, enrollTopic } from '../../protocol/topics';

export type Identity = { mode: 'device'; id: string; password: string } | { mode: 'enroll'; id: null; password: string };

export interface EnrollmentOptions {
  /** No enrollment reply within this → drop and retry. */
  replyTimeoutMs: number;
}

export class Enrollment {
  /** The broker refused id+secret and a token is present: enroll instead. */
  private credentialsRefused = false;

  constructor(
    private readonly platform: Platform,
    private readonly session: MqttSession,
    private readonly options: EnrollmentOptions,
    /** Called once the new identity is stored. */
    private readonly enrolled: () => void,
  ) {}

  /** Which identity to connect with now, or null when there is none. */
  identity(): Identity | null {
    const prefs = this.platform.prefs;
    const id = prefs.get('id');
    const secret = prefs.get('secret');
    const token = prefs.get('enroll');
    if (id && secret && !(this.credentialsRefused && token)) return { mode: 'device', id, password: secret };
    if (token) return { mode: 'enroll', id: null, password: token };
    return null;
  }

  /** The stored credentials worked. */
  accepted(): void {
    this.credentialsRefused = false;
  }

  /** The broker refused the CONNECT of the given identity with a credentials code. */
  refused(mode: Identity['mode'], code: number): void {
    const log = (level: 'warn' | 'error', msg: string): void => this.platform.log(level, msg, { code });
    if (mode === 'enroll') {
      log('error', 'the broker refused the enrollment token');
    } else if (this.platform.prefs.get('enroll')) {
      this.credentialsRefused = true;
      log('warn', 'the broker refused the stored credentials; enrolling again with the token');
    } else {
      log('error', 'the broker refused the stored credentials and there is no enrollment token');
    }
  }

  /** The enroll session is open: ask for an identity. */
  request(mac: string, machine: string | undefined): void {
    const facts = this.platform.facts;
    this.session.subscribe(enrollReplyTopic(mac));
    const request: EnrollRequest = { mac, model: facts.model, fw: facts.fw };
    if (machine !== undefined) request.machine = machine;
    this.session.publish(enrollTopic(mac), JSON.stringify(request));
    this.platform.log('info', 'enrollment requested', { mac });
    this.session.expectReply(this.options.replyTimeoutMs, 'enrollment reply');
  }

  onMessage(mac: string, topic: string, payload: string): void {
    if (topic !== enrollReplyTopic(mac)) {
      this.platform.log('warn', 'message on an unexpected topic while enrolling', { topic: topic.slice(0, 96) });
      return;
    }
    const reply = readMessage(this.platform, 'enrollment reply', payload, parseEnrollReply);
    if (reply === null) return;
    if (!reply.ok) {
      this.platform.log('error', 'enrollment refused', { code: reply.error.code, message: reply.error.message.slice(0, 200) });
      this.session.lost(`enrollment refused: ${reply.error.code}`, true);
      return;
    }
    const prefs = this.platform.prefs;
    prefs.set('id', reply.deviceId);
    prefs.set('secret', reply.secret);
    prefs.remove('enroll');
    this.credentialsRefused = false;
    this.platform.log('info', 'enrolled', { deviceId: reply.deviceId });
    this.enrolled();
  }
}
