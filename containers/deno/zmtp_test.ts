/**
 * The TypeScript DEALER's bytes against ZMTP 3.0 and the shared vectors (tests/vectors/zmtp.json), and its
 * reading of a ROUTER's bytes over a real loopback connection, fixed and arbitrary (fast-check). The peer
 * here writes fixed bytes (a ROUTER's greeting and READY, written out from the RFC); the real ROUTER, the
 * core's, meets this DEALER in tests/deno_container_test.ts.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkGreeting,
  Dealer,
  encode,
  greeting,
  MAX_MESSAGE_BYTES,
  nextFrame,
  ready,
  ZmtpError,
} from "./zmtp.ts";

const text = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));

/** A READY command naming `socketType` (6 letters), written out from the RFC. */
const readyOf = (socketType: string) =>
  cat(
    Uint8Array.of(0x04, 28, 5),
    text("READY"),
    Uint8Array.of(11),
    text("Socket-Type"),
    Uint8Array.of(0, 0, 0, 6),
    text(socketType),
  );

/** What a peer sends first: greeting (version 3.0, NULL), then READY. */
const helloOf = (socketType: string) =>
  cat(
    Uint8Array.of(0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0),
    text("NULL"),
    new Uint8Array(48),
    readyOf(socketType),
  );
const routerHello = helloOf("ROUTER");

Deno.test("our greeting is ZMTP 3.0 with the NULL mechanism and passes our own check", () => {
  const g = greeting();
  assert.equal(g.length, 64);
  assert.deepEqual([...g.subarray(0, 12)], [0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0]);
  assert.deepEqual(g.subarray(12, 32), cat(text("NULL"), new Uint8Array(16)));
  checkGreeting(g);
});

Deno.test("greetings of other protocols, versions and mechanisms are refused", () => {
  const old = greeting();
  old[10] = 2;
  const curve = greeting();
  curve.set(text("CURVE"), 12);
  for (
    const [peer, message] of [
      [text("GET / HTTP/1.1\r\n".padEnd(64)), /does not speak ZMTP/],
      [old, /revision 2, older than 3/],
      [curve, /mechanism "CURVE"/],
    ] as const
  ) {
    assert.throws(() => checkGreeting(peer), message);
  }
});

Deno.test("our READY is a command naming the DEALER socket type", () => {
  assert.deepEqual(ready(), readyOf("DEALER"));
});

Deno.test("messages round-trip through short and long frames, with MORE on all but the last", () => {
  const frames = [new Uint8Array(0), new Uint8Array(255).fill(1), new Uint8Array(256).fill(2), text("z")];
  const wire = encode(frames);
  const seen: [number, Uint8Array][] = [];
  for (let at = 0; at < wire.length;) {
    const f = nextFrame(wire, at, wire.length)!;
    seen.push([f.flags, wire.subarray(f.body, f.end)]);
    at = f.end;
  }
  assert.deepEqual(seen, frames.map((f, i) => [i === 2 ? 0x03 : i < 3 ? 0x01 : 0x00, f]));
});

Deno.test("a partial frame waits and an absurd size is refused", () => {
  const wire = encode([new Uint8Array(300)]);
  for (const cut of [0, 1, 5, wire.length - 1]) assert.equal(nextFrame(wire, 0, cut), undefined);
  const absurd = new Uint8Array(9);
  absurd[0] = 0x02;
  new DataView(absurd.buffer).setBigUint64(1, BigInt(MAX_MESSAGE_BYTES) + 1n);
  assert.throws(() => nextFrame(absurd, 0, 9), ZmtpError);
});

/** A one-connection peer on a free port: it writes `hello`, then runs `script` with the connection. */
async function withPeer(
  hello: Uint8Array,
  script: (conn: Deno.Conn) => Promise<void>,
  test: (port: number) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = (async () => {
    const conn = await listener.accept();
    try {
      await conn.write(hello);
      const greetingAndReady = new Uint8Array(64 + 30);
      for (let got = 0; got < greetingAndReady.length;) {
        const n = await conn.read(greetingAndReady.subarray(got));
        if (n === null) return;
        got += n;
      }
      assert.deepEqual(greetingAndReady, cat(greeting(), ready()));
      await script(conn);
    } finally {
      conn.close();
    }
  })();
  try {
    await test((listener.addr as Deno.NetAddr).port);
  } finally {
    listener.close();
    await peer;
  }
}

Deno.test("the dealer reads whole messages of every size a ROUTER sends, and waits no longer than asked", async () => {
  const big = [
    new Uint8Array(0),
    new Uint8Array(300_000).fill(1),
    new Uint8Array(100).fill(2),
    new Uint8Array(70_000).fill(3),
  ];
  const done = Promise.withResolvers<void>();
  await withPeer(routerHello, async (conn) => {
    for (let i = 0; i < 3; i++) await conn.write(encode(big));
    await conn.write(encode([text("last")]));
    await done.promise;
  }, async (port) => {
    const dealer = await Dealer.connect("127.0.0.1", port, 5000);
    try {
      for (let i = 0; i < 3; i++) assert.deepEqual(await dealer.receive(5000), big);
      assert.deepEqual(await dealer.receive(5000), [text("last")]);
      assert.equal(await dealer.receive(50), undefined);
    } finally {
      done.resolve();
      await dealer.close();
    }
  });
});

Deno.test("a closed connection is reported as a connection error", async () => {
  await withPeer(routerHello, async () => {}, async (port) => {
    const dealer = await Dealer.connect("127.0.0.1", port, 5000);
    try {
      await assert.rejects(dealer.receive(5000), Deno.errors.ConnectionReset);
    } finally {
      await dealer.close();
    }
  });
});

Deno.test("a peer that is not a ZMTP ROUTER is refused at connect", async () => {
  await withPeer(helloOf("DEALER"), async () => {}, async (port) => {
    await assert.rejects(Dealer.connect("127.0.0.1", port, 5000), /cannot talk to a "DEALER" socket/);
  });
  await withPeer(text("HTTP/1.1 400 Bad Request\r\n".padEnd(64)), async () => {}, async (port) => {
    await assert.rejects(Dealer.connect("127.0.0.1", port, 5000), /does not speak ZMTP/);
  });
});

// The vectors every ZMTP implementation here shares, and property tests (fast-check: a failure prints the
// seed and path that replay it, `fc.assert(property, { seed, path })`) of the reading code.

interface Vectors {
  limit_bytes: number;
  greetings: { name: string; hex: string; outcome: string }[];
  frames: { name: string; wire: string; more: boolean; command: boolean; body: string }[];
  messages: { name: string; frames: string[]; wire: string }[];
  invalid: { name: string; wire: string; outcome: string; size?: string }[];
}

const vectors: Vectors = JSON.parse(
  await Deno.readTextFile(new URL("../../tests/vectors/zmtp.json", import.meta.url)),
);
const hex = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
const GREETING_OUTCOMES: [RegExp, string][] = [
  [/does not speak ZMTP/, "not_zmtp"],
  [/older than 3/, "old_version"],
  [/mechanism/, "mechanism"],
];

Deno.test("the shared greeting vectors are judged alike", () => {
  for (const vector of vectors.greetings) {
    let outcome = "ok";
    try {
      checkGreeting(hex(vector.hex));
    } catch (err) {
      assert.ok(err instanceof ZmtpError, vector.name);
      outcome = GREETING_OUTCOMES.find(([words]) => words.test(err.message))![1];
    }
    assert.equal(outcome, vector.outcome, vector.name);
  }
});

Deno.test("the shared frame vectors are read with their flags and bodies", () => {
  for (const vector of vectors.frames) {
    const wire = hex(vector.wire);
    const frame = nextFrame(wire, 0, wire.length)!;
    assert.equal(frame.end, wire.length, vector.name);
    assert.deepEqual([!!(frame.flags & 0x01), !!(frame.flags & 0x04)], [vector.more, vector.command]);
    assert.deepEqual(wire.subarray(frame.body, frame.end), hex(vector.body), vector.name);
  }
});

Deno.test("the shared message vectors are written exactly and read back", async () => {
  for (const vector of vectors.messages) {
    const frames = vector.frames.map(hex);
    const wire = hex(vector.wire);
    assert.deepEqual(encode(frames), wire, vector.name);
    assert.deepEqual(await readAll(wire, []), { messages: [frames], error: undefined }, vector.name);
  }
});

Deno.test("the shared invalid vectors wait or are refused from the header", () => {
  assert.equal(vectors.limit_bytes, MAX_MESSAGE_BYTES);
  for (const vector of vectors.invalid) {
    const wire = hex(vector.wire);
    if (vector.outcome === "incomplete") {
      assert.equal(nextFrame(wire, 0, wire.length), undefined, vector.name);
    } else {
      assert.throws(() => nextFrame(wire, 0, wire.length), new RegExp(`frame of ${vector.size} bytes`));
    }
  }
});

/** `bytes` cut at `cuts` (taken modulo its length), as reads from a socket would deliver it. */
function pieces(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const at = [...new Set([0, bytes.length, ...cuts.map((c) => c % (bytes.length + 1))])].sort((a, b) =>
    a - b
  );
  return at.slice(1).map((end, i) => bytes.subarray(at[i], end));
}

/** What our DEALER reads from a ROUTER that completes the handshake, writes `bytes` in pieces and closes:
 * its messages, and the ZmtpError that ended them if any. Any other error, or a hang, fails the test. */
async function readAll(bytes: Uint8Array, cuts: readonly number[]) {
  const messages: Uint8Array[][] = [];
  let error: ZmtpError | undefined;
  await withPeer(routerHello, async (conn) => {
    try {
      for (const piece of pieces(bytes, cuts)) await conn.write(piece);
    } catch {
      // The dealer refused the framing and closed first.
    }
  }, async (port) => {
    const dealer = await Dealer.connect("127.0.0.1", port, 5000);
    try {
      while (true) {
        const message = await dealer.receive(5000);
        assert.ok(message, "no message and no close within 5 s");
        messages.push(message);
      }
    } catch (err) {
      if (err instanceof ZmtpError) error = err;
      // The peer closed: how every stream here ends.
      else if (!(err instanceof Deno.errors.ConnectionReset)) throw err;
    } finally {
      await dealer.close();
    }
  });
  return { messages, error };
}

const bytes = (maxLength: number) => fc.uint8Array({ maxLength });
const cuts = fc.array(fc.nat(8192), { maxLength: 8 });

Deno.test("arbitrary bytes at any offset give a frame, nothing yet, or our error", () => {
  fc.assert(
    fc.property(bytes(512), fc.nat(64), (data, offset) => {
      const start = Math.min(offset, data.length);
      try {
        const frame = nextFrame(data, start, data.length);
        if (frame) assert.ok(start < frame.body && frame.body <= frame.end && frame.end <= data.length);
      } catch (err) {
        if (!(err instanceof ZmtpError)) throw err;
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("arbitrary bytes in arbitrary pieces end in messages or our error, never another", async () => {
  await fc.assert(
    fc.asyncProperty(bytes(2048), cuts, async (data, cutAt) => {
      const { messages } = await readAll(data, cutAt);
      // What it handed over came from the input, so never more bytes than that.
      assert.ok(messages.flat().reduce((n, f) => n + f.length, 0) <= data.length);
    }),
    { numRuns: 150 },
  );
});

Deno.test("messages round-trip however they are cut", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(bytes(700), { minLength: 1, maxLength: 5 }), cuts, async (frames, cutAt) => {
      const wire = encode(frames);
      const read = await readAll(cat(wire, wire), cutAt);
      assert.deepEqual(read, { messages: [frames, frames], error: undefined });
    }),
    { numRuns: 100 },
  );
});

Deno.test("a handshake with arbitrary bytes fails with our error or a closed connection", async () => {
  await fc.assert(
    fc.asyncProperty(bytes(64), bytes(250), fc.boolean(), async (peerGreeting, properties, valid) => {
      // Half the cases send a valid greeting and a READY with arbitrary properties, for the READY parser.
      const body = cat(Uint8Array.of(5), text("READY"), properties);
      const hello = valid ? cat(greeting(), Uint8Array.of(0x04, body.length), body) : peerGreeting;
      await withPeer(hello, async () => {}, async (port) => {
        try {
          await (await Dealer.connect("127.0.0.1", port, 5000)).close();
        } catch (err) {
          if (!(err instanceof ZmtpError || err instanceof Deno.errors.ConnectionReset)) throw err;
        }
      });
    }),
    { numRuns: 100 },
  );
});
