/** The local infrastructure's Jaeger, when it is up: its query URL and its OTLP traces endpoint (null otherwise). */
export async function liveJaeger(): Promise<{ query_url: string; otlp_traces_url: string } | null> {
  try {
    const { infraEndpoints } = await import('@tidemark/local-infra');
    const e = infraEndpoints() as { jaeger_query_url?: string | null; jaeger_otlp_traces_url?: string | null };
    if (!e.jaeger_query_url || !e.jaeger_otlp_traces_url) return null;
    const res = await fetch(`${e.jaeger_query_url}/api/services`, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? { query_url: e.jaeger_query_url, otlp_traces_url: e.jaeger_otlp_traces_url } : null;
  } catch {
    return null;
  }
}
