export { createMetrics, type Metrics } from './metrics.js';
export { koaMetrics, koaMetricsEndpoint } from './koa-metrics.js';
