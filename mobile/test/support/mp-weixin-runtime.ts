import { request } from 'node:https';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { JSDOM } from 'jsdom';
import WebSocket from 'ws';

const require = createRequire(import.meta.url);

interface Callbacks {
  success?: (res: unknown) => void;
  fail?: (err: unknown) => void;
  complete?: (res: unknown) => void;
}

/** What the compiled app did through `wx` that a test may check. */
export interface WxRecord {
  titles: string[];
  navigations: string[];
  sockets: string[];
  storage: Map<string, unknown>;
  /** Every frame the app received, with the number of the socket (index in `sockets`) it came on. */
  received: Array<{ socket: number; frame: Record<string, unknown>; at: number }>;
  /** Every frame the app sent. */
  sent: Array<{ socket: number; frame: Record<string, unknown>; at: number }>;
  /** When each socket opened and closed (ms since the epoch). */
  socketTimes: Array<{ openedAt?: number; closedAt?: number; closeCode?: number }>;
  toasts: string[];
  modals: string[];
}

export interface NetworkStatus {
  isConnected: boolean;
  networkType: string;
}

// miniprogram-simulate sets the global Component once, when first required; every runtime wraps that one.
let simulatorComponent: ((options: Record<string, unknown>) => void) | undefined;

type SimComponent = {
  instance: Record<string, (...args: unknown[]) => unknown>;
  dom: HTMLElement;
  attach(parent: Element): void;
  querySelector(selector: string): { dispatchEvent(name: string, init?: Record<string, unknown>): void } | null;
};

/**
 * Runs the compiled `dist/build/mp-weixin` in Node with miniprogram-simulate (WeChat's own wcc
 * template compiler plus j-component): jsdom for the view, and a `wx` whose sockets are real `ws`
 * sockets and whose requests are real HTTPS, so pages talk to a real server.
 */
export class MpWeixinRuntime {
  readonly record: WxRecord;
  private readonly openSockets = new Set<WebSocket>();
  private currentRoute = '';
  private simulate!: { load(path: string, options: object): string; render(id: string): SimComponent };
  private readonly pages: SimComponent[] = [];
  private appOptions: Record<string, (...args: unknown[]) => unknown> | undefined;
  private readonly networkListeners: Array<(status: NetworkStatus) => void> = [];
  private network: NetworkStatus = { isConnected: true, networkType: 'wifi' };
  /** After `kill()`: the dead app's calls into `wx` do nothing, as on a phone. */
  private dead = false;

  constructor(
    readonly root: string,
    private readonly ca: string | undefined,
    /** The phone's storage: pass the one of a killed runtime to relaunch the app on the same phone. */
    storage: Map<string, unknown> = new Map(),
  ) {
    this.record = { titles: [], navigations: [], sockets: [], storage, received: [], sent: [], socketTimes: [], toasts: [], modals: [] };
  }

  start(): void {
    const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
    const g = globalThis as Record<string, unknown>;
    for (const key of ['window', 'document', 'navigator', 'Node', 'Element', 'HTMLElement', 'getComputedStyle', 'requestAnimationFrame']) {
      if (key === 'navigator' && g.navigator) continue;
      g[key] = (dom.window as unknown as Record<string, unknown>)[key];
    }
    // j-component dispatches jsdom events; Node's own Event classes would be refused.
    for (const key of ['Event', 'CustomEvent', 'EventTarget']) g[key] = (dom.window as unknown as Record<string, unknown>)[key];

    g.wx = this.wx();
    g.App = (options: MpWeixinRuntime['appOptions']) => (this.appOptions = options);
    g.getApp = () => this.appOptions;
    g.getCurrentPages = () => [];
    g.Page = (options: unknown) => options;

    this.simulate = require('miniprogram-simulate');
    simulatorComponent ??= g.Component as (options: Record<string, unknown>) => void;
    const register = simulatorComponent;
    // uni tells pages from components by `this.route`, which only WeChat sets; set it for pages.
    const runtime = this;
    g.Component = (options: Record<string, unknown> & { methods?: Record<string, unknown>; created?: () => void }) => {
      if (options.methods?.onLoad) {
        const route = runtime.currentRoute;
        const created = options.created;
        options.created = function (this: { route: string }) {
          this.route = route;
          created?.call(this);
        };
      }
      register(options);
    };

    // A relaunch runs the app's code afresh: nothing of the killed app's memory survives.
    for (const file of Object.keys(require.cache)) if (file.startsWith(this.root)) delete require.cache[file];
    require(join(this.root, 'app.js'));
    const appOptions = this.appOptions;
    if (!appOptions) throw new Error('app.js did not call App()');
    appOptions.onLaunch.call(appOptions, { path: 'pages/login/index', query: {}, scene: 1001 });
    appOptions.onShow?.call(appOptions, { path: 'pages/login/index', query: {}, scene: 1001 });
  }

  /** The app goes to the background (home button, another app). */
  hide(): void {
    for (const page of this.pages) page.instance.onHide?.();
    this.appOptions?.onHide?.call(this.appOptions);
  }

  /** The app comes back to the foreground. */
  show(): void {
    this.appOptions?.onShow?.call(this.appOptions, { path: 'pages/conversations/index', query: {}, scene: 1001 });
    for (const page of this.pages) page.instance.onShow?.();
  }

  /** What wx.onNetworkStatusChange reports: online or not, and on which kind of network. */
  setNetwork(status: NetworkStatus): void {
    this.network = status;
    for (const listener of this.networkListeners) listener({ ...status });
  }

  /** The page leaves the stack (navigateBack). */
  closePage(page: SimComponent): void {
    page.instance.onUnload?.();
    this.pages.splice(this.pages.indexOf(page), 1);
  }

  /** The app's frames received on all sockets so far, of one event. */
  framesReceived(event: string): Array<Record<string, unknown>> {
    return this.record.received.filter((r) => r.frame.event === event).map((r) => r.frame);
  }

  /**
   * WeChat kills the app: its sockets drop without a closing handshake, and whatever it did not
   * write to storage is gone. Its code stays in this process, so its client is stopped with `wx`
   * already dead (nothing it does reaches storage or the network) and its timers end.
   */
  kill(): void {
    this.dead = true;
    for (const socket of this.openSockets) socket.terminate();
    this.openSockets.clear();
    const store = require(join(this.root, 'store/chat.js')) as { client?: { value?: { stop(): void } } };
    store.client?.value?.stop();
  }

  /** Loads a page the way WeChat opens it: render, attach, onLoad(query), onShow. */
  open(route: string, query: Record<string, string> = {}): SimComponent {
    this.currentRoute = route;
    const id = this.simulate.load(join(this.root, route), { rootPath: this.root });
    const page = this.simulate.render(id);
    page.attach(document.createElement('parent-wrapper'));
    page.instance.onLoad(query);
    page.instance.onShow?.();
    this.pages.push(page);
    return page;
  }

  close(): void {
    for (const socket of this.openSockets) socket.terminate();
    this.openSockets.clear();
  }

  private wx(): Record<string, unknown> {
    const record = this.record;
    const ca = this.ca;
    const openSockets = this.openSockets;
    const alive = () => !this.dead;
    const network = () => this.network;
    const networkListeners = this.networkListeners;
    const done = (options: Callbacks, res: unknown) => {
      options.success?.(res);
      options.complete?.(res);
    };
    const systemInfo = {
      platform: 'devtools', brand: 'devtools', model: 'iPhone 13', system: 'iOS 16', language: 'zh_CN', version: '8.0.50',
      SDKVersion: '3.5.0', pixelRatio: 3, windowWidth: 390, windowHeight: 844, screenWidth: 390, screenHeight: 844,
      statusBarHeight: 47, safeArea: { top: 47, left: 0, right: 390, bottom: 810, width: 390, height: 763 },
    };
    return {
      getSystemInfoSync: () => systemInfo,
      getWindowInfo: () => systemInfo,
      getDeviceInfo: () => systemInfo,
      getAppBaseInfo: () => systemInfo,
      getLaunchOptionsSync: () => ({ path: 'pages/login/index', query: {}, scene: 1001 }),
      getAccountInfoSync: () => ({ miniProgram: { appId: 'touristappid', envVersion: 'develop' } }),
      // The production vendor.js would fetch an image from a DCloud CDN 3 s after start.
      preloadAssets: undefined,
      getStorageSync: (key: string) => (record.storage.has(key) ? record.storage.get(key) : ''),
      setStorageSync: (key: string, value: unknown) => void (alive() && record.storage.set(key, value)),
      removeStorageSync: (key: string) => void (alive() && record.storage.delete(key)),
      setStorage: (o: Callbacks & { key: string; data: unknown }) => (alive() && record.storage.set(o.key, o.data), done(o, { errMsg: 'setStorage:ok' })),
      getStorageInfoSync: () => ({ keys: [...record.storage.keys()], currentSize: 0, limitSize: 10240 }),
      onNetworkStatusChange: (cb: (status: NetworkStatus) => void) => void networkListeners.push(cb),
      getNetworkType: (o: Callbacks) => done(o, { errMsg: 'getNetworkType:ok', networkType: network().isConnected ? network().networkType : 'none' }),
      onAppShow: () => {},
      onAppHide: () => {},
      setNavigationBarTitle: (o: Callbacks & { title: string }) => (record.titles.push(o.title), done(o, { errMsg: 'setNavigationBarTitle:ok' })),
      reLaunch: (o: Callbacks & { url: string }) => (record.navigations.push(o.url), done(o, { errMsg: 'reLaunch:ok' })),
      navigateTo: (o: Callbacks & { url: string }) => (record.navigations.push(o.url), done(o, { errMsg: 'navigateTo:ok' })),
      showToast: (o: Callbacks & { title: string }) => (record.toasts.push(o.title), done(o, { errMsg: 'showToast:ok' })),
      showModal: (o: Callbacks & { content?: string }) => (record.modals.push(o.content ?? ''), done(o, { errMsg: 'showModal:ok', confirm: false, cancel: true })),
      request: (o: Callbacks & { url: string; method?: string; data?: unknown; header?: Record<string, string> }) => {
        const req = request(o.url, { method: o.method ?? 'GET', ca, headers: o.header }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let data: unknown = text;
            try {
              data = JSON.parse(text);
            } catch {
              /* text */
            }
            done(o, { statusCode: res.statusCode, data, header: res.headers, errMsg: 'request:ok' });
          });
        });
        req.on('error', (err) => {
          o.fail?.({ errMsg: `request:fail ${err.message}` });
          o.complete?.({ errMsg: 'request:fail' });
        });
        req.end(o.data === undefined ? undefined : typeof o.data === 'string' ? o.data : JSON.stringify(o.data));
        return { abort: () => req.destroy() };
      },
      connectSocket: (o: Callbacks & { url: string }) => {
        // A dead app opens nothing: a task whose callbacks never run.
        if (!alive()) return { send: () => {}, close: () => {}, onOpen: () => {}, onMessage: () => {}, onClose: () => {}, onError: () => {} };
        const number = record.sockets.push(o.url) - 1;
        const times: WxRecord['socketTimes'][number] = {};
        record.socketTimes.push(times);
        const ws = new WebSocket(o.url, { ca });
        openSockets.add(ws);
        ws.on('error', () => {});
        ws.on('open', () => (times.openedAt = Date.now()));
        ws.on('message', (data) => record.received.push({ socket: number, frame: JSON.parse(data.toString()) as Record<string, unknown>, at: Date.now() }));
        ws.on('close', (code) => ((times.closedAt = Date.now()), (times.closeCode = code)));
        // Callbacks of a killed app never run.
        const live = <A extends unknown[]>(cb: (...args: A) => void) => (...args: A) => void (alive() && cb(...args));
        const task = {
          send: (s: Callbacks & { data: string }) => {
            record.sent.push({ socket: number, frame: JSON.parse(s.data) as Record<string, unknown>, at: Date.now() });
            ws.send(s.data);
            done(s, { errMsg: 'sendSocketMessage:ok' });
          },
          close: (c: Callbacks & { code?: number; reason?: string } = {}) => {
            ws.close(c.code ?? 1000, c.reason);
            done(c, { errMsg: 'closeSocket:ok' });
          },
          onOpen: (cb: (res: unknown) => void) => ws.on('open', live(() => cb({ header: {} }))),
          onMessage: (cb: (res: { data: string }) => void) => ws.on('message', live((data: WebSocket.RawData) => cb({ data: data.toString() }))),
          onClose: (cb: (res: { code: number; reason: string }) => void) =>
            ws.on('close', (code: number, reason: Buffer) => (openSockets.delete(ws), alive() && cb({ code, reason: reason.toString() }))),
          onError: (cb: (res: unknown) => void) => ws.on('error', live((err: Error) => cb({ errMsg: String(err) }))),
        };
        setTimeout(() => done(o, { errMsg: 'connectSocket:ok' }), 0);
        return task;
      },
    };
  }
}
