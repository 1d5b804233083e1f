import net from 'node:net';

/**
 * A loopback TCP relay in front of Redis, so a test can cut the connection and restore it on
 * the same port, the way a Redis restart or a network blip looks to the client.
 * With no target it accepts connections and never answers (a hung server).
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target?: { host: string; port: number }) {}

  async start(): Promise<void> {
    const server = net.createServer((inbound) => this.relay(inbound));
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private relay(inbound: net.Socket): void {
    this.track(inbound);
    if (!this.target) return;
    const outbound = this.track(net.connect(this.target.port, this.target.host));
    inbound.pipe(outbound).pipe(inbound);
  }

  private track(socket: net.Socket): net.Socket {
    this.sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
    return socket;
  }
}
