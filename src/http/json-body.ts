/**
 * Apollo's JSON response bodies as one Buffer, byte for byte what Apollo's default
 * `stringifyResult` makes (`JSON.stringify(result) + '\n'`), without the two whole copies of the
 * text that path costs a large answer: the appended newline makes a cons string, which Fastify's
 * `Buffer.byteLength` flattens into a new string, and Node's `OutgoingMessage` prepends the
 * header block to a string body, another concatenation flattened when it is written. For the
 * 50-ticket list page that was 2 × 184 KB of heap per request, a sixth of what it allocates
 * (docs/performance.md, "Sixth round"). Here the flat text from `JSON.stringify` is encoded
 * once into a Buffer outside the heap, with the newline written after it, and the header block
 * travels beside it (`writev`).
 */

/** Apollo's `stringifyResult`: the JSON text, the newline added by {@link withNewline}. */
export const stringifyResult = (value: unknown): string => JSON.stringify(value);

/** The media types Apollo answers a single JSON result with (`chooseContentTypeForSingleResultResponse`). */
const JSON_MEDIA_TYPE = /^application\/(graphql-response\+)?json\b/;

/**
 * The body Apollo's default would have sent for a text that {@link stringifyResult} made:
 * the text and `\n`, UTF-8, as a Buffer. `contentType` tells Apollo's JSON answers (results and
 * errors alike, every one made by `stringifyResult`) from its other complete bodies (the landing
 * page's HTML), which pass unchanged.
 */
export function withNewline(payload: unknown, contentType: unknown): unknown {
  if (typeof payload !== 'string' || typeof contentType !== 'string' || !JSON_MEDIA_TYPE.test(contentType)) return payload;
  const length = Buffer.byteLength(payload);
  const body = Buffer.allocUnsafe(length + 1);
  body.write(payload, 0, length, 'utf8');
  body[length] = 0x0a;
  return body;
}
