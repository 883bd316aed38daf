/**
 * The course's final browser client, its protocol reproduced line by line (websocket-course.txt:
 * 欢迎语, 退出时进行消息通知, 多个聊天室, 心跳检测, ws中的鉴权, 离线消息缓存发送), run against this
 * server unchanged. What it renders must be exactly what the course shows: no stray lines.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ErrorCode } from '../src/protocol.ts';
import { connectAs, login, startTestServer, type TestServer } from './harness.ts';

class CourseClient {
  items: string[] = [];
  num = 0;
  private wsHandle!: WebSocket;
  private handler: ReturnType<typeof setTimeout> | undefined;
  serverGone = false;

  constructor(
    readonly name: string,
    readonly roomid: string,
    readonly uid: string,
    private readonly token: string,
  ) {}

  mounted(server: TestServer): Promise<void> {
    this.wsHandle = new WebSocket(server.url, { ca: server.tls?.cert });
    this.wsHandle.onopen = () => this.onOpen();
    this.wsHandle.onmessage = (evt) => this.onMessage(evt as { data: string });
    return new Promise((resolve) => this.wsHandle.once('open', () => resolve()));
  }

  onOpen(): void {
    this.checkServer();
    this.wsHandle.send(JSON.stringify({ event: 'auth', message: this.token }));
  }

  into(): void {
    this.wsHandle.send(JSON.stringify({ name: this.name, roomid: this.roomid, uid: this.uid, event: 'login' }));
  }

  submit(inputValue: string): void {
    this.wsHandle.send(JSON.stringify({ name: this.name, message: inputValue, event: 'message' }));
    this.items.push(`${this.name}: ${inputValue}`);
  }

  onMessage(evt: { data: string }): void {
    const msg = JSON.parse(evt.data);
    if (msg.event === 'heartbeat' && msg.message === 'ping') {
      this.checkServer();
      this.wsHandle.send(JSON.stringify({ event: 'heartbeat', message: 'pong' }));
      return;
    }
    if (msg.num) this.num = msg.num;
    if (msg.event === 'login') {
      this.items.push(`欢迎${msg.name}加入聊天室!`);
    } else if (msg.event === 'logout') {
      this.items.push(`${msg.name}已经退出了聊天室!`);
    } else if (msg.name !== this.name) {
      this.items.push(`${msg.name}: ${msg.message}`);
    }
  }

  checkServer(): void {
    clearTimeout(this.handler);
    this.handler = setTimeout(() => {
      this.serverGone = true;
    }, 5000 + 1000);
  }

  close(): void {
    clearTimeout(this.handler);
    this.wsHandle.close();
  }

  async until(probe: () => boolean, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out; items: ${JSON.stringify(this.items)}`);
      // Polls the rendered lines until the deadline above.
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ HEARTBEAT_INTERVAL_MS: '200' });
});
afterAll(() => server.close());

async function courseUser(name: string, uid: string, roomid: string): Promise<CourseClient> {
  const { token } = await login(server, name, uid);
  const client = new CourseClient(name, roomid, uid, token);
  await client.mounted(server);
  return client;
}

describe("the course's own client works unchanged", () => {
  it('welcome notices, counts, chat lines and the leave notice, with nothing stray', async () => {
    const alice = await courseUser('alice', 'u-alice', '1001');
    alice.into();
    await alice.until(() => alice.items.length === 1);
    const bob = await courseUser('bob', 'u-bob', '1001');
    bob.into();
    await alice.until(() => alice.num === 2);
    // bob types once his page shows him in (his own welcome), as a person would.
    await bob.until(() => bob.items.length === 1);
    bob.submit('hi alice');
    await alice.until(() => alice.items.length === 3);
    alice.submit('hi bob');
    await bob.until(() => bob.items.includes('alice: hi bob'));
    // Some heartbeats pass (every 200 ms here): answered, never rendered. Time passing is the point:
    // the course's client sends no request ids, so no reply could stand in for it, and the final
    // check of every line rendered shows no ping became one.
    await new Promise((r) => setTimeout(r, 500));
    bob.close();
    await alice.until(() => alice.items.length === 5);
    expect(alice.items).toEqual(['欢迎alice加入聊天室!', '欢迎bob加入聊天室!', 'bob: hi alice', 'alice: hi bob', 'bob已经退出了聊天室!']);
    expect(alice.num).toBe(1);
    expect(bob.items).toEqual(['欢迎bob加入聊天室!', 'bob: hi alice', 'alice: hi bob']);
    expect(alice.serverGone).toBe(false);
    alice.close();
  });

  it('rooms keep their own counts, and a member who was away gets what they missed', async () => {
    const carol = await courseUser('carol', 'u-carol', '2001');
    const dan = await courseUser('dan', 'u-dan', '2001');
    const erin = await courseUser('erin', 'u-erin', '2002');
    for (const c of [carol, dan, erin]) c.into();
    await carol.until(() => carol.num === 2);
    await erin.until(() => erin.items.length === 1);
    expect(erin.num).toBe(1);
    dan.close();
    await carol.until(() => carol.items.includes('dan已经退出了聊天室!'));
    carol.submit('while you were out');
    carol.submit('second');
    await carol.until(() => carol.items.includes('carol: second'));
    const danAgain = await courseUser('dan', 'u-dan', '2001');
    danAgain.into();
    await danAgain.until(() => danAgain.items.length === 3);
    expect(danAgain.items).toEqual(['carol: while you were out', 'carol: second', '欢迎dan加入聊天室!']);
    expect(erin.items).toEqual(['欢迎erin加入聊天室!']);
    for (const c of [carol, danAgain, erin]) c.close();
  });

  it('a numeric roomid is the room of its string, and a null uid or name counts as not given', async () => {
    const alice = await connectAs(server, 'alice');
    const bob = await connectAs(server, 'bob');
    await bob.join('3001');
    const joined = await alice.request({ event: 'join', roomid: 3001, uid: null, name: null });
    expect(joined).toMatchObject({ event: 'joined', roomid: '3001' });
    const ack = await alice.request({ event: 'message', roomid: 3001, message: 'from a number', uid: null, name: null });
    expect(ack).toMatchObject({ event: 'ack', roomid: '3001' });
    await bob.waitFor(() => bob.messages('3001').length === 1);
    expect(bob.messages('3001')[0]).toMatchObject({ uid: alice.user.uid, name: 'alice', message: 'from a number' });
    // A quote names its room the same way.
    const quoted = await alice.request({ event: 'message', roomid: 3001, message: 'again', quote: { roomid: 3001, seq: ack.seq } });
    expect(quoted).toMatchObject({ event: 'ack', roomid: '3001' });
    await bob.waitFor(() => bob.messages('3001').length === 2);
    expect(bob.messages('3001')[1].quote).toMatchObject({ seq: ack.seq, uid: alice.user.uid, excerpt: 'from a number' });
    // Not a room: a fraction, an integer beyond 2^53, and a uid that is null-like but not null.
    for (const roomid of [1.5, 2 ** 60]) {
      expect(await alice.request({ event: 'join', roomid })).toMatchObject({ event: 'error', code: ErrorCode.InvalidField });
    }
    expect(await alice.request({ event: 'message', roomid: 3001, message: 'x', uid: 0 })).toMatchObject({ event: 'error', code: ErrorCode.InvalidField });
    expect(await alice.request({ event: 'message', roomid: 3001, message: 'x', name: false })).toMatchObject({ event: 'error', code: ErrorCode.InvalidField });
    await Promise.all([alice.close(), bob.close()]);
  });
});
