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
}

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
  readonly record: WxRecord = { titles: [], navigations: [], sockets: [], storage: new Map() };
  private readonly openSockets = new Set<WebSocket>();
  private currentRoute = '';
  private simulate!: { load(path: string, options: object): string; render(id: string): SimComponent };
  private readonly pages: SimComponent[] = [];

  constructor(
    readonly root: string,
    private readonly ca: string | undefined,
  ) {}

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
    let appOptions: Record<string, (...args: unknown[]) => unknown> | undefined;
    g.App = (options: typeof appOptions) => (appOptions = options);
    g.getApp = () => appOptions;
    g.getCurrentPages = () => [];
    g.Page = (options: unknown) => options;

    this.simulate = require('miniprogram-simulate');
    // uni tells pages from components by `this.route`, which only WeChat sets; set it for pages.
    const simulatorComponent = g.Component as (options: Record<string, unknown>) => void;
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
      simulatorComponent(options);
    };

    require(join(this.root, 'app.js'));
    if (!appOptions) throw new Error('app.js did not call App()');
    appOptions.onLaunch.call(appOptions, { path: 'pages/login/index', query: {}, scene: 1001 });
    appOptions.onShow?.call(appOptions, { path: 'pages/login/index', query: {}, scene: 1001 });
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
      setStorageSync: (key: string, value: unknown) => void record.storage.set(key, value),
      removeStorageSync: (key: string) => void record.storage.delete(key),
      setStorage: (o: Callbacks & { key: string; data: unknown }) => (record.storage.set(o.key, o.data), done(o, { errMsg: 'setStorage:ok' })),
      onNetworkStatusChange: () => {},
      onAppShow: () => {},
      onAppHide: () => {},
      setNavigationBarTitle: (o: Callbacks & { title: string }) => (record.titles.push(o.title), done(o, { errMsg: 'setNavigationBarTitle:ok' })),
      reLaunch: (o: Callbacks & { url: string }) => (record.navigations.push(o.url), done(o, { errMsg: 'reLaunch:ok' })),
      navigateTo: (o: Callbacks & { url: string }) => (record.navigations.push(o.url), done(o, { errMsg: 'navigateTo:ok' })),
      showToast: (o: Callbacks) => done(o, { errMsg: 'showToast:ok' }),
      showModal: (o: Callbacks) => done(o, { errMsg: 'showModal:ok', confirm: false, cancel: true }),
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
        record.sockets.push(o.url);
        const ws = new WebSocket(o.url, { ca });
        openSockets.add(ws);
        ws.on('error', () => {});
        const task = {
          send: (s: Callbacks & { data: string }) => {
            ws.send(s.data);
            done(s, { errMsg: 'sendSocketMessage:ok' });
          },
          close: (c: Callbacks & { code?: number; reason?: string } = {}) => {
            ws.close(c.code ?? 1000, c.reason);
            done(c, { errMsg: 'closeSocket:ok' });
          },
          onOpen: (cb: (res: unknown) => void) => ws.on('open', () => cb({ header: {} })),
          onMessage: (cb: (res: { data: string }) => void) => ws.on('message', (data) => cb({ data: data.toString() })),
          onClose: (cb: (res: { code: number; reason: string }) => void) =>
            ws.on('close', (code, reason) => (openSockets.delete(ws), cb({ code, reason: reason.toString() }))),
          onError: (cb: (res: unknown) => void) => ws.on('error', (err) => cb({ errMsg: String(err) })),
        };
        setTimeout(() => done(o, { errMsg: 'connectSocket:ok' }), 0);
        return task;
      },
    };
  }
}
