export interface ToxiproxyProxy {
  /** host:port the proxy listens on (127.0.0.1) */
  listen: string;
  /** ms added in each direction; 0 removes the latency */
  latency(ms: number): Promise<void>;
  /** every byte dropped both ways, no connection closed, until heal() — which closes the connections the cut held */
  cut(): Promise<void>;
  heal(): Promise<void>;
  /** every connection closed and new ones refused until up() */
  down(): Promise<void>;
  up(): Promise<void>;
  remove(): Promise<void>;
}
export interface ToxiproxyServer {
  api: string;
  stop(): Promise<void>;
  proxy(name: string, upstream: string): Promise<ToxiproxyProxy>;
}
export declare function ensureToxiproxy(): Promise<string>;
export declare function startToxiproxy(): Promise<ToxiproxyServer>;
