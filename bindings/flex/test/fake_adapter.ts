// A small fake of the recrules adapter on 127.0.0.1 (port chosen by the OS): records every
// request and answers from per-route handlers the test sets.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The body parsed as JSON or as a form, whichever it is. */
  json?: unknown;
  form?: Record<string, string>;
}

export type Handler = (req: SeenRequest) => { status?: number; body: unknown; delayMs?: number };

export class FakeAdapter {
  readonly seen: SeenRequest[] = [];
  readonly routes = new Map<string, Handler>();
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const seen: SeenRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      if ((req.headers['content-type'] ?? '').startsWith('application/json')) seen.json = JSON.parse(body);
      else seen.form = Object.fromEntries(new URLSearchParams(body));
      this.seen.push(seen);
      const handler = this.routes.get(seen.path.split('?')[0] ?? '');
      const answer = handler ? handler(seen) : { status: 404, body: { error: 'no route' } };
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status ?? 200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  }
}
