/// <reference types="vite/client" />

declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

interface ImportMetaEnv {
  /** The server's socket URL, e.g. wss://chat.example.com/ (required for mp-weixin; H5 defaults to its origin). */
  readonly VITE_WS_URL?: string;
  /** The HTTP base for /api/login; defaults to the socket URL's host over https. */
  readonly VITE_API_URL?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
