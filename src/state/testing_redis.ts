/**
 * A real redis-server for tests: started on a free loopback port with persistence off, stopped by the
 * caller. Fails loudly when redis-server is not installed (`deno task test` installs it first, through scripts/setup.ts).
 */

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts redis-server; with `dir`, every write is appended and fsynced there, so a restart keeps it. */
export async function startRedis(port?: number, dir?: string): Promise<TestRedis> {
  if (port === undefined) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    port = (listener.addr as Deno.NetAddr).port;
    listener.close();
  }
  const child = new Deno.Command("redis-server", {
    args: [
      ...["--port", String(port), "--bind", "127.0.0.1", "--save", ""],
      ...(dir ? ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir] : ["--appendonly", "no"]),
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const until = Date.now() + 10_000;
  while (true) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      break;
    } catch {
      if (Date.now() > until) throw new Error(`redis-server did not open port ${port} within 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status;
    },
  };
}
