import { initTelemetry, withSpan, injectTraceHeaders } from '@tidemark/common';
initTelemetry('x', undefined);
console.log(await withSpan('a', {}, async () => injectTraceHeaders({})));
