export interface Endpoints {
  /** `wss://host/` for the socket. */
  wsUrl: string;
  /** `https://host` for `POST /api/login`. */
  apiBase: string;
}

export interface EndpointConfig {
  /** VITE_WS_URL: required on the mini-program, which has no page origin. */
  wsUrl?: string;
  /** VITE_API_URL: defaults to the socket's host over https. */
  apiUrl?: string;
}

/** Build configuration first; otherwise the page's own origin (H5 served by the chat server). */
export function resolveEndpoints(config: EndpointConfig, origin?: { protocol: string; host: string }): Endpoints {
  let wsUrl = config.wsUrl?.trim();
  if (!wsUrl) {
    if (!origin?.host) throw new Error("VITE_WS_URL is not set: the mini-program build needs the server's wss:// URL");
    wsUrl = `${origin.protocol === 'http:' ? 'ws' : 'wss'}://${origin.host}/`;
  }
  const apiBase = (config.apiUrl?.trim() || wsUrl.replace(/^ws(s?):\/\//, 'http$1://')).replace(/^(https?:\/\/[^/]+).*$/, '$1');
  return { wsUrl, apiBase };
}
