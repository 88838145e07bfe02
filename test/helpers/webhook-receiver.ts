// A webhook receiver on loopback: records every POST with its raw body and headers, answers with
// a status the test chooses (per event id and attempt), and checks signatures with the snippet the
// README documents.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// ---- README, "Webhooks": verifying a delivery (kept verbatim)
export function verifyFleetbindSignature(secret: string, rawBody: string, header: string, toleranceSec = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSec) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
// ----

export interface Received {
  at: number;
  body: string;
  json: any;
  headers: Record<string, string | string[] | undefined>;
  status: number;
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  /** Bodies of requests left unanswered ('hang'). */
  readonly hung: string[] = [];
  /** Status to answer for a delivery; default 200. Called with the event id and how often it came before. */
  respond: (eventId: string, previous: number) => number | 'hang' = () => 200;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let self: WebhookReceiver | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const json = JSON.parse(body);
        const previous = self!.received.filter((r) => r.json.id === json.id).length;
        const status = self!.respond(json.id, previous);
        if (status === 'hang') {
          self!.hung.push(body);
          return;
        }
        self!.received.push({ at: Date.now(), body, json, headers: req.headers, status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`);
    return self;
  }

  /** Deliveries answered 2xx, one per event id expected. */
  accepted(): Received[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
