// Sends Claude-Code-shaped telemetry through the official OpenTelemetry JavaScript
// exporters (the versions Claude Code ships) and prints what was sent as JSON on stdout.
//
// Configured only by the standard environment, as Claude Code is:
//   OTEL_EXPORTER_OTLP_ENDPOINT     base URL; the exporters append /v1/logs, /v1/metrics...
//   OTEL_EXPORTER_OTLP_HEADERS      "Authorization=Bearer mtk_..."
//   OTEL_EXPORTER_OTLP_COMPRESSION  gzip or none
// Exits 1 if any export failed or the exporters logged an error; warnings (a partial
// success, say) are reported in the output for the caller to judge.
//
// Run by tests/test_interop.py: node tests/interop/send.mjs
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';

import { context, diag, DiagLogLevel, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const sent = { requests: [], logs: [], metrics: [], spans: [], warnings: [], errors: [] };

// A flush that never settles would otherwise hang the caller with nothing to read.
const watchdog = setTimeout(() => {
  process.stderr.write(`send.mjs: no end after 30 s; sent so far: ${JSON.stringify(sent)}\n`);
  process.exit(1);
}, 30_000);

// Every message the SDK logs at warn or above, so nothing it complains about goes unseen.
const format = (args) => args.map((arg) => (typeof arg === 'string' ? arg : String(arg))).join(' ');
diag.setLogger({
  error: (...args) => sent.errors.push(format(args)),
  warn: (...args) => sent.warnings.push(format(args)),
  info: () => {},
  debug: () => {},
  verbose: () => {},
}, DiagLogLevel.WARN);

// Record each HTTP request as it went over the wire, with the server's answer. The
// exporters load `request` from node:http lazily, so patching it here is seen by them.
const originalRequest = http.request;
http.request = (...args) => {
  const request = originalRequest(...args);
  const entry = { path: request.path, status: null, response: null };
  request.on('response', (response) => {
    const chunks = [];
    entry.status = response.statusCode;
    response.on('data', (chunk) => chunks.push(chunk));
    response.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      try {
        entry.response = JSON.parse(text);
      } catch {
        entry.response = text;
      }
    });
  });
  request.on('finish', () => {
    entry.contentType = request.getHeader('content-type') ?? null;
    entry.contentEncoding = request.getHeader('content-encoding') ?? null;
    entry.contentLength = request.getHeader('content-length') ?? null;
    entry.userAgent = request.getHeader('user-agent') ?? null;
  });
  sent.requests.push(entry);
  return request;
};
syncBuiltinESMExports();

// Record what each export carried once the exporter reports success; a failure is an
// error. The callback always reaches the SDK, or a flush would wait for it forever.
function watch(exporter, signal, describe) {
  const exportItems = exporter.export.bind(exporter);
  exporter.export = (items, resultCallback) => exportItems(items, (result) => {
    try {
      if (result.code === ExportResultCode.SUCCESS) {
        sent[signal].push(...describe(items));
      } else {
        sent.errors.push(`${signal} export failed: ${result.error?.message ?? result.error}`);
      }
    } catch (error) {
      sent.errors.push(`${signal}: cannot describe what was sent: ${error.stack}`);
    } finally {
      resultCallback(result);
    }
  });
  return exporter;
}

// Wait for flushes or shutdowns; one that rejects (a metric export failed) is an error.
const settle = (...promises) => Promise.allSettled(promises).then((results) => results
  .filter((result) => result.status === 'rejected')
  .forEach((result) => sent.errors.push(String(result.reason?.stack ?? result.reason))));

// HrTime [seconds, nanoseconds] as the decimal string OTLP/JSON uses for 64-bit integers.
const nanos = ([seconds, nanoseconds]) =>
  (BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)).toString();
const TEMPORALITY = {
  [AggregationTemporality.DELTA]: 'delta',
  [AggregationTemporality.CUMULATIVE]: 'cumulative',
};

const sessionId = randomUUID();
const prompt = `Refactor the billing module and keep the tests green (${randomUUID()})`;
const resource = resourceFromAttributes({
  'service.name': 'claude-code',
  'service.version': '2.1.328',
  'os.type': 'linux',
  'host.arch': 'amd64',
  department: 'platform',
});
const common = {
  'session.id': sessionId,
  'user.id': 'a3f1c0de5eed',
  'user.email': 'dev@example.com',
  'organization.id': '5a1e0b7c-0000-4000-8000-000000000001',
  'terminal.type': 'vscode',
};

// Logs: the events of one prompt, as Claude Code emits them.
const describeLogs = (records) => records.map((record) => ({
  eventName: record.attributes['event.name'],
  sessionId: record.attributes['session.id'],
  timeUnixNano: nanos(record.hrTime),
  attributes: record.attributes,
}));
const loggerProvider = new LoggerProvider({
  resource,
  processors: [new BatchLogRecordProcessor(watch(new OTLPLogExporter(), 'logs', describeLogs))],
});
const events = [
  { 'event.name': 'user_prompt', prompt, prompt_length: prompt.length },
  {
    'event.name': 'api_request', model: 'claude-sonnet-4-5', cost_usd: 0.0125, duration_ms: 2310,
    input_tokens: 1200, output_tokens: 340, cache_read_tokens: 5000, cache_creation_tokens: 0,
  },
  { 'event.name': 'tool_decision', tool_name: 'Bash', decision: 'accept', source: 'config' },
  { 'event.name': 'tool_result', tool_name: 'Bash', success: 'true', duration_ms: 41 },
];
const logger = loggerProvider.getLogger('com.anthropic.claude_code.events', '2.1.328');
events.forEach((attributes, sequence) => {
  const now = new Date();
  logger.emit({
    body: `claude_code.${attributes['event.name']}`,
    timestamp: now,
    attributes: {
      ...common, ...attributes, 'event.timestamp': now.toISOString(), 'event.sequence': sequence,
    },
  });
});

// Metrics: counters with delta temporality (Claude Code's default) and an up-down counter,
// which the delta preference still exports as cumulative, so one request holds both; then
// a counter from an exporter set to cumulative. Two collections show how each evolves.
function meterProvider(temporalityPreference) {
  const exporter = new OTLPMetricExporter({ temporalityPreference });
  // A metric export carries one ResourceMetrics; logs and spans exports carry arrays.
  const describe = (resourceMetrics) => resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics.flatMap((metric) => metric.dataPoints.map((point) => ({
      name: metric.descriptor.name,
      temporality: TEMPORALITY[metric.aggregationTemporality],
      monotonic: metric.isMonotonic,
      value: point.value,
      startTimeUnixNano: nanos(point.startTime),
      timeUnixNano: nanos(point.endTime),
      attributes: point.attributes,
    }))));
  return new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({
      exporter: watch(exporter, 'metrics', describe),
      exportIntervalMillis: 60_000,
    })],
  });
}
const deltaProvider = meterProvider(AggregationTemporalityPreference.DELTA);
const cumulativeProvider = meterProvider(AggregationTemporalityPreference.CUMULATIVE);
const meter = deltaProvider.getMeter('com.anthropic.claude_code', '2.1.328');
const cost = meter.createCounter('claude_code.cost.usage', { unit: 'USD' });
const tokens = meter.createCounter('claude_code.token.usage', { unit: 'tokens' });
const activeTools = meter.createUpDownCounter('claude_code.tools.active', { unit: '1' });
const linesOfCode = cumulativeProvider.getMeter('com.anthropic.claude_code', '2.1.328')
  .createCounter('claude_code.lines_of_code.count', { unit: '1' });

const model = { ...common, model: 'claude-sonnet-4-5' };
cost.add(0.0125, model);
tokens.add(1200, { ...model, type: 'input' });
tokens.add(340, { ...model, type: 'output' });
activeTools.add(2, common);
linesOfCode.add(12, { ...common, type: 'added' });
await settle(deltaProvider.forceFlush(), cumulativeProvider.forceFlush());
cost.add(0.5, model);
activeTools.add(-1, common);
linesOfCode.add(3, { ...common, type: 'added' });
await settle(deltaProvider.forceFlush(), cumulativeProvider.forceFlush());

// Traces: an interaction with a model request and a tool call under it.
const describeSpans = (spans) => spans.map((span) => ({
  traceId: span.spanContext().traceId,
  spanId: span.spanContext().spanId,
  parentSpanId: span.parentSpanContext?.spanId ?? null,
  name: span.name,
}));
const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(watch(new OTLPTraceExporter(), 'spans', describeSpans))],
});
const tracer = tracerProvider.getTracer('com.anthropic.claude_code.tracing', '2.1.328');
const interaction = tracer.startSpan('claude_code.interaction', {
  attributes: { ...common, 'span.type': 'interaction', user_prompt: prompt },
});
const inside = trace.setSpan(context.active(), interaction);
tracer.startSpan('claude_code.llm_request', {
  attributes: { ...model, 'span.type': 'llm_request', input_tokens: 1200, output_tokens: 340 },
}, inside).end();
tracer.startSpan('claude_code.tool', {
  attributes: { ...common, 'span.type': 'tool', tool_name: 'Bash' },
}, inside).end();
interaction.end();

await settle(loggerProvider.shutdown(), deltaProvider.shutdown(), cumulativeProvider.shutdown(),
  tracerProvider.shutdown());

clearTimeout(watchdog);
process.stdout.write(`${JSON.stringify({ sessionId, prompt, ...sent }, null, 1)}\n`);
process.exitCode = sent.errors.length ? 1 : 0;
