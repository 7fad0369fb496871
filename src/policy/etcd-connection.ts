// An etcd v3 client tuned for a policy watcher: unary calls end at a deadline and are not retried by the
// library (the caller decides), and both gRPC's channel and the watch stream reconnect within
// `reconnectMaxMs`, so that an agent catches up within about that long after etcd returns. The library's
// defaults (three retries, a five-second circuit breaker, reconnects up to 30 s and gRPC's 120 s) would
// leave an agent on stale policies long after the store is back.
import { ExponentialBackoff, noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';

export interface EtcdConnectionOptions {
  endpoints: readonly string[];
  timeoutMs: number;
  reconnectMaxMs: number;
}

export function connectEtcd({ endpoints, timeoutMs, reconnectMaxMs }: EtcdConnectionOptions): Etcd3 {
  const initialDelay = Math.min(100, reconnectMaxMs);
  return new Etcd3({
    hosts: [...endpoints],
    dialTimeout: timeoutMs,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    grpcOptions: {
      'grpc.initial_reconnect_backoff_ms': initialDelay,
      'grpc.min_reconnect_backoff_ms': initialDelay,
      'grpc.max_reconnect_backoff_ms': reconnectMaxMs,
      // Shared subchannels outlive a closed client's state: a new client to the same target then failed its calls at
      // once ("No connection established") after etcd came back.
      'grpc.use_local_subchannel_pool': 1,
    },
    faultHandling: {
      host: () => noop,
      global: noop,
      watchBackoff: new ExponentialBackoff({ initialDelay, maxDelay: reconnectMaxMs }).next(),
    },
  });
}
