declare module 'autocannon' {
  interface Result {
    requests: { average: number; mean: number; total: number; p50: number; p97_5: number };
    latency: { p50: number; p97_5: number; p99: number; average: number; max: number };
    throughput: { average: number };
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
    duration: number;
  }
  function autocannon(opts: Record<string, unknown>): Promise<Result>;
  namespace autocannon {
    function printResult(result: Result, opts?: Record<string, unknown>): string;
  }
  export default autocannon;
}
