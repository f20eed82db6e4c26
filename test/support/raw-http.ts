/*
 * HTTP answers read off a raw TCP socket, for suites that write requests byte by byte (slow
 * bodies, oversized heads, bodies refused before they are read) where an HTTP client would hide
 * what the server did.
 */

/** One HTTP answer as received: its status, its headers (lower-case names) and its body. */
export interface RawHttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The answer in `bytes` (what came, when the connection ended early: status 0 without a status line). */
export function parseHttpAnswer(bytes: Buffer, encoding: BufferEncoding): RawHttpAnswer {
  const text = bytes.toString(encoding);
  const headEnd = text.indexOf('\r\n\r\n');
  const head = headEnd === -1 ? text : text.slice(0, headEnd);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: headEnd === -1 ? '' : text.slice(headEnd + 4) };
}

/** Whether `bytes` hold a whole answer by its content-length (a kept-alive connection does not close after one). */
export function isWholeAnswer(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  const length = /\r\ncontent-length: *(\d+)/i.exec(text);
  const headEnd = text.indexOf('\r\n\r\n');
  return length !== null && headEnd !== -1 && text.length - (headEnd + 4) >= Number(length[1]);
}
