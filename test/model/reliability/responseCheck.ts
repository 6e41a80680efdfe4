import { errorOf, type RawResponse } from './rawHttp.js';

/**
 * The statuses the server documents (README "HTTP server", src/server/httpErrors.ts's table and
 * httpLimits.ts's refusals). Anything else, a 500 above all, fails the property.
 */
export const DOCUMENTED_STATUSES = new Set([200, 201, 204, 400, 401, 403, 404, 408, 409, 413, 414, 415, 417, 431, 499, 501, 503, 504]);

/**
 * Codes that mean "the server failed", not "the request was wrong": a 500's code, and what an
 * actor that crashed (threw something untyped) reports mid-stream.
 */
export const FAILURE_CODES = new Set(['INTERNAL_ERROR', 'ACTOR_FAILED']);

/** Methods node:http answers by closing the connection (no `connect` listener): not ours to code. */
const CLOSE_IS_AN_ANSWER = new Set(['CONNECT']);

/** One server-sent event. */
interface SseEvent {
  event: string | undefined;
  data: string;
}

function sseEvents(body: Buffer): SseEvent[] {
  return body
    .toString('utf8')
    .split('\n\n')
    .filter((block) => block.trim().length > 0)
    .map((block) => {
      const lines = block.split('\n');
      return {
        event: lines.find((l) => l.startsWith('event: '))?.slice(7),
        data: lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'),
      };
    });
}

/** What is wrong with an SSE body: an error event of a failure code, or no terminal event. */
function streamProblem(body: Buffer): string | undefined {
  const events = sseEvents(body);
  for (const { event, data } of events) {
    let parsed: { code?: string; error?: { code?: string } } | undefined;
    try {
      parsed = data === '[DONE]' ? undefined : (JSON.parse(data) as typeof parsed);
    } catch {
      return `SSE data is not JSON: ${data.slice(0, 200)}`;
    }
    const code = event === 'error' ? parsed?.code : parsed?.error?.code;
    if (code !== undefined && FAILURE_CODES.has(code)) return `stream ended with a failure: ${data.slice(0, 300)}`;
  }
  const last = events.at(-1);
  const terminal = last !== undefined && (last.event === 'done' || last.event === 'error' || last.data === '[DONE]' || last.data.includes('"error":{'));
  return terminal ? undefined : `stream has no terminal event (last: ${JSON.stringify(last)?.slice(0, 200)})`;
}

/**
 * What is wrong with `response` to a request of `method` on `route`, or undefined if it keeps the
 * server's promises: an answer, a documented status, a coded JSON body on every error (with
 * `Retry-After` on a 503), JSON that parses on success, and streams that end properly.
 */
export function responseProblem(method: string, route: string, response: RawResponse): string | undefined {
  if (response.outcome === 'timeout') return 'no answer in time (a hang)';
  if (response.outcome === 'closed') return CLOSE_IS_AN_ANSWER.has(method.toUpperCase()) ? undefined : 'connection closed without an answer';
  const { status, headers, body } = response;
  if (!DOCUMENTED_STATUSES.has(status)) return `status ${status} is not documented: ${body.subarray(0, 300).toString('utf8')}`;
  const head = method.toUpperCase() === 'HEAD';
  const type = headers['content-type'] ?? '';
  if (status >= 400) {
    // /health's 503 ("a model is loading") is a report, not an error body.
    if (route === 'GET /health' && status === 503 && type.includes('application/json') && !head) return undefined;
    if (head) return type.includes('application/json') ? undefined : `error to HEAD has content-type ${JSON.stringify(type)}`;
    const error = errorOf(response);
    if (typeof error === 'string') return `status ${status}: ${error}`;
    if (FAILURE_CODES.has(error.code)) return `status ${status} with failure code ${error.code}: ${error.message}`;
    if (status === 503 && headers['retry-after'] === undefined) return `503 ${error.code} without Retry-After`;
    return undefined;
  }
  if (head || status === 204) return undefined;
  if (type.includes('text/event-stream')) return streamProblem(body);
  if (type.includes('application/json')) {
    try {
      JSON.parse(body.toString('utf8'));
    } catch {
      return `status ${status} body is not JSON: ${body.subarray(0, 200).toString('utf8')}`;
    }
  }
  return undefined;
}
